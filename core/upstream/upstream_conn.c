/*
 * upstream_conn.c — one upstream HTTP/1.1 connection and the request on it.
 *
 * Life of a connection: NEW -> CONNECTING -> ACTIVE (request written,
 * response parsed) -> IDLE in the pool (kept reading so that a close by the
 * engine is noticed at once) -> ACTIVE again ... -> CLOSING -> freed when
 * both libuv handles have closed. One uv_timer serves every timeout and the
 * deferred work that keeps callbacks out of the public entry points.
 *
 * Invariants the code relies on:
 *  - on_done is called last and exactly once unless the request is
 *    cancelled; nothing touches the request after it (the connection may
 *    already carry the next request when on_done returns).
 *  - After a callback returns, the connection may be closing (cancel) but is
 *    not yet freed: memory goes only in the close callbacks.
 *  - The body spans are only read by libuv while the socket is open; closing
 *    it (uv_close) ends that, so on_done/cancel hand them back immediately.
 */
#include "upstream/upstream_conn.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

enum {
    F_REUSED = 1 << 0,       /* this request went out on a kept-alive connection */
    F_RETRIED = 1 << 1,      /* the transparent retry was used */
    F_RETRYING = 1 << 2,     /* socket closing, to be replaced by a fresh one */
    F_PAUSED = 1 << 3,
    F_CANCELLED = 1 << 4,
    F_WRITING = 1 << 5,      /* a uv_write is pending */
    F_WRITE_FAILED = 1 << 6, /* the engine stopped reading our request after it began answering */
    F_READING = 1 << 7,      /* uv_read_start is in effect */
    F_GOT_BYTES = 1 << 8,    /* some response byte arrived */
    F_IN_FEED = 1 << 9       /* inside the parser, so callbacks may be running */
};

enum { T_NONE, T_CONNECT, T_FIRST_BYTE, T_IDLE, T_KEEPALIVE, T_DEFER_FAIL, T_DEFER_RESUME };

enum { FEED_MORE, FEED_STOPPED }; /* conn_feed: wants more bytes, or the request paused/ended */

static void on_connect(uv_connect_t *creq, int status);
static void on_write(uv_write_t *w, int status);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_timer(uv_timer_t *t);
static void on_tcp_close(uv_handle_t *h);
static void on_timer_close(uv_handle_t *h);
static int parser_on_head(void *data, int status, const ig_http1_header_t *h, size_t n);
static int parser_on_body(void *data, const char *p, size_t len);

static const ig_http1_response_callbacks_t parser_callbacks = {parser_on_head, parser_on_body};

static ig_upstream_conn_t *conn_of(ig_upstream_req_t *r)
{
    return (ig_upstream_conn_t *)(void *)((char *)r - offsetof(ig_upstream_conn_t, req));
}

const char *ig_upstream_result_str(ig_upstream_result_t r)
{
    switch (r) {
    case IG_UPSTREAM_OK: return "ok";
    case IG_UPSTREAM_CONNECT_FAILED: return "connection to the engine failed";
    case IG_UPSTREAM_CONNECT_TIMEOUT: return "timed out connecting to the engine";
    case IG_UPSTREAM_RESET_BEFORE_HEAD: return "the engine closed the connection before answering";
    case IG_UPSTREAM_FIRST_BYTE_TIMEOUT: return "timed out waiting for the first byte";
    case IG_UPSTREAM_IDLE_TIMEOUT: return "the engine stopped sending mid-response";
    case IG_UPSTREAM_CUT: return "the engine closed the connection mid-response";
    case IG_UPSTREAM_PROTOCOL_ERROR: return "malformed response from the engine";
    default: return "unknown upstream error";
    }
}

/* FNV-1a of host and port: what an idle connection is connected to, checked on reuse. */
uint64_t ig_upstream_endpoint_key(const ig_endpoint_t *ep)
{
    uint64_t h = IG_FNV64_OFFSET;
    for (const char *s = ep->host ? ep->host : ""; *s; s++)
        h = ig_fnv1a64_step(h, (unsigned char)*s);
    h = ig_fnv1a64_step(h, ep->port & 0xff);
    return ig_fnv1a64_step(h, ep->port >> 8);
}

/* ---- timers ------------------------------------------------------------------------------------ */

