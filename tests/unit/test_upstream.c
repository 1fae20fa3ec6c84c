/*
 * test_upstream.c — the upstream HTTP/1.1 client and its keep-alive pool,
 * against a tiny scripted server on 127.0.0.1 running in the same libuv loop.
 *
 * The server reads a request (head + Content-Length body), then plays the
 * script chosen for that request's number (0, 1, 2, ... across connections):
 * send bytes, wait, close, reset, stop reading. Every client callback checks
 * that it is not called from inside an ig_upstream_* entry point and never
 * after on_done or cancel.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util/hash.h"
#include <uv.h>

#include "ig_test.h"
#include "upstream/upstream.h"
#include "upstream/upstream_conn.h"

static uv_loop_t *loop;
static int in_api; /* > 0 while the test is inside an ig_upstream_* call */

/* ---- the scripted server --------------------------------------------------------------------------- */

enum { S_END, S_SEND, S_WAIT, S_CLOSE, S_RESET, S_STOP_READING };

typedef struct {
    int kind;
    const char *data;
    size_t len;
    unsigned ms;
} step_t;

#define SEND(s) {S_SEND, (s), sizeof(s) - 1, 0}
#define WAIT(ms) {S_WAIT, NULL, 0, (ms)}
#define CLOSE {S_CLOSE, NULL, 0, 0}
#define RESET {S_RESET, NULL, 0, 0}
#define STOP_READING {S_STOP_READING, NULL, 0, 0}
#define END {S_END, NULL, 0, 0}

#define MAX_SCONNS 16

typedef struct srv_s srv_t;

typedef struct {
    uv_tcp_t tcp;
    uv_timer_t timer;
    srv_t *srv;
    char *buf;
    size_t len, cap;
    int index;          /* accept order */
    const step_t *steps; /* script being played, NULL between requests */
    int step;
    int closing;
    int handles;
} sconn_t;

struct srv_s {
    uv_tcp_t listener;
    int port;
    int accepts;
    int requests;           /* complete requests received */
    int eofs;               /* connections the client closed */
    int sends;              /* S_SEND steps done */
    int respond_on_head;    /* play the script as soon as the head is in */
    const step_t *scripts[8];
    int nscripts;
    int req_conn[16];       /* connection index of request i */
    char *last_request;
    size_t last_request_len;
    sconn_t *conns[MAX_SCONNS];
};

static void sconn_run(sconn_t *c);

static void sconn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data;
    if (--c->handles == 0) {
        for (int i = 0; i < MAX_SCONNS; i++)
            if (c->srv->conns[i] == c)
                c->srv->conns[i] = NULL;
        free(c->buf);
        free(c);
    }
}

static void sconn_close(sconn_t *c, int reset)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (reset)
        uv_tcp_close_reset(&c->tcp, sconn_closed);
    else
        uv_close((uv_handle_t *)&c->tcp, sconn_closed);
    uv_close((uv_handle_t *)&c->timer, sconn_closed);
}

static void swrite_done(uv_write_t *w, int status)
{
    free(w);
}

/* Length of a complete request at the start of c->buf, or 0. */
static size_t request_length(srv_t *srv, const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    if (srv->respond_on_head)
        return head;
    size_t cl = 0;
    const char *p = memmem(buf, head, "\r\nContent-Length: ", 18);
    if (p != NULL)
        cl = strtoul(p + 18, NULL, 10);
    return len >= head + cl ? head + cl : 0;
}

static void sconn_check_request(sconn_t *c)
{
    srv_t *srv = c->srv;
    if (c->steps != NULL || c->closing)
        return;
    size_t n = request_length(srv, c->buf, c->len);
    if (n == 0)
        return;
    free(srv->last_request);
    srv->last_request = malloc(n + 1);
    memcpy(srv->last_request, c->buf, n);
    srv->last_request[n] = '\0';
    srv->last_request_len = n;
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
    int i = srv->requests++;
    if (i < 16)
        srv->req_conn[i] = c->index;
    c->steps = srv->scripts[i < srv->nscripts ? i : srv->nscripts - 1];
    c->step = 0;
    sconn_run(c);
}

static void sconn_timer(uv_timer_t *t)
{
    sconn_run(t->data);
}

static void sconn_run(sconn_t *c)
{
    while (c->steps != NULL && !c->closing) {
        const step_t *s = &c->steps[c->step++];
        switch (s->kind) {
        case S_SEND: {
            uv_write_t *w = malloc(sizeof(*w));
            uv_buf_t b = uv_buf_init((char *)s->data, (unsigned)s->len);
            uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, swrite_done);
            c->srv->sends++;
            break;
        }
        case S_WAIT:
            uv_timer_start(&c->timer, sconn_timer, s->ms, 0);
            return;
        case S_CLOSE:
            sconn_close(c, 0);
            return;
        case S_RESET:
            sconn_close(c, 1);
            return;
        case S_STOP_READING:
            uv_read_stop((uv_stream_t *)&c->tcp);
            break;
        default:
            c->steps = NULL;
            sconn_check_request(c); /* the next request may be buffered already */
            return;
        }
    }
}

static void salloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    sconn_t *c = h->data;
    if (c->cap - c->len < 65536) {
        c->cap = c->cap * 2 + 65536;
        c->buf = realloc(c->buf, c->cap);
    }
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(c->cap - c->len));
}

