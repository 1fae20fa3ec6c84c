/*
 * conn_guard.c — the hook points into libh2o (conn_guard.h); what to allow is h2_guard.c's.
 *
 *   h2o_http2_accept        learns h2o's HTTP/2 read callback (the first one it starts reading with);
 *                           TLS (ALPN) and h2c with prior knowledge come through it
 *   h2o_http2_handle_upgrade refuses h2c by HTTP/1.1 Upgrade (deprecated by RFC 9113): such a
 *                           connection would read with that callback without passing accept, so
 *                           the first one of a process would be unguarded; the request is answered
 *                           in HTTP/1.1 instead
 *   h2o_socket_read_start   gives each HTTP/2 connection its guard (hung on the socket's on_close)
 *                           and wraps the read callback, so the hooks below know the connection
 *   h2o_http2_decode_frame  a RST_STREAM from the client is charged to the connection's budget;
 *                           over it, the frame fails with ENHANCE_YOUR_CALM: h2o sends GOAWAY, closes
 *   h2o_http2_stream_reset  a stream h2o resets because of the client's frame being handled (a
 *                           zero WINDOW_UPDATE, DATA beyond its length...: "MadeYouReset") is charged
 *                           the same; over budget, the connection's next frame fails as above
 *   h2o_http2_stream_close  a stream answered to its end refunds a reset
 *   h2o_hpack_parse_headers a block whose decoded size is over the limit fails with ENHANCE_YOUR_CALM
 *                           before h2o decodes (and allocates) anything; a request decoded is
 *                           watched for its body (content-length, whether an API call has a key)
 *   h2o_http2_decode_frame  (again) DATA is counted before h2o buffers it (a body past
 *                           maxBodySize is counted and answered 413 once whole): a keyless API
 *                           call past 64 KiB, or the body budget spent, and the stream is
 *                           refused with RST_STREAM (CANCEL; REFUSED_STREAM for the budget, which
 *                           clients retry) and reset while it is still receiving, so h2o drops it
 *                           and answers the rest of its DATA with STREAM_CLOSED. h2o 2.2 cannot
 *                           answer such a stream with a status (it dispatches only whole bodies).
 * Everything here runs on the worker owning the connection; only h2_on_read is shared.
 */
#include "http/conn_guard.h"
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "http/h2o_layout.h"
#include "http/h2o_stream.h"
#include "http/h2_guard.h"
#include "observe/log.h"
#include "util/api.h"

typedef void (*accept_fn)(h2o_accept_ctx_t *, h2o_socket_t *, struct timeval);
typedef void (*read_start_fn)(h2o_socket_t *, h2o_socket_cb);
typedef ssize_t (*decode_frame_fn)(ig_h2o_frame_t *, const uint8_t *, size_t, const void *,
                                   const char **);
typedef int (*parse_headers_fn)(h2o_req_t *, ig_h2o_hpack_table_t *, const uint8_t *, size_t, int *, size_t *,
                                void **, const char **);
typedef void (*stream_close_fn)(void *, void *);
typedef void (*stream_reset_fn)(void *, void *);

static struct {
    accept_fn accept;
    read_start_fn read_start;
    decode_frame_fn decode_frame;
    parse_headers_fn parse_headers;
    stream_close_fn stream_close;
    stream_reset_fn stream_reset;
} real;

static _Atomic(h2o_socket_cb) h2_on_read; /* h2o's static on_read of HTTP/2 connections */

typedef struct {
    uint32_t stream_id;
    void *stream;                  /* h2o's h2o_http2_stream_t, open until h2o_http2_stream_close */
    ig_h2_body_t body;
    ig_h2_body_verdict_t refuse;   /* decided at the head: refused at its first DATA */
    unsigned ended : 1;            /* END_STREAM seen: h2o handed the request on */
} body_entry_t;

typedef struct guard_s {
    void *conn;
    body_entry_t *bodies;          /* the streams with a request, for their DATA */
    size_t nbodies, capbodies;
    h2o_socket_t *sock;
    ig_h2_reset_budget_t budget;
    int over;                      /* over budget by resets h2o made: the next frame ends the connection */
    void (*prev_close_cb)(void *);
    void *prev_close_data;
    struct guard_s *next, **pprev; /* the worker's guards, for input parsed outside the read callback */
} guard_t;