static void timer_start(ig_upstream_conn_t *conn, int mode, uint64_t ms)
{
    conn->timer_mode = (uint8_t)mode;
    uv_timer_start(&conn->timer, on_timer, ms, 0);
}

static void timer_stop(ig_upstream_conn_t *conn)
{
    conn->timer_mode = T_NONE;
    uv_timer_stop(&conn->timer);
}

/*
 * Before the first response byte: the first-byte timeout. After it: the idle
 * timeout, which is re-armed lazily (reads only note the time; the timer, when
 * it fires early, sleeps for the rest) so a busy stream costs no timer churn.
 * A zero timeout means none.
 */
static void arm_read_timer(ig_upstream_conn_t *conn)
{
    if (conn->flags & F_GOT_BYTES) {
        conn->last_read = uv_now(conn->tcp.loop);
        if (conn->req.idle_timeout_ms)
            timer_start(conn, T_IDLE, conn->req.idle_timeout_ms);
        else
            timer_stop(conn);
    } else if (conn->req.first_byte_timeout_ms) {
        timer_start(conn, T_FIRST_BYTE, conn->req.first_byte_timeout_ms);
    } else {
        timer_stop(conn);
    }
}

/* ---- reading -------------------------------------------------------------------------------------- */

static int start_reading(ig_upstream_conn_t *conn)
{
    if (conn->flags & F_READING)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&conn->tcp, on_alloc, on_read);
    if (rc == 0)
        conn->flags |= F_READING;
    return rc;
}

static void stop_reading(ig_upstream_conn_t *conn)
{
    if (conn->flags & F_READING) {
        uv_read_stop((uv_stream_t *)&conn->tcp);
        conn->flags &= ~F_READING;
    }
}

static int rbuf_is_own(const ig_upstream_conn_t *conn)
{
    return conn->rbuf != NULL && conn->rbuf != conn->pool->rbuf;
}

/* Drops whatever is buffered: the connection holds no read buffer again. */
static void shrink_rbuf(ig_upstream_conn_t *conn)
{
    if (rbuf_is_own(conn))
        free(conn->rbuf);
    conn->rbuf = NULL;
    conn->rcap = conn->rstart = conn->rlen = 0;
}

/*
 * After a read was parsed: bytes still unparsed in the pool's buffer move to
 * the connection's own (the next read of another connection reuses the pool's).
 * -1 when out of memory.
 */
static int rbuf_settle(ig_upstream_conn_t *conn)
{
    if (conn->rbuf != conn->pool->rbuf)
        return 0;
    uint32_t left = conn->rlen - conn->rstart;
    if (left == 0 || conn->state == IG_CONN_CLOSING) {
        conn->rbuf = NULL;
        conn->rcap = conn->rstart = conn->rlen = 0;
        return 0;
    }
    uint32_t cap = IG_UPSTREAM_LEFTOVER_MIN;
    while (cap < left * 2 && cap < IG_UPSTREAM_MAX_HEAD)
        cap *= 2;
    if (cap < left)
        cap = left;
    char *own = malloc(cap);
    if (own == NULL) {
        conn->rbuf = NULL;
        conn->rcap = conn->rstart = conn->rlen = 0;
        return -1;
    }
    memcpy(own, conn->rbuf + conn->rstart, left);
    conn->rbuf = own;
    conn->rcap = cap;
    conn->rstart = 0;
    conn->rlen = left;
    return 0;
}

/* ---- ending a request ----------------------------------------------------------------------------- */

void ig_upstream_conn_close(ig_upstream_conn_t *conn)
{
    if (conn->state == IG_CONN_CLOSING)
        return;
    conn->state = IG_CONN_CLOSING;
    conn->flags &= ~F_READING;
    conn->timer_mode = T_NONE;
    /* during a retry the socket is already closing; its close callback sees CLOSING and stops there */
    if (!uv_is_closing((uv_handle_t *)&conn->tcp))
        uv_close((uv_handle_t *)&conn->tcp, on_tcp_close);
    uv_close((uv_handle_t *)&conn->timer, on_timer_close);
}