static void sread(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    sconn_t *c = s->data;
    if (nread < 0) {
        c->srv->eofs++;
        sconn_close(c, 0);
        return;
    }
    c->len += (size_t)nread;
    sconn_check_request(c);
}

static void saccept(uv_stream_t *l, int status)
{
    srv_t *srv = l->data;
    sconn_t *c = calloc(1, sizeof(*c));
    c->srv = srv;
    c->index = srv->accepts++;
    uv_tcp_init(loop, &c->tcp);
    uv_timer_init(loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    uv_accept(l, (uv_stream_t *)&c->tcp);
    for (int i = 0; i < MAX_SCONNS; i++)
        if (srv->conns[i] == NULL) {
            srv->conns[i] = c;
            break;
        }
    uv_read_start((uv_stream_t *)&c->tcp, salloc, sread);
}

/* Listens on 127.0.0.1 (or ::1) with an ephemeral port; -1 if that address is not available here. */
static int srv_start_on(srv_t *srv, int ipv6)
{
    struct sockaddr_storage sa, bound;
    int n = sizeof(bound);
    memset(srv, 0, sizeof(*srv));
    if (ipv6)
        uv_ip6_addr("::1", 0, (struct sockaddr_in6 *)&sa);
    else
        uv_ip4_addr("127.0.0.1", 0, (struct sockaddr_in *)&sa);
    uv_tcp_init(loop, &srv->listener);
    srv->listener.data = srv;
    if (uv_tcp_bind(&srv->listener, (const struct sockaddr *)&sa, 0) != 0 ||
        uv_listen((uv_stream_t *)&srv->listener, 64, saccept) != 0) {
        uv_close((uv_handle_t *)&srv->listener, NULL);
        uv_run(loop, UV_RUN_NOWAIT);
        return -1;
    }
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &n);
    srv->port = ntohs(ipv6 ? ((struct sockaddr_in6 *)&bound)->sin6_port : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

static void srv_start(srv_t *srv)
{
    srv_start_on(srv, 0);
}

static void srv_stop(srv_t *srv)
{
    uv_close((uv_handle_t *)&srv->listener, NULL);
    for (int i = 0; i < MAX_SCONNS; i++)
        if (srv->conns[i] != NULL)
            sconn_close(srv->conns[i], 0);
}

/* ---- the loop ------------------------------------------------------------------------------------- */

static int timed_out;

static void on_guard(uv_timer_t *t)
{
    timed_out = 1;
    uv_stop(loop);
}

static const int *wait_flag;
static int wait_want;

/* Runs before the loop blocks: stops it once the flag is set (by a timer callback, say) instead of polling on. */
static void on_prepare(uv_prepare_t *p)
{
    if (*wait_flag >= wait_want)
        uv_stop(loop);
}

/* Runs the loop until *flag >= want, at most timeout_ms. */
static int wait_for(const int *flag, int want, unsigned timeout_ms)
{
    uv_timer_t guard;
    uv_prepare_t prepare;
    timed_out = 0;
    wait_flag = flag;
    wait_want = want;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, timeout_ms, 0);
    uv_prepare_init(loop, &prepare);
    uv_prepare_start(&prepare, on_prepare);
    while (*flag < want && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_close((uv_handle_t *)&prepare, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag >= want;
}

static void run_for(unsigned ms)
{
    int never = 0;
    wait_for(&never, 1, ms);
}

/* Everything closed and freed: the pool, the server, every connection (ASan reports leaks). */
static void teardown(ig_upstream_pool_t *pool, srv_t *srv)
{
    uv_timer_t guard;
    ig_upstream_pool_close(pool);
    srv_stop(srv);
    free(srv->last_request);
    srv->last_request = NULL;
    timed_out = 0;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, on_guard, 5000, 0);
    uv_unref((uv_handle_t *)&guard); /* fires only if something else keeps the loop alive */
    uv_run(loop, UV_RUN_DEFAULT);
    CHECKF(!timed_out, "teardown: handles still open after pool close");
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* ---- the client side ------------------------------------------------------------------------------ */

typedef struct client_s {
    ig_upstream_req_t *req;
    int heads, status, done, body_calls, cancelled;
    ig_upstream_result_t result;
    char *body;
    size_t blen, bcap;
    char content_type[64];
    int cancel_at_head, cancel_at_body, pause_at_body;
    int paused;                /* pause_at_body: paused and not yet resumed */
    int sends_at_body[16];     /* server sends completed when each body span arrived */
    srv_t *srv;
    uint64_t done_at;
    uint64_t data_at;          /* loop time of the last head or body callback */
    void (*on_done_hook)(struct client_s *);
    void (*on_head_hook)(struct client_s *);
} client_t;

static void c_head(void *data, int status, const ig_upstream_header_t *h, size_t n)
{
    client_t *c = data;
    CHECKF(in_api == 0, "on_head called from inside an entry point");
    CHECKF(!c->done && !c->cancelled, "on_head after the end");
    c->heads++;
    c->status = status;
    c->data_at = uv_now(loop);
    for (size_t i = 0; i < n; i++)
        if (h[i].name.len == 12 && strncasecmp(h[i].name.ptr, "content-type", 12) == 0)
            snprintf(c->content_type, sizeof(c->content_type), "%.*s", (int)h[i].value.len, h[i].value.ptr);
    if (c->cancel_at_head) {
        in_api++;
        ig_upstream_cancel(c->req);
        in_api--;
        c->cancelled = 1;
    }
    if (c->on_head_hook)
        c->on_head_hook(c);
}

static void c_body(void *data, const char *p, size_t len)
{
    client_t *c = data;
    CHECKF(in_api == 0, "on_body called from inside an entry point");
    CHECKF(!c->done && !c->cancelled, "on_body after the end");
    CHECKF(!c->paused, "on_body while paused");
    CHECKF(c->heads == 1, "on_body before on_head");
    if (c->body_calls < 16 && c->srv)
        c->sends_at_body[c->body_calls] = c->srv->sends;
    c->body_calls++;
    c->data_at = uv_now(loop);
    if (c->blen + len > c->bcap) {
        c->bcap = (c->blen + len) * 2;
        c->body = realloc(c->body, c->bcap);
    }
    memcpy(c->body + c->blen, p, len);
    c->blen += len;
    if (c->cancel_at_body) {
        in_api++;
        ig_upstream_cancel(c->req);
        in_api--;
        c->cancelled = 1;
    } else if (c->pause_at_body) {
        in_api++;
        ig_upstream_pause(c->req);
        in_api--;
        c->paused = 1;
    }
}

static void c_done(void *data, ig_upstream_result_t result)
{
    client_t *c = data;
    CHECKF(in_api == 0, "on_done called from inside an entry point");
    CHECKF(!c->done, "on_done twice");
    CHECKF(!c->cancelled, "on_done after cancel");
    c->done++;
    c->result = result;
    c->done_at = uv_now(loop);
    if (c->on_done_hook)
        c->on_done_hook(c);
}

static const ig_upstream_callbacks_t callbacks = {c_head, c_body, c_done};

typedef struct {
    ig_endpoint_t ep;
    char host_header[64];
} test_ep_t;

static void ep_init(test_ep_t *t, const char *host, int port, uint32_t id)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->host_header, sizeof(t->host_header), "%s:%d", host, port);
    t->ep.host = (char *)host;
    t->ep.host_header = t->host_header;
    t->ep.port = (uint16_t)port;
    t->ep.id = id;
}

static ig_upstream_limits_t limits(void)
{
    return (ig_upstream_limits_t){.connect_timeout_ms = 2000, .first_byte_timeout_ms = 2000,
                                  .idle_timeout_ms = 2000, .max_idle_per_endpoint = 8,
                                  .keepalive_timeout_ms = 10000};
}

static const ig_str_t hello_body[] = {{"hel", 3}, {"lo", 2}};
static const ig_upstream_header_t json_headers[] = {{{"Content-Type", 12}, {"application/json", 16}}};

static ig_upstream_req_t *start(ig_upstream_pool_t *pool, test_ep_t *ep, client_t *c, srv_t *srv)
{
    ig_upstream_request_t r = {
        .endpoint = &ep->ep,
        .method = IG_STR("POST"),
        .path = IG_STR("/v1/chat/completions"),
        .headers = json_headers,
        .nheaders = 1,
        .body = hello_body,
        .nbody = 2,
    };
    c->srv = srv;
    in_api++;
    c->req = ig_upstream_start(pool, &r, &callbacks, c);
    in_api--;
    CHECK(c->req != NULL);
    return c->req;
}

static void client_free(client_t *c)
{
    free(c->body);
    c->body = NULL;
}

static int body_is(const client_t *c, const char *s)
{
    return c->blen == strlen(s) && memcmp(c->body, s, c->blen) == 0;
}

#define OK_HELLO "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello"

static unsigned idle_count(const ig_upstream_pool_t *pool, uint32_t id)
{
    return id < pool->nidle ? pool->idle[id].count : 0;
}

/* ---- the tests ------------------------------------------------------------------------------------ */

static ig_upstream_pool_t *hook_pool;
static test_ep_t *hook_ep;
static client_t *hook_next;

static void start_next_request(client_t *c)
{
    start(hook_pool, hook_ep, hook_next, c->srv);
}

static void test_keepalive_reuse(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0}, c = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 3);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);

    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && a.status == 200 && a.heads == 1);
    CHECK(body_is(&a, "hello"));
    CHECK(strcmp(a.content_type, "application/json") == 0);
    char want[256];
    snprintf(want, sizeof(want),
             "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Length: 5\r\n"
             "Content-Type: application/json\r\n\r\nhello",
             srv.port);
    CHECKF(srv.last_request && strcmp(srv.last_request, want) == 0, "request sent:\n%s", srv.last_request);

    /* second request after the first is over; third started from inside the second's on_done */
    hook_pool = pool;
    hook_ep = &ep;
    hook_next = &c;
    b.on_done_hook = start_next_request;
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&c.done, 1, 3000));
    CHECK(b.result == IG_UPSTREAM_OK && body_is(&b, "hello"));
    CHECK(c.result == IG_UPSTREAM_OK && body_is(&c, "hello"));
    CHECKF(srv.accepts == 1, "accepts %d, want 1 (keep-alive)", srv.accepts);
    CHECK(srv.requests == 3);
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
    client_free(&c);
}