static _Thread_local guard_t *tl_guards;
static _Thread_local guard_t *tl_reading; /* the connection whose input the read callback parses */
static _Thread_local int tl_accepting;
static _Thread_local int tl_in_read; /* inside a guarded read callback or accept: frames are being handled */
static _Thread_local struct {
    void *conn;
    uint32_t stream_id;
} tl_frame; /* the client's frame h2o is handling (inside tl_in_read) */
static _Thread_local struct {
    void *conn;
    uint32_t stream_id;
} tl_rst; /* the client's RST_STREAM h2o is handling: that stream's close is no completion */

static void *resolve(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) {
        ig_log_error("HTTP/2 guard: h2o's %s not found behind the hook: %s", name, dlerror());
        abort(); /* a hook that cannot forward would break every connection */
    }
    return f;
}

int ig_conn_guard_init(void)
{
    if (real.accept != NULL)
        return 0;
    real.read_start = (read_start_fn)resolve("h2o_socket_read_start");
    real.decode_frame = (decode_frame_fn)resolve("h2o_http2_decode_frame");
    real.parse_headers = (parse_headers_fn)resolve("h2o_hpack_parse_headers");
    real.stream_close = (stream_close_fn)resolve("h2o_http2_stream_close");
    real.stream_reset = (stream_reset_fn)resolve("h2o_http2_stream_reset");
    real.accept = (accept_fn)resolve("h2o_http2_accept");
    return 0;
}

int ig_conn_guard_active(void)
{
    return atomic_load_explicit(&h2_on_read, memory_order_relaxed) != NULL;
}

static guard_t *guard_of_sock(h2o_socket_t *sock);

static void body_forget(guard_t *g, size_t i)
{
    ig_h2_body_done(&g->bodies[i].body);
    g->bodies[i] = g->bodies[--g->nbodies];
}

static void on_guarded_close(void *data)
{
    guard_t *g = data;
    while (g->nbodies > 0)
        body_forget(g, g->nbodies - 1);
    free(g->bodies);
    *g->pprev = g->next;
    if (g->next != NULL)
        g->next->pprev = g->pprev;
    if (tl_reading == g)
        tl_reading = NULL;
    if (g->prev_close_cb != NULL)
        g->prev_close_cb(g->prev_close_data);
    free(g);
}

static guard_t *guard_of_sock(h2o_socket_t *sock)
{
    return sock->on_close.cb == on_guarded_close ? sock->on_close.data : NULL;
}

/* The connection h2o parses input of: src is always the start of its socket's input buffer. */
static guard_t *guard_of_input(const uint8_t *src)
{
    if (tl_reading != NULL && tl_reading->sock->input != NULL && (const uint8_t *)tl_reading->sock->input->bytes == src)
        return tl_reading;
    for (guard_t *g = tl_guards; g != NULL; g = g->next) /* rare: input parsed outside the read callback */
        if (g->sock->input != NULL && (const uint8_t *)g->sock->input->bytes == src)
            return g;
    return NULL;
}

static void attach(h2o_socket_t *sock)
{
    ig_h2o_conn_head_t *conn = sock->data;
    if (guard_of_sock(sock) != NULL || conn == NULL || conn->sock != sock) /* the layout check */
        return;
    guard_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return; /* unguarded rather than unserved */
    g->conn = conn;
    g->sock = sock;
    ig_h2_reset_budget_init(&g->budget, ig_h2_guard_reset_budget());
    g->prev_close_cb = sock->on_close.cb;
    g->prev_close_data = sock->on_close.data;
    sock->on_close.cb = on_guarded_close;
    sock->on_close.data = g;
    g->next = tl_guards;
    if (g->next != NULL)
        g->next->pprev = &g->next;
    g->pprev = &tl_guards;
    tl_guards = g;
}

static void guarded_on_read(h2o_socket_t *sock, const char *err)
{
    guard_t *outer = tl_reading;
    tl_reading = guard_of_sock(sock);
    tl_in_read++;
    atomic_load_explicit(&h2_on_read, memory_order_relaxed)(sock, err);
    tl_in_read--;
    tl_frame.conn = NULL;
    tl_reading = outer; /* the connection may be gone now; only the pointer is restored */
}

/* ---- the hooks ------------------------------------------------------------------------------- */

void h2o_http2_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, struct timeval connected_at)
{
    ig_conn_guard_init();
    tl_accepting = 1;
    tl_in_read++; /* h2o parses what came with the connection before returning */
    real.accept(ctx, sock, connected_at);
    tl_in_read--;
    tl_frame.conn = NULL;
    tl_accepting = 0;
}

