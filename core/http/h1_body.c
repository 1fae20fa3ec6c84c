#include "http/h1_body.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "http/body_budget.h"
#include "http/h1_guard.h"
#include "http/openai_error.h"
#include "proxy/auth.h"
#include "server/worker.h"
#include "util/api.h"

/* picohttpparser's chunked decoder (exported by libh2o); its state is padded for other versions' fields */
struct phr_chunked_decoder {
    size_t bytes_left_in_chunk;
    char consume_trailer;
    char _hex_count;
    char _state;
};
ssize_t phr_decode_chunked(struct phr_chunked_decoder *decoder, char *buf, size_t *bufsz);


typedef struct {
    h2o_req_t *req;
    h2o_socket_t *sock;
    void *conn;                 /* sock->data as h2o had it, given back when done */
    ig_worker_t *w;
    h2o_handler_t *self;
    ig_h1_route_t route, refused;
    ig_h1_head_t head;
    size_t max;                 /* maxBodySize when the head came */
    char *body;                 /* chunked: malloc'd (it grows), freed with the request's pool; a
                                   Content-Length body is the pool's own memory */
    size_t len, cap;
    size_t reserved;            /* of the budget */
    h2o_timeout_entry_t idle;
    union {
        struct phr_chunked_decoder d;
        char pad[128];
    } chunk;
    unsigned reading : 1;
    unsigned finished : 1;      /* answered, or handed to route() */
} reader_t;

static void stop_reading(reader_t *r)
{
    if (h2o_timeout_is_linked(&r->idle))
        h2o_timeout_unlink(&r->idle);
    if (r->reading) {
        h2o_socket_read_stop(r->sock);
        r->sock->data = r->conn;
        r->reading = 0;
    }
}

/* the request's pool is freed: so is the body, and its share of the budget */
static void reader_dispose(void *p)
{
    reader_t *r = p;
    stop_reading(r);
    if (r->head.framing.body == IG_H1_BODY_CHUNKED)
        free(r->body);
    ig_body_budget_give(r->reserved);
}

/* Answers now and closes the connection: the rest of the body is never read. */
static void refuse(reader_t *r, int status, const char *code, const char *msg)
{
    r->finished = 1;
    stop_reading(r);
    r->refused(r->self, r->req);
    r->req->http1_is_persistent = 0;
    if (status == 503)
        h2o_add_header(&r->req->pool, &r->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    ig_send_error(r->req, status, status == 503 ? "server_error" : "invalid_request_error", NULL, code, "%s", msg);
}

static void too_large(reader_t *r)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "the request body is over this server's limit of %zu bytes", r->max);
    refuse(r, 413, "request_too_large", msg);
}

static void over_budget(reader_t *r)
{
    refuse(r, 503, "server_busy", "the server is receiving too many request bodies at once; retry shortly");
}

static void complete(reader_t *r)
{
    r->finished = 1;
    stop_reading(r);
    h2o_req_t *req = r->req;
    req->entity = h2o_iovec_init(r->body ? r->body : "", r->len);
    req->http1_is_persistent = r->head.framing.keep_alive && !req->conn->ctx->shutdown_requested;
    r->route(r->self, req);
}

/* removes input[off, off + n) */
static void cut_input(h2o_buffer_t *in, size_t off, size_t n)
{
    memmove(in->bytes + off, in->bytes + off + n, in->size - off - n);
    in->size -= n;
}

/* Takes what arrived of the body out of the socket's input (the head stays where h2o expects it). */
static void take_input(reader_t *r)
{
    h2o_buffer_t *in = r->sock->input;
    size_t off = r->head.head_len, avail = in->size - off;
    if (avail == 0)
        return;
    if (r->head.framing.body == IG_H1_BODY_LENGTH) {
        size_t want = (size_t)r->head.framing.length - r->len, take = avail < want ? avail : want;
        memcpy(r->body + r->len, in->bytes + off, take);
        r->len += take;
        cut_input(in, off, take);
        if (r->len == r->head.framing.length)
            complete(r);
        return;
    }
    size_t decoded = avail;
    ssize_t rest = phr_decode_chunked(&r->chunk.d, in->bytes + off, &decoded);
    if (rest == -1) {
        refuse(r, 400, "invalid_request", "the chunked request body is malformed");
        return;
    }
    if (r->len + decoded > r->max) {
        too_large(r);
        return;
    }
    if (r->len + decoded > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->len + decoded)
            cap *= 2;
        if (cap > r->max)
            cap = r->max;
        if (ig_body_budget_take(cap - r->cap, r->w->gen->config->server.client_limits.body_budget_bytes) != 0) {
            over_budget(r);
            return;
        }
        r->reserved += cap - r->cap;
        char *p = realloc(r->body, cap);
        if (p == NULL) {
            refuse(r, 503, "server_busy", "out of memory receiving the request body");
            return;
        }
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, in->bytes + off, decoded);
    r->len += decoded;
    if (rest == -2) {
        in->size = off; /* all of it decoded */
        return;
    }
    in->size = off + decoded + (size_t)rest; /* what follows the body stays for the next request */
    cut_input(in, off, decoded);
    complete(r);
}