static void test_get_request(void)
{
    static const step_t resp[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "localhost", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    /* the client's own headers win over a caller's Host, Content-Length, Connection */
    static const ig_upstream_header_t hdrs[] = {{IG_STR("Host"), IG_STR("evil")},
                                                {IG_STR("Accept"), IG_STR("application/json")},
                                                {IG_STR("connection"), IG_STR("close")},
                                                {IG_STR("Content-Length"), IG_STR("7")}};
    ig_upstream_request_t r = {.endpoint = &ep.ep, .method = IG_STR("GET"), .path = IG_STR("/v1/models"),
                               .headers = hdrs, .nheaders = 4};
    in_api++;
    a.req = ig_upstream_start(pool, &r, &callbacks, &a);
    in_api--;
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "{}"));
    char want[256];
    snprintf(want, sizeof(want), "GET /v1/models HTTP/1.1\r\nHost: localhost:%d\r\nAccept: application/json\r\n\r\n",
             srv.port);
    CHECKF(srv.last_request && strcmp(srv.last_request, want) == 0, "request sent:\n%s", srv.last_request);
    teardown(pool, &srv);
    client_free(&a);
}

/* A request the client must not put on the wire fails, from the loop, without connecting. */
static void test_invalid_request(void)
{
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    static const ig_upstream_header_t hdrs[] = {{IG_STR("X-Evil"), IG_STR("a\r\nInjected: 1")}};
    ig_upstream_request_t r = {.endpoint = &ep.ep, .method = IG_STR("POST"), .path = IG_STR("/x"),
                               .headers = hdrs, .nheaders = 1};
    in_api++;
    a.req = ig_upstream_start(pool, &r, &callbacks, &a);
    in_api--;
    CHECK(a.req != NULL && a.done == 0);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_PROTOCOL_ERROR);
    CHECK(srv.accepts == 0);
    teardown(pool, &srv);
}