static void handle_closed(ig_upstream_conn_t *conn)
{
    if (--conn->open_handles != 0)
        return;
    ig_upstream_pool_t *pool = conn->pool;
    ig_upstream_req_release(&conn->req);
    if (rbuf_is_own(conn))
        free(conn->rbuf);
    free(conn);
    ig_upstream_pool_conn_freed(pool);
}

static void on_timer_close(uv_handle_t *h)
{
    handle_closed(h->data);
}

/* Parks the connection in the pool: reading (to notice a close), with the keep-alive timer running. */
static int make_idle(ig_upstream_conn_t *conn)
{
    shrink_rbuf(conn);
    if (start_reading(conn) != 0 || ig_upstream_pool_idle_add(conn->pool, conn) != 0)
        return -1;
    conn->state = IG_CONN_IDLE;
    timer_start(conn, T_KEEPALIVE, conn->pool->limits.keepalive_timeout_ms);
    return 0;
}

/*
 * The request is over: the connection goes back to the pool or is closed
 * before on_done runs, so on_done may start the next request on it, and the
 * body it frees is no longer referenced by a pending write.
 */
static void conn_finish(ig_upstream_conn_t *conn, ig_upstream_result_t result, int reusable)
{
    void (*on_done)(void *, ig_upstream_result_t) = conn->req.cb.on_done;
    void *data = conn->req.data;

    timer_stop(conn);
    ig_upstream_req_release(&conn->req);
    conn->flags &= F_READING;
    if (!reusable || make_idle(conn) != 0)
        ig_upstream_conn_close(conn);
    if (on_done != NULL)
        on_done(data, result);
}

static int conn_connect(ig_upstream_conn_t *conn);

/* A reused connection the engine had closed while idle: try once more on a fresh one, same struct. */
static void conn_retry(ig_upstream_conn_t *conn)
{
    conn->flags = (uint16_t)((conn->flags | F_RETRIED | F_RETRYING) & ~(F_REUSED | F_READING | F_WRITE_FAILED));
    timer_stop(conn);
    shrink_rbuf(conn);
    ig_http1_response_init(&conn->parser, &parser_callbacks, conn, IG_UPSTREAM_MAX_HEAD);
    conn->state = IG_CONN_NEW;
    uv_close((uv_handle_t *)&conn->tcp, on_tcp_close);
}

static void conn_fail(ig_upstream_conn_t *conn, ig_upstream_result_t result)
{
    if (result == IG_UPSTREAM_RESET_BEFORE_HEAD && (conn->flags & F_REUSED) && !(conn->flags & F_RETRIED) &&
        !(conn->flags & F_GOT_BYTES)) {
        conn_retry(conn);
        return;
    }
    conn_finish(conn, result, 0);
}

/* Fails from a timer callback: the entry points (start, resume) must not call back themselves. */
static void defer_fail(ig_upstream_conn_t *conn, ig_upstream_result_t result)
{
    stop_reading(conn);
    conn->deferred_result = (uint8_t)result;
    timer_start(conn, T_DEFER_FAIL, 0);
}

static void on_tcp_close(uv_handle_t *h)
{
    ig_upstream_conn_t *conn = h->data;
    if ((conn->flags & F_RETRYING) && conn->state != IG_CONN_CLOSING) {
        conn->flags &= ~F_RETRYING;
        uv_tcp_init(conn->pool->loop, &conn->tcp); /* cannot fail: no socket is created yet */
        conn->tcp.data = conn;
        if (conn_connect(conn) != 0)
            conn_finish(conn, IG_UPSTREAM_CONNECT_FAILED, 0);
        return;
    }
    handle_closed(conn);
}

/* ---- connecting and writing ----------------------------------------------------------------------- */