int h2o_http2_handle_upgrade(h2o_req_t *req, struct timeval connected_at)
{
    (void)req;
    (void)connected_at;
    return -1; /* h2o then serves the request in HTTP/1.1, as when the HTTP2-Settings header is bad */
}

void h2o_socket_read_start(h2o_socket_t *sock, h2o_socket_cb cb)
{
    if (real.read_start == NULL)
        ig_conn_guard_init();
    h2o_socket_cb h2 = atomic_load_explicit(&h2_on_read, memory_order_relaxed);
    if (tl_accepting) {
        tl_accepting = 0; /* h2o_http2_accept's first read callback is HTTP/2's */
        if (h2 == NULL) {
            atomic_compare_exchange_strong(&h2_on_read, &h2, cb);
            h2 = cb;
        }
    }
    if (cb != NULL && cb == h2) {
        attach(sock);
        cb = guarded_on_read;
    }
    real.read_start(sock, cb);
}

static int end_calmly(guard_t *g, const char **err_desc)
{
    ig_h2_guard_count_ended();
    ig_log_warn("HTTP/2 connection ended with GOAWAY ENHANCE_YOUR_CALM: %llu stream resets against %llu "
                "streams answered, over server.clientLimits.h2ResetBudget (%u)",
                (unsigned long long)g->budget.resets, (unsigned long long)g->budget.completed, g->budget.budget);
    *err_desc = "too many stream resets (server.clientLimits.h2ResetBudget)";
    return H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM;
}

/* DATA about to be handled by h2o: counted, or its stream refused before h2o buffers it */
static void on_data(guard_t *g, const ig_h2o_frame_t *frame)
{
    size_t i = 0;
    while (i < g->nbodies && g->bodies[i].stream_id != frame->stream_id)
        i++;
    if (i == g->nbodies || g->bodies[i].ended)
        return; /* not a request being received: h2o answers such DATA itself */
    body_entry_t *e = &g->bodies[i];
    if (((ig_h2o_stream_head_t *)e->stream)->state != IG_H2_STREAM_STATE_RECV_BODY)
        return;
    ig_h2_body_verdict_t v = e->refuse != IG_H2_BODY_OK ? e->refuse : ig_h2_body_data(&e->body, frame->length);
    if (v == IG_H2_BODY_OK) {
        e->ended = (frame->flags & IG_H2_FRAME_FLAG_END_STREAM) != 0;
        return;
    }
    void *stream = e->stream;
    size_t received = e->body.received + frame->length;
    body_forget(g, i);
    ig_log_info("HTTP/2 stream %u refused after %zu body bytes: %s", (unsigned)frame->stream_id, received,
                v == IG_H2_BODY_KEYLESS ? "API call without a key, body over 64 KiB"
                                          : "server.clientLimits.bodyBudgetBytes spent");
    ig_h2o_send_rst_stream(g->conn, frame->stream_id, v == IG_H2_BODY_BUSY ? 0x7 /* REFUSED_STREAM */ : 0x8 /* CANCEL */);
    /* not the hook: a refusal of ours is no reset by the client */
    real.stream_reset(g->conn, stream);
}

ssize_t h2o_http2_decode_frame(ig_h2o_frame_t *frame, const uint8_t *src, size_t len,
                               const void *host_settings, const char **err_desc)
{
    if (real.decode_frame == NULL)
        ig_conn_guard_init();
    tl_rst.conn = NULL;
    tl_frame.conn = NULL;
    ssize_t ret = real.decode_frame(frame, src, len, host_settings, err_desc);
    if (ret < 0)
        return ret;
    guard_t *g = guard_of_input(src);
    if (g == NULL)
        return ret;
    if (g->over)
        return end_calmly(g, err_desc);
    if (tl_in_read) {
        tl_frame.conn = g->conn;
        tl_frame.stream_id = frame->stream_id;
    }
    if (frame->type == IG_H2_FRAME_DATA)
        on_data(g, frame);
    if (frame->type != IG_H2_FRAME_RST_STREAM)
        return ret;
    tl_rst.conn = g->conn;
    tl_rst.stream_id = frame->stream_id;
    if (ig_h2_reset_budget_charge(&g->budget))
        return end_calmly(g, err_desc);
    return ret;
}