static void test_idle_close_noticed(void)
{
    static const step_t resp_then_close[] = {SEND(OK_HELLO), WAIT(20), CLOSE, END};
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp_then_close;
    srv.scripts[1] = resp;
    srv.nscripts = 2;
    ep_init(&ep, "127.0.0.1", srv.port, 1);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    run_for(100); /* the idle connection sees the close and leaves the pool */
    CHECK(idle_count(pool, 1) == 0);
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && b.result == IG_UPSTREAM_OK && body_is(&b, "hello"));
    CHECK(srv.accepts == 2 && srv.requests == 2);
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
}

/* The engine closes a kept-alive connection just as our request arrives: retried once, transparently. */
static void test_retry_on_reused(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    static const step_t drop[] = {CLOSE, END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.scripts[1] = drop;
    srv.scripts[2] = resp;
    srv.nscripts = 3;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECKF(b.result == IG_UPSTREAM_OK, "result %s", ig_upstream_result_str(b.result));
    CHECK(body_is(&b, "hello") && b.heads == 1);
    CHECK(srv.accepts == 2 && srv.requests == 3);
    CHECK(srv.req_conn[1] == 0 && srv.req_conn[2] == 1);
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
}

/* Retried only once, and only on a reused connection. */
static void test_retry_limits(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    static const step_t drop[] = {CLOSE, END};
    static const step_t reset[] = {RESET, END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0}, c = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = drop;  /* fresh connection: no retry */
    srv.scripts[1] = resp;
    srv.scripts[2] = reset; /* reused: retried ... */
    srv.scripts[3] = drop;  /* ... once */
    srv.nscripts = 4;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_RESET_BEFORE_HEAD, "result %s", ig_upstream_result_str(a.result));
    CHECK(srv.accepts == 1);
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(b.result == IG_UPSTREAM_OK);
    start(pool, &ep, &c, &srv);
    CHECK(wait_for(&c.done, 1, 3000));
    CHECKF(c.result == IG_UPSTREAM_RESET_BEFORE_HEAD, "result %s", ig_upstream_result_str(c.result));
    CHECK(srv.accepts == 3 && srv.requests == 4);
    teardown(pool, &srv);
    client_free(&b);
}

static void test_connect_refused(void)
{
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    int port = srv.port;
    srv_stop(&srv);
    uv_run(loop, UV_RUN_NOWAIT);
    ep_init(&ep, "127.0.0.1", port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(a.done == 0);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_CONNECT_FAILED, "result %s", ig_upstream_result_str(a.result));
    CHECK(a.heads == 0);
    ig_upstream_pool_close(pool);
    uv_run(loop, UV_RUN_DEFAULT);
}

/* Names are not resolved: the failure comes from the loop, not from inside start. */
static void test_not_an_ip(void)
{
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    ep_init(&ep, "engine.example", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(a.done == 0);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_CONNECT_FAILED);
    teardown(pool, &srv);
}

/*
 * Connect timeout: a listener with a full accept queue (never accepting) makes
 * Linux drop further SYNs, so the connect hangs.
 */
static void on_fill_connect(uv_connect_t *req, int status)
{
}