static void on_idle(h2o_timeout_entry_t *e)
{
    reader_t *r = (reader_t *)((char *)e - offsetof(reader_t, idle));
    refuse(r, 408, "request_timeout", "the request body stopped arriving (server.clientTimeouts.bodyIdle)");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    reader_t *r = sock->data;
    if (err != NULL) {
        refuse(r, 400, "invalid_request", "the connection ended before the request body did");
        return;
    }
    h2o_timeout_unlink(&r->idle);
    h2o_timeout_link(r->w->ctx.loop, &r->w->body_idle_timeout, &r->idle);
    take_input(r);
}

static void start_reading(reader_t *r)
{
    take_input(r); /* what came with the head: often the whole body */
    if (r->finished)
        return;
    r->conn = r->sock->data;
    r->sock->data = r;
    r->reading = 1;
    r->idle.cb = on_idle;
    h2o_timeout_link(r->w->ctx.loop, &r->w->body_idle_timeout, &r->idle);
    h2o_socket_read_start(r->sock, on_read);
}

static void on_continue_sent(h2o_socket_t *sock, const char *err)
{
    reader_t *r = sock->data;
    r->sock->data = r->conn;
    if (err != NULL) {
        refuse(r, 400, "invalid_request", "the connection ended before the request body was sent");
        return;
    }
    start_reading(r);
}

/* Bodies under this are read before the key is checked, as h2o would have: what they cost is small
 * (and counted in the budget), and the proxy's one authenticate() call stays the only one. */
#define EARLY_KEY_CHECK_MIN (64 * 1024)

/*
 * The key of an API request with a large (or chunked) body, checked before the body is read when the
 * auth plugin answers at once. 0: go on; -1: answered. The proxy authenticates again once the body is
 * in: a plugin sees two calls for such a request (and a cancel for the first when it answers later).
 */
static int check_key_early(reader_t *r, ig_worker_t *w, h2o_req_t *req)
{
    if (r->head.framing.body == IG_H1_BODY_LENGTH && r->head.framing.length < EARLY_KEY_CHECK_MIN)
        return 0;
    ig_api_t api = ig_api_from_path(req->path_normalized.base, req->path_normalized.len);
    if (api == IG_API_NONE || w->gen->auth == NULL || !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return 0;
    ig_auth_stage_t *s = h2o_mem_alloc_pool(&req->pool, sizeof(*s));
    memset(s, 0, sizeof(*s));
    int rc = ig_auth_start(s, req, w->gen, NULL);
    if (rc == IG_PENDING)
        ig_auth_cancel(s); /* an answer that takes a while: the proxy asks again once the body is in */
    if (rc == -1)
        r->refused(r->self, req);
    return rc == -1 ? -1 : 0;
}

int ig_h1_body_intercept(ig_worker_t *w, h2o_handler_t *self, h2o_req_t *req, ig_h1_route_t route,
                         ig_h1_route_t refused)
{
    ig_h1_head_t head;
    if (req->version >= 0x200 || ig_h1_head_take(req, &head) != 0)
        return 0;
    if (head.refused != NULL) {
        refused(self, req);
        req->http1_is_persistent = 0;
        ig_send_error(req, 400, "invalid_request_error", NULL, "invalid_request", "%s", head.refused);
        return 1;
    }
    const ig_server_config_t *sc = &w->gen->config->server;
    reader_t *r = h2o_mem_alloc_shared(&req->pool, sizeof(*r), reader_dispose);
    memset(r, 0, sizeof(*r));
    *r = (reader_t){.req = req, .w = w, .self = self, .route = route, .refused = refused, .head = head,
                    .max = sc->max_body_bytes};
    r->chunk.d.consume_trailer = 1;
    r->sock = req->conn->callbacks->get_socket(req->conn);
    if (head.framing.body == IG_H1_BODY_LENGTH && head.framing.length > sc->max_body_bytes) {
        too_large(r);
        return 1;
    }
    req->http1_is_persistent = 0; /* a refusal closes */
    if (check_key_early(r, w, req) != 0)
        return 1;
    if (head.framing.body == IG_H1_BODY_LENGTH) {
        size_t n = (size_t)head.framing.length;
        if (ig_body_budget_take(n, sc->client_limits.body_budget_bytes) != 0) {
            over_budget(r);
            return 1;
        }
        r->reserved = n;
        r->body = h2o_mem_alloc_pool(&req->pool, n); /* a small body from the pool's chunk, no malloc */
        r->cap = n;
    }
    if (head.framing.expect_continue) {
        static const h2o_iovec_t cont = {H2O_STRLIT("HTTP/1.1 100 Continue\r\n\r\n")};
        r->conn = r->sock->data;
        r->sock->data = r;
        h2o_socket_write(r->sock, (h2o_iovec_t *)&cont, 1, on_continue_sent);
        return 1;
    }
    start_reading(r);
    return 1;
}