void h2o_http2_stream_reset(void *conn_, void *stream_)
{
    if (real.stream_reset == NULL)
        ig_conn_guard_init();
    ig_h2o_conn_head_t *conn = conn_;
    ig_h2o_stream_head_t *stream = stream_;
    /* h2o resets the stream the client's frame is about, and the client did not ask for it itself */
    if (tl_in_read && tl_frame.conn == conn && tl_frame.stream_id == stream->stream_id &&
        !(tl_rst.conn == conn && tl_rst.stream_id == stream->stream_id) && conn->sock != NULL) {
        guard_t *g = guard_of_sock(conn->sock);
        if (g != NULL && ig_h2_reset_budget_charge(&g->budget))
            g->over = 1;
        tl_rst.conn = conn; /* its close is no completion either */
        tl_rst.stream_id = stream->stream_id;
    }
    real.stream_reset(conn_, stream_);
}

void h2o_http2_stream_close(void *conn_, void *stream_)
{
    ig_h2o_conn_head_t *conn = conn_;
    ig_h2o_stream_head_t *stream = stream_;
    if (real.stream_close == NULL)
        ig_conn_guard_init();
    if (stream->state == IG_H2_STREAM_STATE_END_STREAM &&
        !(tl_rst.conn == conn && tl_rst.stream_id == stream->stream_id)) {
        guard_t *g = conn->sock != NULL ? guard_of_sock(conn->sock) : NULL;
        if (g != NULL)
            ig_h2_reset_budget_refund(&g->budget);
    }
    guard_t *g = conn->sock != NULL ? guard_of_sock(conn->sock) : NULL;
    for (size_t i = g != NULL ? g->nbodies : 0; i-- > 0;)
        if (g->bodies[i].stream == stream_)
            body_forget(g, i);
    real.stream_close(conn_, stream_);
}

/* A request's head was decoded: its body (if one follows) is watched from its first DATA. */
static void watch_body(h2o_req_t *req, size_t content_length)
{
    ig_h2o_conn_head_t *conn = (ig_h2o_conn_head_t *)req->conn;
    guard_t *g = conn != NULL && conn->sock != NULL ? guard_of_sock(conn->sock) : NULL;
    if (g == NULL || g->conn != conn)
        return;
    void *stream = ig_h2o_stream_of_req(req);
    for (size_t i = 0; i < g->nbodies; i++)
        if (g->bodies[i].stream == stream)
            return; /* watched already */
    if (g->nbodies == g->capbodies) {
        size_t cap = g->capbodies ? 2 * g->capbodies : 8;
        body_entry_t *b = realloc(g->bodies, cap * sizeof(*b));
        if (b == NULL)
            return; /* unwatched rather than unserved: h2o's own limit (2 x maxBodySize) still holds */
        g->bodies = b;
        g->capbodies = cap;
    }
    h2o_iovec_t path = req->input.path;
    size_t plen = 0;
    while (plen < path.len && path.base[plen] != '?')
        plen++;
    int api_post = h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("POST")) &&
                   ig_api_from_path(path.base, plen) != IG_API_NONE;
    /* a session cookie counts as a key: the console turns it into one (console_api.c) */
    int has_key = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) >= 0 ||
                  h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-api-key"), -1) >= 0 ||
                  h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, -1) >= 0;
    body_entry_t *e = &g->bodies[g->nbodies++];
    *e = (body_entry_t){.stream = stream};
    e->stream_id = ((ig_h2o_stream_head_t *)e->stream)->stream_id;
    e->refuse = ig_h2_body_head(&e->body, content_length, api_post, has_key);
}

static void table_entry(void *ctx, size_t index, size_t *name_len, size_t *value_len)
{
    ig_h2o_hpack_table_t *t = ctx; /* h2o_hpack_header_table_get: entry 0 is the newest */
    ig_h2o_hpack_entry_t *e = t->entries + (index + t->entry_start_index) % t->entry_capacity;
    *name_len = e->name->len;
    *value_len = e->value->len;
}

int h2o_hpack_parse_headers(h2o_req_t *req, ig_h2o_hpack_table_t *table, const uint8_t *src, size_t len,
                            int *pseudo_header_exists_map, size_t *content_length, void **digests,
                            const char **err_desc)
{
    if (real.parse_headers == NULL)
        ig_conn_guard_init();
    ig_hpack_table_view_t view = {table->num_entries, table->hpack_size, table->hpack_capacity,
                                  table->hpack_max_capacity, table_entry, table};
    if (ig_h2_guard_check_headers(src, len, &view, err_desc) != 0)
        return H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM;
    int ret = real.parse_headers(req, table, src, len, pseudo_header_exists_map, content_length, digests, err_desc);
    if (ret == 0 && content_length != NULL) /* a request's head (trailers come without content_length) */
        watch_body(req, *content_length);
    return ret;
}