static void test_connect_timeout(void)
{
    uv_tcp_t fill[4];
    uv_connect_t creqs[4];
    struct sockaddr_in sa;
    socklen_t n = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
    listen(fd, 0); /* never accepted */
    getsockname(fd, (struct sockaddr *)&sa, &n);
    int port = ntohs(sa.sin_port);
    for (int i = 0; i < 4; i++) {
        uv_tcp_init(loop, &fill[i]);
        uv_tcp_connect(&creqs[i], &fill[i], (const struct sockaddr *)&sa, on_fill_connect);
    }
    run_for(50);

    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    lim.connect_timeout_ms = 150;
    ep_init(&ep, "127.0.0.1", port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    uint64_t t0 = uv_now(loop);
    start(pool, &ep, &a, NULL);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_CONNECT_TIMEOUT, "result %s (the full-accept-queue trick may not hold here)",
           ig_upstream_result_str(a.result));
    CHECK(a.done_at - t0 >= 140);
    ig_upstream_pool_close(pool);
    for (int i = 0; i < 4; i++)
        uv_close((uv_handle_t *)&fill[i], NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    close(fd);
}

static void test_first_byte_timeout(void)
{
    /* the server never answers while the test runs (the wait below ends long before): only the
     * timer can end the request, so the result alone shows it fired, whatever the machine's load */
    static const step_t silent[] = {WAIT(600000), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    lim.first_byte_timeout_ms = 100;
    srv_start(&srv);
    srv.scripts[0] = silent;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    uint64_t t0 = uv_now(loop);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_FIRST_BYTE_TIMEOUT, "result %s", ig_upstream_result_str(a.result));
    CHECK(a.done_at - t0 >= 95); /* never early (a lower bound holds on any machine; no upper bound) */
    CHECK(a.heads == 0);
    run_for(50);
    CHECK(srv.eofs == 1); /* the connection was closed */
    teardown(pool, &srv);
}

static void test_idle_timeout_mid_body(void)
{
    static const step_t stall[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), WAIT(5000), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    lim.idle_timeout_ms = 100;
    srv_start(&srv);
    srv.scripts[0] = stall;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_IDLE_TIMEOUT, "result %s", ig_upstream_result_str(a.result));
    CHECK(a.heads == 1 && body_is(&a, "abc"));
    teardown(pool, &srv);
    client_free(&a);
}

/*
 * A slow but steady stream outlives the idle timeout: each read pushes the deadline back. The stream
 * lasts 300 ms, twice the timeout, in 60 ms gaps. A machine that stalls the loop past 150 ms makes
 * a gap look longer than the timeout (both timers are due when the loop wakes, before the socket is
 * read): so a timeout is allowed only if the client really saw nothing for the whole timeout (a
 * lower bound, true on any machine), and the scenario is tried again; one run must finish.
 */
static void test_idle_timeout_rearmed(void)
{
    static const step_t trickle[] = {SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                                     WAIT(60), SEND("1\r\na\r\n"), WAIT(60), SEND("1\r\nb\r\n"),
                                     WAIT(60), SEND("1\r\nc\r\n"), WAIT(60), SEND("1\r\nd\r\n"),
                                     WAIT(60), SEND("0\r\n\r\n"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    lim.idle_timeout_ms = 150;
    int finished = 0;
    for (int attempt = 0; attempt < 5 && !finished; attempt++) {
        memset(&a, 0, sizeof(a));
        srv_start(&srv);
        srv.scripts[0] = trickle;
        srv.nscripts = 1;
        ep_init(&ep, "127.0.0.1", srv.port, 0);
        ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
        uint64_t t0 = uv_now(loop);
        start(pool, &ep, &a, &srv);
        CHECK(wait_for(&a.done, 1, 3000));
        if (a.result == IG_UPSTREAM_OK) {
            CHECK(body_is(&a, "abcd"));
            CHECKF(a.done_at - t0 >= 300, "the stream took %llu ms", (unsigned long long)(a.done_at - t0));
            finished = 1;
        } else {
            CHECKF(a.result == IG_UPSTREAM_IDLE_TIMEOUT, "result %s", ig_upstream_result_str(a.result));
            CHECKF(a.done_at - a.data_at >= 150, "timed out %llu ms after the last data (timeout 150)",
                   (unsigned long long)(a.done_at - a.data_at));
        }
        teardown(pool, &srv);
        client_free(&a);
    }
    CHECKF(finished, "5 stalls in a row: the stream never finished");
}

static void test_cut_mid_body(void)
{
    static const step_t cut[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789"), WAIT(20), CLOSE,
                                 END};
    static const step_t cut_chunked[] = {SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
                                         WAIT(20), RESET, END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = cut;
    srv.scripts[1] = cut_chunked;
    srv.nscripts = 2;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_CUT, "result %s", ig_upstream_result_str(a.result));
    CHECK(body_is(&a, "0123456789"));
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECKF(b.result == IG_UPSTREAM_CUT, "result %s", ig_upstream_result_str(b.result));
    CHECK(body_is(&b, "ab"));
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
}

static void test_close_delimited(void)
{
    static const step_t resp[] = {SEND("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil"), WAIT(20),
                                  SEND(" close"), CLOSE, END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "until close"));
    teardown(pool, &srv);
    client_free(&a);
}

static void test_protocol_error(void)
{
    static const step_t bad[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = bad;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_PROTOCOL_ERROR && a.heads == 0);
    run_for(30);
    CHECK(srv.eofs == 1);
    teardown(pool, &srv);
}

/* Chunks reach on_body as the server sends them, not at the end. */
static void test_chunked_streaming(void)
{
    static const step_t stream[] = {
        SEND("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"),
        WAIT(50), SEND("3;ext=1\r\ntwo\r\n"), WAIT(50), SEND("5\r\nthree\r\n0\r\nX-Trailer: t\r\n\r\n"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = stream;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "onetwothree"));
    CHECKF(a.body_calls == 3, "body calls %d", a.body_calls);
    CHECKF(a.sends_at_body[0] == 1 && a.sends_at_body[1] == 2 && a.sends_at_body[2] == 3,
           "spans arrived after sends %d %d %d", a.sends_at_body[0], a.sends_at_body[1], a.sends_at_body[2]);
    CHECK(strcmp(a.content_type, "text/event-stream") == 0);
    CHECK(idle_count(pool, 0) == 1); /* chunked framing keeps the connection */
    teardown(pool, &srv);
    client_free(&a);
}

/* Pause stops reading: nothing arrives while paused though the server has sent it all; resume delivers. */
static void test_pause_resume(void)
{
    static const step_t resp[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc"), WAIT(30), SEND("def"),
                                  WAIT(30), SEND("ghi"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    lim.idle_timeout_ms = 100; /* a pause longer than this must not time out */
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    a.pause_at_body = 1;
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.body_calls, 1, 3000));
    CHECK(a.paused && body_is(&a, "abc"));
    run_for(300);
    CHECK(srv.sends == 3);
    CHECKF(a.body_calls == 1 && a.done == 0, "delivered while paused: %d calls, done %d", a.body_calls, a.done);
    a.pause_at_body = 0;
    a.paused = 0;
    in_api++;
    ig_upstream_resume(a.req);
    in_api--;
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_OK, "result %s", ig_upstream_result_str(a.result));
    CHECK(body_is(&a, "abcdefghi"));
    teardown(pool, &srv);
    client_free(&a);
}