/* IP literals only ("localhost" is 127.0.0.1): resolving names would block the loop or need a resolver. */
static int endpoint_addr(const ig_endpoint_t *ep, struct sockaddr_storage *ss)
{
    char host[128];
    const char *h = ep->host;
    size_t n;

    if (h == NULL)
        return -1;
    n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        h++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(host))
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    memset(ss, 0, sizeof(*ss));
    if (uv_ip4_addr(host, ep->port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(host, ep->port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

static int conn_connect(ig_upstream_conn_t *conn)
{
    struct sockaddr_storage ss;
    if (endpoint_addr(conn->req.endpoint, &ss) != 0)
        return UV_EINVAL;
    ig_upstream_op_t *op = ig_upstream_pool_op_get(conn->pool);
    if (op == NULL)
        return UV_ENOMEM;
    int rc = uv_tcp_connect(&op->connect, &conn->tcp, (const struct sockaddr *)&ss, on_connect);
    if (rc != 0) {
        ig_upstream_pool_op_put(conn->pool, op);
        return rc;
    }
    conn->state = IG_CONN_CONNECTING;
    if (conn->req.connect_timeout_ms)
        timer_start(conn, T_CONNECT, conn->req.connect_timeout_ms);
    return 0;
}

/*
 * Writes head + body and starts reading (an engine may answer before reading it all).
 * Most requests fit the socket buffer: uv_try_write sends them at once and saves
 * libuv re-arming epoll for every request; what does not fit goes through uv_write.
 * r->bufs stays untouched, since a transparent retry sends it again.
 */
static int send_request(ig_upstream_conn_t *conn)
{
    ig_upstream_req_t *r = &conn->req;
    uv_buf_t rest[16];
    const uv_buf_t *bufs = r->bufs;
    unsigned nbufs = r->nbufs;
    if (nbufs <= sizeof(rest) / sizeof(rest[0])) {
        int n = uv_try_write((uv_stream_t *)&conn->tcp, r->bufs, r->nbufs);
        if (n < 0 && n != UV_EAGAIN)
            return n;
        size_t skip = n > 0 ? (size_t)n : 0, k = 0;
        for (unsigned i = 0; i < r->nbufs; i++) {
            if (skip >= r->bufs[i].len) {
                skip -= r->bufs[i].len;
                continue;
            }
            rest[k] = uv_buf_init(r->bufs[i].base + skip, (unsigned)(r->bufs[i].len - skip));
            skip = 0;
            k++;
        }
        bufs = rest;
        nbufs = (unsigned)k;
    }
    if (nbufs > 0) {
        ig_upstream_op_t *op = ig_upstream_pool_op_get(conn->pool);
        if (op == NULL)
            return UV_ENOMEM;
        int rc = uv_write(&op->write, (uv_stream_t *)&conn->tcp, bufs, nbufs, on_write);
        if (rc != 0) {
            ig_upstream_pool_op_put(conn->pool, op);
            return rc;
        }
        conn->flags |= F_WRITING;
    }
    int rc;
    if (!(conn->flags & F_PAUSED)) {
        if ((rc = start_reading(conn)) != 0)
            return rc;
        arm_read_timer(conn);
    } else {
        timer_stop(conn);
    }
    return 0;
}

static void on_connect(uv_connect_t *creq, int status)
{
    ig_upstream_conn_t *conn = creq->handle->data;
    ig_upstream_pool_op_put(conn->pool, (ig_upstream_op_t *)(void *)creq);
    if (status == UV_ECANCELED || conn->state != IG_CONN_CONNECTING)
        return; /* closed meanwhile: timeout or cancel */
    if (status < 0) {
        conn_finish(conn, IG_UPSTREAM_CONNECT_FAILED, 0);
        return;
    }
    timer_stop(conn);
    uv_tcp_nodelay(&conn->tcp, 1); /* heads and small SSE chunks must not wait for Nagle */
    conn->state = IG_CONN_ACTIVE;
    if (send_request(conn) != 0)
        conn_fail(conn, IG_UPSTREAM_RESET_BEFORE_HEAD);
}

static void on_write(uv_write_t *w, int status)
{
    ig_upstream_conn_t *conn = w->handle->data;
    ig_upstream_pool_op_put(conn->pool, (ig_upstream_op_t *)(void *)w);
    conn->flags &= ~F_WRITING;
    /* closing (cancel, failure, retry): libuv reports the write as cancelled, or as done if it was */
    if (uv_is_closing((uv_handle_t *)&conn->tcp) || conn->state != IG_CONN_ACTIVE)
        return;
    if (status < 0) {
        if (!(conn->flags & F_GOT_BYTES)) {
            conn_fail(conn, IG_UPSTREAM_RESET_BEFORE_HEAD);
            return;
        }
        conn->flags |= F_WRITE_FAILED; /* an early answer is on its way: let the response decide */
        return;
    }
    /* the first-byte wait starts afresh once the whole request is out, so a long upload does not eat it */
    if (conn->timer_mode == T_FIRST_BYTE)
        arm_read_timer(conn);
}

/* ---- reading the response ------------------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ig_upstream_conn_t *conn = h->data;
    (void)suggested;
    if (conn->rlen == 0) {
        /* nothing pending: read into the pool's buffer */
        shrink_rbuf(conn);
        conn->rbuf = conn->pool->rbuf;
        conn->rcap = IG_UPSTREAM_RBUF_SIZE;
    } else if (conn->rlen == conn->rcap && conn->rcap < IG_UPSTREAM_MAX_HEAD) {
        /* full only while a head larger than the buffer is pending (the body is always consumed) */
        uint32_t cap = conn->rcap * 2 > IG_UPSTREAM_MAX_HEAD ? IG_UPSTREAM_MAX_HEAD : conn->rcap * 2;
        char *nb = realloc(conn->rbuf, cap);
        if (nb != NULL) {
            conn->rbuf = nb;
            conn->rcap = cap;
        }
    }
    /* a zero-length buffer makes libuv report UV_ENOBUFS, handled in on_read */
    *buf = uv_buf_init(conn->rbuf + conn->rlen, conn->rcap - conn->rlen);
}

static int parser_on_head(void *data, int status, const ig_http1_header_t *h, size_t n)
{
    ig_upstream_conn_t *conn = data;
    if (conn->req.cb.on_head != NULL) {
        ig_upstream_header_t hdrs[IG_HTTP1_MAX_HEADERS];
        for (size_t i = 0; i < n; i++) {
            hdrs[i].name = (ig_str_t){h[i].name, h[i].name_len};
            hdrs[i].value = (ig_str_t){h[i].value, h[i].value_len};
        }
        conn->req.cb.on_head(conn->req.data, status, hdrs, n);
    }
    return (conn->flags & (F_PAUSED | F_CANCELLED)) != 0;
}

static int parser_on_body(void *data, const char *p, size_t len)
{
    ig_upstream_conn_t *conn = data;
    if (conn->req.cb.on_body != NULL)
        conn->req.cb.on_body(conn->req.data, p, len);
    return (conn->flags & (F_PAUSED | F_CANCELLED)) != 0;
}

/*
 * Runs the parser over the buffered bytes. Returns FEED_MORE when the same
 * request is still running and wants more bytes; otherwise the request was
 * paused, cancelled or finished and the caller must not touch it.
 */
static int conn_feed(ig_upstream_conn_t *conn)
{
    for (;;) {
        size_t used = 0;
        conn->flags |= F_IN_FEED;
        int rc = ig_http1_response_feed(&conn->parser, conn->rbuf + conn->rstart, conn->rlen - conn->rstart, &used);
        conn->flags &= ~F_IN_FEED;
        conn->rstart += (uint32_t)used;
        if (conn->flags & F_CANCELLED)
            return FEED_STOPPED;
        if (rc == IG_HTTP1_STOPPED) {
            if (conn->flags & F_PAUSED)
                return FEED_STOPPED; /* the rest stays buffered until resume */
            continue;
        }
        if (rc < 0) {
            conn_fail(conn, IG_UPSTREAM_PROTOCOL_ERROR);
            return FEED_STOPPED;
        }
        if (rc == IG_HTTP1_DONE) {
            /* bytes after the response, or a request the engine did not read to the end: not reusable */
            int reusable = ig_http1_response_keep_alive(&conn->parser) && conn->rstart == conn->rlen &&
                           !(conn->flags & (F_WRITING | F_WRITE_FAILED));
            conn->rstart = conn->rlen = 0;
            conn_finish(conn, IG_UPSTREAM_OK, reusable);
            return FEED_STOPPED;
        }
        /* need more: keep a partial head at the front of the buffer */
        if (conn->rstart == conn->rlen) {
            conn->rstart = conn->rlen = 0;
        } else if (conn->rstart > 0) {
            memmove(conn->rbuf, conn->rbuf + conn->rstart, conn->rlen - conn->rstart);
            conn->rlen -= conn->rstart;
            conn->rstart = 0;
        }
        return FEED_MORE;
    }
}

static void on_read_end(ig_upstream_conn_t *conn, ssize_t err)
{
    if (err == UV_ENOBUFS) { /* the head outgrew IG_UPSTREAM_MAX_HEAD, or no memory to grow */
        conn_fail(conn, IG_UPSTREAM_PROTOCOL_ERROR);
        return;
    }
    /* a clean close ends a close-delimited body; a reset never completes anything */
    if (err == UV_EOF && ig_http1_response_eof(&conn->parser) == IG_HTTP1_DONE) {
        conn_finish(conn, IG_UPSTREAM_OK, 0);
        return;
    }
    conn_fail(conn, ig_http1_response_head_done(&conn->parser) ? IG_UPSTREAM_CUT : IG_UPSTREAM_RESET_BEFORE_HEAD);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ig_upstream_conn_t *conn = s->data;
    (void)buf;
    if (nread == 0)
        return;
    if (conn->state == IG_CONN_IDLE) {
        /* the engine closed its end, or sent bytes nobody asked for: this connection is finished */
        ig_upstream_pool_idle_remove(conn->pool, conn);
        ig_upstream_conn_close(conn);
        return;
    }
    if (conn->state != IG_CONN_ACTIVE)
        return;
    if (nread < 0) {
        on_read_end(conn, nread);
        return;
    }
    conn->rlen += (uint32_t)nread;
    if (!(conn->flags & F_GOT_BYTES)) {
        conn->flags |= F_GOT_BYTES;
        arm_read_timer(conn); /* from now on: the idle timeout */
    } else {
        conn->last_read = uv_now(conn->tcp.loop);
    }
    int more = conn_feed(conn) == FEED_MORE;
    /* the struct outlives this callback even when the request ended (handles close later) */
    if (rbuf_settle(conn) != 0 && more)
        conn_fail(conn, ig_http1_response_head_done(&conn->parser) ? IG_UPSTREAM_CUT : IG_UPSTREAM_RESET_BEFORE_HEAD);
}

static void on_timer(uv_timer_t *t)
{
    ig_upstream_conn_t *conn = t->data;
    int mode = conn->timer_mode;
    conn->timer_mode = T_NONE;
    switch (mode) {
    case T_CONNECT:
        conn_finish(conn, IG_UPSTREAM_CONNECT_TIMEOUT, 0);
        break;
    case T_FIRST_BYTE:
        conn_finish(conn, IG_UPSTREAM_FIRST_BYTE_TIMEOUT, 0);
        break;
    case T_IDLE: {
        uint64_t quiet = uv_now(t->loop) - conn->last_read;
        if (quiet < conn->req.idle_timeout_ms)
            timer_start(conn, T_IDLE, conn->req.idle_timeout_ms - quiet);
        else
            conn_finish(conn, IG_UPSTREAM_IDLE_TIMEOUT, 0);
        break;
    }
    case T_KEEPALIVE:
        ig_upstream_pool_idle_remove(conn->pool, conn);
        ig_upstream_conn_close(conn);
        break;
    case T_DEFER_FAIL:
        conn_fail(conn, (ig_upstream_result_t)conn->deferred_result);
        break;
    case T_DEFER_RESUME:
        /* bytes left in the buffer by pause: deliver them now, then read on */
        if (conn_feed(conn) == FEED_MORE) {
            if (start_reading(conn) != 0)
                conn_fail(conn, ig_http1_response_head_done(&conn->parser) ? IG_UPSTREAM_CUT
                                                                           : IG_UPSTREAM_RESET_BEFORE_HEAD);
            else
                arm_read_timer(conn);
        }
        break;
    default:
        break;
    }
}

/* ---- public entry points -------------------------------------------------------------------------- */

ig_upstream_conn_t *ig_upstream_conn_create(ig_upstream_pool_t *pool, const ig_endpoint_t *ep)
{
    ig_upstream_conn_t *conn = malloc(sizeof(*conn));
    if (conn == NULL)
        return NULL;
    memset(conn, 0, sizeof(*conn));
    conn->pool = pool;
    conn->ep_id = ep->id;
    conn->ep_key = ig_upstream_endpoint_key(ep);
    uv_tcp_init(pool->loop, &conn->tcp); /* neither can fail: no socket yet */
    uv_timer_init(pool->loop, &conn->timer);
    conn->tcp.data = conn;
    conn->timer.data = conn;
    conn->open_handles = 2;
    conn->state = IG_CONN_NEW;
    pool->live++;
    return conn;
}

static uint32_t clamp_ms(uint64_t ms)
{
    return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

int ig_upstream_conn_start(ig_upstream_conn_t *conn, const ig_upstream_request_t *in,
                           const ig_upstream_callbacks_t *cb, void *data)
{
    ig_upstream_req_t *r = &conn->req;
    const ig_upstream_limits_t *lim = &conn->pool->limits;
    int rc = ig_upstream_req_build(r, in);
    if (rc < 0)
        return -1;
    r->cb = *cb;
    r->data = data;
    r->endpoint = in->endpoint;
    r->connect_timeout_ms = clamp_ms(lim->connect_timeout_ms);
    r->first_byte_timeout_ms = clamp_ms(lim->first_byte_timeout_ms);
    r->idle_timeout_ms = clamp_ms(lim->idle_timeout_ms);
    ig_http1_response_init(&conn->parser, &parser_callbacks, conn, IG_UPSTREAM_MAX_HEAD);
    conn->rstart = conn->rlen = 0;
    conn->flags &= F_READING;
    timer_stop(conn); /* an idle connection's keep-alive timer */

    if (rc > 0) { /* a request we will not put on the wire */
        conn->state = IG_CONN_ACTIVE;
        defer_fail(conn, IG_UPSTREAM_PROTOCOL_ERROR);
        return 0;
    }
    if (conn->state == IG_CONN_IDLE) {
        conn->flags |= F_REUSED;
        conn->state = IG_CONN_ACTIVE;
        if (send_request(conn) != 0)
            defer_fail(conn, IG_UPSTREAM_RESET_BEFORE_HEAD); /* retried on a fresh connection */
        return 0;
    }
    if (conn_connect(conn) != 0) {
        conn->state = IG_CONN_ACTIVE;
        defer_fail(conn, IG_UPSTREAM_CONNECT_FAILED);
    }
    return 0;
}

void ig_upstream_pause(ig_upstream_req_t *r)
{
    ig_upstream_conn_t *conn = conn_of(r);
    if (conn->flags & (F_PAUSED | F_CANCELLED))
        return;
    conn->flags |= F_PAUSED;
    if (conn->state != IG_CONN_ACTIVE || conn->timer_mode == T_DEFER_FAIL)
        return; /* connecting: reading starts paused; failing: nothing to stop */
    stop_reading(conn);
    /* our silence is not the engine's: no read timeouts while paused */
    if (conn->timer_mode == T_FIRST_BYTE || conn->timer_mode == T_IDLE || conn->timer_mode == T_DEFER_RESUME)
        timer_stop(conn);
}

void ig_upstream_resume(ig_upstream_req_t *r)
{
    ig_upstream_conn_t *conn = conn_of(r);
    if (!(conn->flags & F_PAUSED) || (conn->flags & F_CANCELLED))
        return;
    conn->flags &= ~F_PAUSED;
    if (conn->state != IG_CONN_ACTIVE || conn->timer_mode == T_DEFER_FAIL)
        return;
    if (!(conn->flags & F_IN_FEED) &&
        (conn->rstart < conn->rlen || ig_http1_response_done(&conn->parser))) {
        /* buffered bytes (or the end) are delivered from the loop, never from inside resume */
        timer_start(conn, T_DEFER_RESUME, 0);
        return;
    }
    /* inside a callback, the running feed goes on by itself */
    if (start_reading(conn) != 0)
        defer_fail(conn, ig_http1_response_head_done(&conn->parser) ? IG_UPSTREAM_CUT : IG_UPSTREAM_RESET_BEFORE_HEAD);
    else
        arm_read_timer(conn);
}

void ig_upstream_cancel(ig_upstream_req_t *r)
{
    ig_upstream_conn_t *conn = conn_of(r);
    if (conn->flags & F_CANCELLED)
        return;
    conn->flags |= F_CANCELLED;
    if (conn->state == IG_CONN_IDLE) /* misuse (the request had ended), but keep the list sound */
        ig_upstream_pool_idle_remove(conn->pool, conn);
    ig_upstream_conn_close(conn);
}