/* A response that arrives in one read: pause leaves the rest buffered, each resume delivers it from the loop. */
static void test_pause_buffered(void)
{
    static const step_t resp[] = {
        SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    a.pause_at_body = 1;
    start(pool, &ep, &a, &srv);
    for (int i = 1; i <= 3; i++) {
        CHECK(wait_for(&a.body_calls, i, 3000));
        run_for(20);
        CHECKF(a.body_calls == i && a.paused, "span %d: %d calls", i, a.body_calls);
        a.paused = 0;
        in_api++;
        ig_upstream_resume(a.req);
        in_api--;
        CHECK(a.body_calls == i); /* not from inside resume */
    }
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "abc"));
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(srv.accepts == 1); /* finished through resume, and still reusable */
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
}

static void test_cancel_in_body(void)
{
    static const step_t stream[] = {SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n"),
                                    WAIT(50), SEND("3\r\ntwo\r\n"), WAIT(50), SEND("0\r\n\r\n"), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = stream;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    a.cancel_at_body = 1;
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&srv.eofs, 1, 3000)); /* the connection was closed */
    run_for(150);
    CHECK(a.body_calls == 1 && a.done == 0 && a.cancelled);
    CHECK(idle_count(pool, 0) == 0);

    /* cancel inside on_head and start the next attempt from the same callback, as the proxy does on a 5xx */
    client_t d = {0};
    hook_pool = pool;
    hook_ep = &ep;
    hook_next = &d;
    b.cancel_at_head = 1;
    b.on_head_hook = start_next_request;
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&d.done, 1, 3000));
    CHECK(wait_for(&srv.eofs, 2, 3000));
    run_for(150);
    CHECK(b.heads == 1 && b.body_calls == 0 && b.done == 0);
    CHECK(d.result == IG_UPSTREAM_OK && body_is(&d, "onetwo"));
    CHECK(srv.accepts == 3);
    teardown(pool, &srv);
    client_free(&a);
    client_free(&d);
}

static void test_cancel_early(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0}, c = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    /* while connecting */
    start(pool, &ep, &a, &srv);
    in_api++;
    ig_upstream_cancel(a.req);
    in_api--;
    a.cancelled = 1;
    /* on a reused connection, right after the write was queued */
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    start(pool, &ep, &c, &srv);
    in_api++;
    ig_upstream_cancel(c.req);
    in_api--;
    c.cancelled = 1;
    run_for(100);
    CHECK(a.heads == 0 && c.heads == 0);
    CHECK(b.result == IG_UPSTREAM_OK);
    teardown(pool, &srv);
    client_free(&b);
}

/* Several MB in three pieces go out intact (partial writes, uv_buf_t array, no copy). */
static void test_large_body(void)
{
    static const step_t resp[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), END};
    size_t sizes[3] = {2u << 20, (1u << 20) + 1, 3u << 20};
    char *pieces[3];
    ig_str_t body[3];
    uint64_t want = IG_FNV64_OFFSET;
    size_t total = 0;
    for (int i = 0; i < 3; i++) {
        pieces[i] = malloc(sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++)
            pieces[i][k] = (char)('a' + (k * 7 + (size_t)i) % 26);
        body[i] = (ig_str_t){pieces[i], sizes[i]};
        want = ig_fnv1a64(want, pieces[i], sizes[i]);
        total += sizes[i];
    }
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    ig_upstream_request_t r = {.endpoint = &ep.ep, .method = IG_STR("POST"), .path = IG_STR("/v1/audio/transcriptions"),
                               .body = body, .nbody = 3};
    in_api++;
    a.req = ig_upstream_start(pool, &r, &callbacks, &a);
    in_api--;
    CHECK(wait_for(&a.done, 1, 10000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "ok"));
    const char *sep = srv.last_request ? strstr(srv.last_request, "\r\n\r\n") : NULL;
    CHECK(sep != NULL);
    if (sep != NULL) {
        size_t head = (size_t)(sep - srv.last_request) + 4;
        char cl[64];
        snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", total);
        CHECK(strstr(srv.last_request, cl) != NULL);
        CHECKF(srv.last_request_len - head == total, "server got %zu body bytes, want %zu", srv.last_request_len - head,
               total);
        CHECK(ig_fnv1a64(IG_FNV64_OFFSET, srv.last_request + head, srv.last_request_len - head) == want);
    }
    CHECK(idle_count(pool, 0) == 1);
    teardown(pool, &srv);
    for (int i = 0; i < 3; i++)
        free(pieces[i]);
    client_free(&a);
}

/* The engine answers before reading our whole body: the answer counts, the connection is not reused. */
static void test_early_answer(void)
{
    static const step_t early[] = {STOP_READING, SEND("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"), END};
    static const step_t resp[] = {SEND(OK_HELLO), END};
    size_t big = 16u << 20;
    char *piece = malloc(big);
    memset(piece, 'x', big);
    ig_str_t body = {piece, big};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.respond_on_head = 1;
    srv.scripts[0] = early;
    srv.scripts[1] = resp;
    srv.nscripts = 2;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    ig_upstream_request_t r = {.endpoint = &ep.ep, .method = IG_STR("POST"), .path = IG_STR("/big"), .body = &body,
                               .nbody = 1};
    in_api++;
    a.req = ig_upstream_start(pool, &r, &callbacks, &a);
    in_api--;
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && a.status == 413);
    free(piece); /* on_done gave the body back: nothing may read it any more */
    srv.respond_on_head = 0;
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(b.result == IG_UPSTREAM_OK && srv.accepts == 2);
    teardown(pool, &srv);
    client_free(&a);
    client_free(&b);
}

/* Connection: close, or bytes after the response, make a connection unfit for reuse. */
static void test_not_reused(void)
{
    static const step_t close_hdr[] = {SEND("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
                                       END};
    static const step_t extra[] = {SEND("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK"), END};
    static const step_t http10[] = {SEND("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"), END};
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t c[4] = {{0}};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = close_hdr;
    srv.scripts[1] = extra;
    srv.scripts[2] = http10;
    srv.scripts[3] = resp;
    srv.nscripts = 4;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    for (int i = 0; i < 4; i++) {
        start(pool, &ep, &c[i], &srv);
        CHECK(wait_for(&c[i].done, 1, 3000));
        CHECK(c[i].result == IG_UPSTREAM_OK);
        client_free(&c[i]);
    }
    CHECK(srv.accepts == 4);
    teardown(pool, &srv);
}

static void test_interim_response(void)
{
    static const step_t resp[] = {SEND("HTTP/1.1 100 Continue\r\n\r\n"), WAIT(20), SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && a.heads == 1 && a.status == 200 && body_is(&a, "hello"));
    teardown(pool, &srv);
    client_free(&a);
}

/* A 40 KB head grows the read buffer (and works); past 64 KB it is refused. */
static void test_huge_head(void)
{
    size_t n1 = 40000, n2 = 70000;
    char *big = malloc(n1 + 128), *huge = malloc(n2 + 128);
    int l1 = sprintf(big, "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(big + l1, 'b', n1);
    strcpy(big + l1 + n1, "\r\nContent-Length: 2\r\n\r\nok");
    int l2 = sprintf(huge, "HTTP/1.1 200 OK\r\nX-Huge: ");
    memset(huge + l2, 'h', n2);
    strcpy(huge + l2 + n2, "\r\nContent-Length: 2\r\n\r\nok");
    step_t s1[] = {{S_SEND, big, strlen(big), 0}, END};
    step_t s2[] = {{S_SEND, huge, strlen(huge), 0}, END};
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0}, b = {0}, c = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = s1;
    srv.scripts[1] = resp;
    srv.scripts[2] = s2;
    srv.nscripts = 3;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECK(a.result == IG_UPSTREAM_OK && body_is(&a, "ok"));
    start(pool, &ep, &b, &srv);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(b.result == IG_UPSTREAM_OK && srv.accepts == 1);
    start(pool, &ep, &c, &srv);
    CHECK(wait_for(&c.done, 1, 3000));
    CHECKF(c.result == IG_UPSTREAM_PROTOCOL_ERROR, "result %s", ig_upstream_result_str(c.result));
    teardown(pool, &srv);
    free(big);
    free(huge);
    client_free(&a);
    client_free(&b);
}

/* Idle connections: closed after keepalive_timeout, at most max_idle_per_endpoint kept, reused LIFO. */
static void test_idle_limits(void)
{
    static const step_t fast[] = {SEND(OK_HELLO), END};
    static const step_t slow[] = {WAIT(40), SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t c[6] = {{0}};
    ig_upstream_limits_t lim = limits();
    lim.max_idle_per_endpoint = 2;
    lim.keepalive_timeout_ms = 300;
    srv_start(&srv);
    srv.scripts[0] = fast;
    srv.scripts[1] = slow;
    srv.scripts[2] = fast;
    srv.scripts[3] = fast;
    srv.scripts[4] = fast;
    srv.scripts[5] = fast;
    srv.nscripts = 6;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    /* two at once: connection 1 finishes last, so it is reused first */
    start(pool, &ep, &c[0], &srv);
    start(pool, &ep, &c[1], &srv);
    CHECK(wait_for(&c[1].done, 1, 3000) && c[0].done);
    CHECK(idle_count(pool, 0) == 2);
    start(pool, &ep, &c[2], &srv);
    CHECK(wait_for(&c[2].done, 1, 3000));
    CHECKF(srv.req_conn[2] == srv.req_conn[1], "request 2 went to connection %d, want %d (LIFO)", srv.req_conn[2],
           srv.req_conn[1]);
    /* three at once: the third to finish finds the list full and is closed */
    for (int i = 3; i < 6; i++)
        start(pool, &ep, &c[i], &srv);
    CHECK(wait_for(&c[3].done, 1, 3000) && wait_for(&c[4].done, 1, 3000) && wait_for(&c[5].done, 1, 3000));
    CHECK(srv.accepts == 3);
    run_for(30);
    CHECK(idle_count(pool, 0) == 2 && srv.eofs == 1);
    /* keep-alive timeout */
    run_for(400);
    CHECK(idle_count(pool, 0) == 0 && srv.eofs == 3);
    teardown(pool, &srv);
    for (int i = 0; i < 6; i++)
        client_free(&c[i]);
}

/* An endpoint id that now names another address does not get the old address's connections. */
static void test_recycled_endpoint_id(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t s1, s2;
    test_ep_t e1, e2;
    client_t a = {0}, b = {0};
    ig_upstream_limits_t lim = limits();
    srv_start(&s1);
    srv_start(&s2);
    s1.scripts[0] = s2.scripts[0] = resp;
    s1.nscripts = s2.nscripts = 1;
    ep_init(&e1, "127.0.0.1", s1.port, 5);
    ep_init(&e2, "127.0.0.1", s2.port, 5);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &e1, &a, &s1);
    CHECK(wait_for(&a.done, 1, 3000));
    start(pool, &e2, &b, &s2);
    CHECK(wait_for(&b.done, 1, 3000));
    CHECK(b.result == IG_UPSTREAM_OK && s1.requests == 1 && s2.requests == 1);
    srv_stop(&s2);
    free(s2.last_request);
    teardown(pool, &s1);
    client_free(&a);
    client_free(&b);
}

/* Lowering the limits on reload trims the idle lists. */
static void test_set_limits(void)
{
    static const step_t resp[] = {WAIT(10), SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t c[3] = {{0}};
    ig_upstream_limits_t lim = limits();
    srv_start(&srv);
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "127.0.0.1", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    for (int i = 0; i < 3; i++)
        start(pool, &ep, &c[i], &srv);
    for (int i = 0; i < 3; i++)
        CHECK(wait_for(&c[i].done, 1, 3000));
    CHECK(idle_count(pool, 0) == 3);
    lim.max_idle_per_endpoint = 1;
    ig_upstream_pool_set_limits(pool, &lim);
    CHECK(idle_count(pool, 0) == 1);
    run_for(30);
    CHECK(srv.eofs == 2);
    teardown(pool, &srv);
    for (int i = 0; i < 3; i++)
        client_free(&c[i]);
}

/* An IPv6 literal, bracketed as in a URL. Where ::1 is unavailable it says SKIP, which fails CI. */
static void test_ipv6(void)
{
    static const step_t resp[] = {SEND(OK_HELLO), END};
    srv_t srv;
    test_ep_t ep;
    client_t a = {0};
    ig_upstream_limits_t lim = limits();
    if (srv_start_on(&srv, 1) != 0) {
        printf("SKIP test_ipv6: ::1 is not available on this machine\n");
        return;
    }
    srv.scripts[0] = resp;
    srv.nscripts = 1;
    ep_init(&ep, "[::1]", srv.port, 0);
    ig_upstream_pool_t *pool = ig_upstream_pool_create(loop, &lim);
    start(pool, &ep, &a, &srv);
    CHECK(wait_for(&a.done, 1, 3000));
    CHECKF(a.result == IG_UPSTREAM_OK, "result %s", ig_upstream_result_str(a.result));
    CHECK(body_is(&a, "hello"));
    teardown(pool, &srv);
    client_free(&a);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the server does */
    loop = uv_default_loop();
    CHECKF(sizeof(ig_upstream_conn_t) <= 1024, "per-request state is %zu bytes", sizeof(ig_upstream_conn_t));
    test_keepalive_reuse();
    test_get_request();
    test_invalid_request();
    test_idle_close_noticed();
    test_retry_on_reused();
    test_retry_limits();
    test_connect_refused();
    test_not_an_ip();
    test_connect_timeout();
    test_first_byte_timeout();
    test_idle_timeout_mid_body();
    test_idle_timeout_rearmed();
    test_cut_mid_body();
    test_close_delimited();
    test_protocol_error();
    test_chunked_streaming();
    test_pause_resume();
    test_pause_buffered();
    test_cancel_in_body();
    test_cancel_early();
    test_large_body();
    test_early_answer();
    test_not_reused();
    test_interim_response();
    test_huge_head();
    test_idle_limits();
    test_recycled_endpoint_id();
    test_set_limits();
    test_ipv6();
    CHECK(uv_loop_close(loop) == 0);
    return ig_test_summary();
}
