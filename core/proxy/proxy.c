/*
 * proxy.c — one OpenAI API request, from the router's call to h2o's dispose (proxy.h).
 *
 * The stages around plugins are files of their own: auth.c (who calls), ratelimit.c (may it),
 * balance.c (which endpoint), usage.c (what it consumed). This file keeps the request's lifecycle,
 * an explicit state:
 *
 *   AUTHENTICATING  the auth stage decides (its plugin may answer later)
 *   ADMITTING       body read, model resolved; the rate limiters decide (they may answer later)
 *   DISPATCHING     admitted, or out of a wait: choosing where to go next (never outlasts a call)
 *   QUEUED          in the worker's queue until the model has a ready endpoint (a place in model->queued)
 *   ENGINE_WAIT     an endpoint is picked; in the worker's queue until the engine's before_send is
 *                   asked again (IG_ENGINE_WAIT)
 *   CONTROL         the engine's control request to the picked endpoint is in flight
 *   SENDING         the request is with the engine; nothing has reached the client yet
 *   ERROR_BODY      the engine answered >= 400: its body is held, to answer OpenAI-shaped at its end
 *   STREAMING       the response has started to the client; the engine still answers
 *   FLUSHING        the engine is done; the final bytes wait until the client took the previous ones
 *   DONE            answered (the final bytes or an error are with h2o); nothing upstream is open
 *   CLOSED          the client left first (h2o stopped the generator or disposed of the request);
 *                   everything under way was stopped, nothing more is sent
 *
 * Transitions (the table in set_state checks them):
 *   AUTHENTICATING -> ADMITTING | DONE (refused, bad body, unknown model)
 *   ADMITTING      -> DISPATCHING | DONE (429)
 *   DISPATCHING    -> DISPATCHING | QUEUED | ENGINE_WAIT | CONTROL | SENDING | DONE
 *   QUEUED, ENGINE_WAIT, CONTROL -> DISPATCHING (released, answered) | DONE (expired, refused)
 *   SENDING        -> DISPATCHING (retried on another endpoint) | ERROR_BODY | STREAMING | DONE
 *   ERROR_BODY     -> DONE;   STREAMING -> FLUSHING | DONE;   FLUSHING -> DONE
 *   every state but DONE -> CLOSED; DONE and CLOSED last until h2o disposes of the request.
 * At the end of the grace period (cut_for_shutdown) a request not yet STREAMING is answered 503 and
 * a STREAMING one ends with a final error event.
 *
 * A few facts are not where the request is, and stay flags (see proxy_t): in_send and paused are the
 * client side's flow control, sse the response's kind, engine_open the on_response_end() still owed
 * to the engine plugin (it spans states, and a rebind re-arms it).
 */
#include "proxy/proxy.h"
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "http/audio_request.h"
#include "http/openai_error.h"
#include "http/openai_request.h"
#include "http/h2o_conn.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"
#include "proxy/auth.h"
#include "proxy/balance.h"
#include "proxy/ratelimit.h"
#include "proxy/request_queue.h"
#include "proxy/usage.h"
#include "server/worker.h"
#include "upstream/upstream.h"
#include "util/json.h"

#define PROXY_PAUSE_BYTES (256 * 1024) /* stop reading the engine when this much waits for the client */
#define PROXY_ERROR_BODY_MAX (64 * 1024)
#define PROXY_CONTROL_BODY_MAX (64 * 1024) /* what an engine's control answer may hand to on_control_done */

typedef enum {
    PROXY_AUTHENTICATING,
    PROXY_ADMITTING,
    PROXY_DISPATCHING,
    PROXY_QUEUED,
    PROXY_ENGINE_WAIT,
    PROXY_CONTROL,
    PROXY_SENDING,
    PROXY_ERROR_BODY,
    PROXY_STREAMING,
    PROXY_FLUSHING,
    PROXY_DONE,
    PROXY_CLOSED
} proxy_state_t;

typedef struct {
    h2o_generator_t generator;   /* first: h2o hands it back to proceed/stop */
    ig_sink_t sink;              /* what the engine writes client-bound bytes to */
    h2o_req_t *req;
    ig_worker_t *worker;
    ig_worker_request_t tracked; /* in the worker's list of requests being served (cut at shutdown) */
    proxy_state_t state;
    ig_generation_t *gen;        /* held (ghold) from start to dispose: auth, limits and billing are its */
    ig_worker_gen_t *ghold;
    const ig_model_rt_t *model;  /* in mgen, resolved before admission */
    ig_str_t adapter;
    ig_generation_t *mgen;       /* the generation model belongs to: gen, or a newer one when a reload landed
                                    while the request waited in the queue (held by mhold then) */
    ig_worker_gen_t *mhold;
    ig_request_log_t *log;
    const char *scope;           /* the model the request's address names, or NULL (config memory of gen) */
    ig_auth_stage_t auth;        /* auth.principal: the caller (pool memory), NULL when anonymous */
    ig_ratelimit_stage_t limits;
    ig_balance_t balance;        /* the attempts and the endpoint of the one under way */
    int64_t started_unix_ms;
    ig_openai_request_t oreq;
    ig_audio_request_t *audio;   /* the form of an audio request (pool), else NULL */
    ig_engine_req_t ereq;
    ig_upstream_req_t *up;       /* the request to the engine: SENDING, ERROR_BODY, STREAMING */
    ig_queue_entry_t queued;     /* QUEUED and ENGINE_WAIT */
    uint64_t queue_deadline_ms;  /* loop time a queued request gives up; 0 until it first waits */
    uint64_t wait_deadline_ms;   /* loop time an IG_ENGINE_WAIT gives up (server.firstByteTimeout) */
    ig_upstream_req_t *ctl;      /* the engine's control request, CONTROL */
    h2o_buffer_t *ctl_body;
    int ctl_status;
    h2o_buffer_t *pending, *sending; /* bytes on their way to the client: two alternate, since h2o
                                        keeps a sent buffer until proceed() */
    ig_upstream_result_t result;
    const char *content_type;
    h2o_timeout_entry_t deferred; /* HTTP/2: the start waits for the end of the input read with it */
    h2o_timeout_entry_t stall;   /* while in_send: checks each second that the client still takes bytes */
    uint64_t send_since_ms;      /* loop time of the h2o_send that awaits proceed() */
    unsigned in_send : 1;        /* an h2o_send awaits proceed(): h2o's flow control, STREAMING and FLUSHING */
    unsigned paused : 1;         /* reading the engine is paused until the client takes what waits */
    unsigned sse : 1;            /* the engine answers an event stream: an early end is an error event */
    unsigned engine_open : 1;    /* prepare() succeeded, on_response_end() not yet called */
    unsigned engine_complete : 1;/* on_response_end() was told the answer was complete (for billing) */
} proxy_t;

/* ---- the state ------------------------------------------------------------------------------- */

#define S(x) (1u << PROXY_##x)
#define ANSWERED (S(DONE) | S(CLOSED))
static const unsigned allowed_next[] = {
    [PROXY_AUTHENTICATING] = S(ADMITTING) | ANSWERED,
    [PROXY_ADMITTING] = S(DISPATCHING) | ANSWERED,
    [PROXY_DISPATCHING] = S(DISPATCHING) | S(QUEUED) | S(ENGINE_WAIT) | S(CONTROL) | S(SENDING) | ANSWERED,
    [PROXY_QUEUED] = S(DISPATCHING) | ANSWERED,
    [PROXY_ENGINE_WAIT] = S(DISPATCHING) | ANSWERED,
    [PROXY_CONTROL] = S(DISPATCHING) | ANSWERED,
    [PROXY_SENDING] = S(DISPATCHING) | S(ERROR_BODY) | S(STREAMING) | ANSWERED,
    [PROXY_ERROR_BODY] = ANSWERED,
    [PROXY_STREAMING] = S(FLUSHING) | ANSWERED,
    [PROXY_FLUSHING] = ANSWERED,
    [PROXY_DONE] = 0,
    [PROXY_CLOSED] = 0,
};
#undef S

/* A transition the table does not allow is a core bug: logged, and fatal in sanitized builds (the tests). */
static void set_state(proxy_t *p, proxy_state_t next)
{
    if (!(allowed_next[p->state] & (1u << next))) {
        ig_log_error("proxy: request for model %s went from state %d to %d, which the lifecycle does not allow",
                     p->oreq.model_name, (int)p->state, (int)next);
#ifdef __SANITIZE_ADDRESS__
        abort();
#endif
    }
    p->state = next;
}

static void dispatch(proxy_t *p);
static void start_attempt(proxy_t *p);
static int stop_work(proxy_t *p);
static void end_engine(proxy_t *p, int complete, ig_sink_t *sink);
static ig_sink_t null_sink;
static void engine_gate(proxy_t *p);

/* ---- client-bound bytes --------------------------------------------------------------------- */

/* h2o's buffers, first 1 KiB (most writes are one SSE event or one small answer), doubling. Nothing is
 * recycled (allocator.max 0), so h2o never writes to this prototype and every worker shares it. */
static h2o_buffer_prototype_t outbuf_prototype = {{0}, {1024}};

static int outbuf_append(h2o_buffer_t **b, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    h2o_iovec_t room = h2o_buffer_reserve(b, len);
    if (room.base == NULL)
        return -1;
    memcpy(room.base, data, len);
    (*b)->size += len;
    return 0;
}

static void outbuf_clear(h2o_buffer_t **b)
{
    h2o_buffer_consume(b, (*b)->size); /* not a write to the prototype while nothing was allocated */
}

static void sink_write(ig_sink_t *sink, const char *data, size_t len)
{
    proxy_t *p = (proxy_t *)((char *)sink - offsetof(proxy_t, sink));
    if (p->state == PROXY_CLOSED || len == 0)
        return;
    if (outbuf_append(&p->pending, data, len) != 0) {
        ig_log_error("out of memory buffering a response for model %s", p->oreq.model_name);
        p->result = IG_UPSTREAM_CUT;
    }
}

static void null_write(ig_sink_t *sink, const char *data, size_t len)
{
}

static ig_sink_t null_sink = {null_write};

static void on_proceed(h2o_generator_t *g, h2o_req_t *req);
static void on_stop(h2o_generator_t *g, h2o_req_t *req);

/* SENDING -> STREAMING: the engine's status and content type go out with the first bytes. */
static void start_response(proxy_t *p)
{
    h2o_req_t *req = p->req;
    req->res.status = p->ereq.upstream_status;
    req->res.reason = ig_http_reason(req->res.status);
    const char *ct = p->content_type ? p->content_type : "application/json";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    if (p->sse)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    p->generator.proceed = on_proceed;
    p->generator.stop = on_stop;
    h2o_start_response(req, &p->generator);
    set_state(p, PROXY_STREAMING);
}

/* ---- a client that stops reading (server.clientTimeouts.sendStall) ------------------------------ */

/*
 * The client no longer takes what the engine produces: h2o's flow control (HTTP/2 window, TCP
 * window) holds the send, and with it the engine request, for as long as the client likes. The
 * engine request is cut and billed as far as it got (499, like a client that left), and the
 * connection is shut down so that h2o closes it.
 */
static void on_send_stall(h2o_timeout_entry_t *e);

static void stall_watch(proxy_t *p)
{
    p->send_since_ms = uv_now(&p->worker->loop);
    if (p->gen->config->server.client_timeouts.send_stall_ms == 0 || h2o_timeout_is_linked(&p->stall))
        return;
    p->stall.cb = on_send_stall;
    h2o_timeout_link(p->req->conn->ctx->loop, &p->req->conn->ctx->one_sec_timeout, &p->stall);
}

/* h2o 2.2 has no call to end one connection: shut its socket down, h2o sees the end and closes it */
static void shutdown_client(h2o_req_t *req)
{
    h2o_socket_t *sock = ig_h2o_conn_socket(req->conn);
    if (sock != NULL)
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
}

static void on_send_stall(h2o_timeout_entry_t *e)
{
    proxy_t *p = (proxy_t *)((char *)e - offsetof(proxy_t, stall));
    if (!p->in_send || p->state != PROXY_STREAMING)
        return; /* the client took the bytes, or the engine is done: nothing is held any more */
    uint64_t stall = (uint64_t)p->gen->config->server.client_timeouts.send_stall_ms;
    if (uv_now(&p->worker->loop) - p->send_since_ms < stall) {
        h2o_timeout_link(p->req->conn->ctx->loop, &p->req->conn->ctx->one_sec_timeout, &p->stall);
        return;
    }
    ig_log_info("model %s: the client took no response bytes for %llu ms (server.clientTimeouts.sendStall): "
                "the engine request is cancelled and the connection closed",
                p->oreq.model_name, (unsigned long long)stall);
    stop_work(p);
    p->log->outcome = "client stopped reading (server.clientTimeouts.sendStall)";
    end_engine(p, 0, &null_sink);
    set_state(p, PROXY_CLOSED);
    shutdown_client(p->req);
}

/* Hands pending bytes to h2o when it is ready for them; FLUSHING: the final send, then DONE. */
static void flush(proxy_t *p)
{
    if (p->in_send)
        return;
    /* the status goes out with the first byte, so an engine failing before it still gets a clean 502 */
    if (p->state == PROXY_SENDING && p->pending->size != 0)
        start_response(p);
    int final = p->state == PROXY_FLUSHING;
    if (!final && (p->state != PROXY_STREAMING || p->pending->size == 0))
        return;
    h2o_buffer_t *t = p->sending;
    p->sending = p->pending;
    p->pending = t;
    outbuf_clear(&p->pending);
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    if (final) {
        /* a stream cut short still ends cleanly: it carries an error event the client can read */
        state = p->result == IG_UPSTREAM_OK || p->sse ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
        set_state(p, PROXY_DONE);
    }
    if (p->sending->size != 0 && p->log->first_byte_ns == 0)
        p->log->first_byte_ns = ig_now_ns();
    h2o_iovec_t buf = h2o_iovec_init(p->sending->bytes, p->sending->size);
    p->in_send = !final;
    if (p->in_send)
        stall_watch(p);
    h2o_send(p->req, &buf, buf.len ? 1 : 0, state);
}

/* The engine is done (or the response is cut): what waits goes out as the final send. */
static void finish_response(proxy_t *p)
{
    if (p->state == PROXY_SENDING)
        start_response(p);
    set_state(p, PROXY_FLUSHING);
    flush(p);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    proxy_t *p = (proxy_t *)g;
    p->in_send = 0;
    outbuf_clear(&p->sending);
    if (p->paused && p->up != NULL) {
        p->paused = 0;
        ig_upstream_resume(p->up);
    }
    flush(p);
}

/* An SSE error event: how a stream that already started says why it ends early. */
static void sink_error_event(proxy_t *p, const char *code, const char *msg, size_t len)
{
    h2o_iovec_t body = ig_openai_error_body(&p->req->pool, "server_error", NULL, code, msg, len);
    sink_write(&p->sink, "data: ", 6);
    sink_write(&p->sink, body.base, body.len - 1);
    sink_write(&p->sink, "\n\n", 2);
}

/* ---- stopping what is under way --------------------------------------------------------------- */

static void end_engine(proxy_t *p, int complete, ig_sink_t *sink)
{
    if (!p->engine_open)
        return;
    p->engine_open = 0;
    p->engine_complete = complete != 0;
    p->model->engine->on_response_end(p->model->engine_plugin_state, &p->ereq, complete, sink);
}

/* The request no longer waits: give its place in the model's bound back. */
static void queue_place_release(proxy_t *p)
{
    atomic_fetch_sub_explicit(&((ig_model_rt_t *)p->model)->queued, 1, memory_order_relaxed);
    if (p->model->replicas != NULL)
        atomic_fetch_sub_explicit(&p->model->replicas->waiting, 1, memory_order_relaxed);
}

/* The client left during a control request: stop it; the plugin still hears of it (status 0). */
static void control_cancel(proxy_t *p)
{
    if (p->ctl == NULL)
        return;
    ig_upstream_cancel(p->ctl);
    p->ctl = NULL;
    ig_error_t err = {{0}};
    p->model->engine->on_control_done(p->model->engine_plugin_state, &p->ereq, p->balance.ep, 0, NULL, 0, &err);
}

/*
 * Stops whatever the request waits for or runs: a plugin deciding about it (told, and never touches
 * it again), its place in the queue, the engine's control request, the request to the engine.
 * Returns 1 when the request to the engine was cut.
 */
static int stop_work(proxy_t *p)
{
    ig_auth_cancel(&p->auth);
    ig_ratelimit_cancel(&p->limits);
    if (p->state == PROXY_QUEUED || p->state == PROXY_ENGINE_WAIT) {
        ig_request_queue_remove(&p->worker->queue, &p->queued);
        if (p->state == PROXY_QUEUED)
            queue_place_release(p);
    }
    control_cancel(p);
    int cut = p->up != NULL;
    if (cut) {
        ig_upstream_cancel(p->up);
        p->up = NULL;
    }
    ig_balance_release(&p->balance, 0); /* picked, and in its control, wait or request */
    return cut;
}

/* The client is gone (h2o stopped the generator, or disposed of the request first). */
static void close_request(proxy_t *p)
{
    if (p->state == PROXY_DONE || p->state == PROXY_CLOSED)
        return;
    if (stop_work(p) && p->log->outcome == NULL)
        p->log->outcome = "client closed";
    end_engine(p, 0, &null_sink);
    set_state(p, PROXY_CLOSED);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    close_request((proxy_t *)g);
}

/* ---- answering with an error ------------------------------------------------------------------ */

static int is_retryable(ig_upstream_result_t r)
{
    return r == IG_UPSTREAM_CONNECT_FAILED || r == IG_UPSTREAM_CONNECT_TIMEOUT || r == IG_UPSTREAM_RESET_BEFORE_HEAD;
}

static int can_retry(proxy_t *p)
{
    return ig_balance_can_retry(&p->balance, p->model, p->gen->config->server.retries);
}

/* The engine failed before answering: a gateway error naming the model, not the engine's address. */
static void fail_upstream(proxy_t *p, ig_upstream_result_t r)
{
    const ig_server_config_t *sc = &p->gen->config->server;
    const char *name = p->oreq.model_name;
    unsigned attempts = p->balance.attempts;
    p->log->outcome = ig_upstream_result_str(r);
    switch (r) {
    case IG_UPSTREAM_CONNECT_TIMEOUT:
        ig_send_error(p->req, 504, "server_error", NULL, "upstream_timeout",
                      "model `%s`: no engine endpoint accepted a connection within %llums", name,
                      (unsigned long long)sc->connect_timeout_ms);
        break;
    case IG_UPSTREAM_FIRST_BYTE_TIMEOUT:
        ig_send_error(p->req, 504, "server_error", NULL, "upstream_timeout",
                      "model `%s`: the engine did not start answering within %llums", name,
                      (unsigned long long)sc->first_byte_timeout_ms);
        break;
    case IG_UPSTREAM_IDLE_TIMEOUT:
        ig_send_error(p->req, 504, "server_error", NULL, "upstream_timeout",
                      "model `%s`: the engine stopped answering mid-response for %llums", name,
                      (unsigned long long)sc->idle_timeout_ms);
        break;
    default:
        ig_send_error(p->req, 502, "server_error", NULL, "upstream_error",
                      "model `%s`: the engine failed (%s) after %u attempt%s", name, ig_upstream_result_str(r),
                      attempts, attempts == 1 ? "" : "s");
        break;
    }
    set_state(p, PROXY_DONE);
}

/*
 * The engine answered >= 400. The engine plugin wrote its rewrite of the body
 * into pending; pass it on when it is OpenAI-shaped, otherwise wrap it. An
 * engine's 5xx becomes our 502: the gateway worked, the engine did not.
 */
static void send_engine_error(proxy_t *p)
{
    int status = p->ereq.upstream_status >= 500 ? 502 : p->ereq.upstream_status;
    if (p->ereq.client_status >= 400 && p->ereq.client_status <= 599)
        status = p->ereq.client_status; /* the engine plugin knows better (e.g. 503: model not pulled) */
    h2o_req_t *req = p->req;
    ig_json_value_t root, err;
    int shaped = p->pending->size > 0 && ig_json_validate_value(p->pending->bytes, p->pending->size, NULL, &root) == 0 &&
                 ig_json_object_get(&root, "error", 5, &err) == 1 && err.type == IG_JSON_OBJECT;
    if (!shaped) {
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "model `%s`: the engine answered HTTP %d: %.*s", p->oreq.model_name,
                         p->ereq.upstream_status, (int)(p->pending->size > 300 ? 300 : p->pending->size),
                         p->pending->bytes ? p->pending->bytes : "");
        h2o_iovec_t body = ig_openai_error_body(&req->pool, status >= 500 ? "server_error" : "invalid_request_error",
                                                NULL, NULL, msg, n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
        outbuf_clear(&p->pending);
        outbuf_append(&p->pending, body.base, body.len);
    }
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, p->pending->bytes, p->pending->size);
    outbuf_clear(&p->pending);
    set_state(p, PROXY_DONE);
}

/* The engine plugin refused the request in before_send/on_control_done: its error, default 502. */
static void fail_engine(proxy_t *p, const ig_error_t *err)
{
    ig_balance_release(&p->balance, 0);
    end_engine(p, 0, &null_sink);
    p->log->outcome = "engine refused";
    ig_send_error(p->req, err->status ? err->status : 502, err->type ? err->type : "server_error", NULL, err->code,
                  "model `%s`: %s", p->oreq.model_name, err->msg[0] ? err->msg : "the engine plugin refused the request");
    set_state(p, PROXY_DONE);
}

static void refuse_unavailable(proxy_t *p, const char *why)
{
    end_engine(p, 0, &null_sink);
    p->log->outcome = "no ready endpoint";
    h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(p->req, 503, "server_error", NULL, "model_unavailable", "model `%s` has no ready endpoint: %s",
                  p->oreq.model_name, why);
    set_state(p, PROXY_DONE);
}

/* ---- the engine's answer ---------------------------------------------------------------------- */

static void on_up_head(void *data, int status, const ig_upstream_header_t *headers, size_t n)
{
    proxy_t *p = data;
    if (status >= 500 && can_retry(p)) {
        ig_log_warn("model %s: endpoint %s answered %d, retrying on another endpoint", p->oreq.model_name,
                    p->balance.ep->url, status);
        ig_upstream_cancel(p->up);
        p->up = NULL;
        ig_balance_release(&p->balance, 1);
        start_attempt(p);
        return;
    }
    p->ereq.upstream_status = status;
    for (size_t i = 0; i < n; i++) {
        if (headers[i].name.len == 12 && strncasecmp(headers[i].name.ptr, "content-type", 12) == 0) {
            p->content_type = h2o_strdup(&p->req->pool, headers[i].value.ptr, headers[i].value.len).base;
            p->sse = headers[i].value.len >= 17 && strncasecmp(headers[i].value.ptr, "text/event-stream", 17) == 0;
        }
    }
    if (status >= 400)
        set_state(p, PROXY_ERROR_BODY);
}

static void on_up_body(void *data, const char *chunk, size_t len)
{
    proxy_t *p = data;
    p->model->engine->on_response_data(p->model->engine_plugin_state, &p->ereq, chunk, len, &p->sink);
    if (p->state == PROXY_ERROR_BODY && p->pending->size > PROXY_ERROR_BODY_MAX) {
        /* an error body has no business being this large: stop reading it */
        ig_upstream_cancel(p->up);
        p->up = NULL;
        ig_balance_release(&p->balance, 1);
        p->pending->size = PROXY_ERROR_BODY_MAX;
        end_engine(p, 0, &null_sink);
        send_engine_error(p);
        return;
    }
    flush(p);
    if (!p->paused && p->pending->size >= PROXY_PAUSE_BYTES && p->up != NULL) {
        p->paused = 1;
        ig_upstream_pause(p->up);
    }
}

static void on_up_done(void *data, ig_upstream_result_t result)
{
    proxy_t *p = data;
    p->up = NULL;
    int answered = p->ereq.upstream_status != 0;
    ig_balance_release(&p->balance, result != IG_UPSTREAM_OK || p->ereq.upstream_status >= 500);
    if (!answered) {
        if (is_retryable(result) && can_retry(p)) {
            ig_log_warn("model %s: endpoint %s failed (%s), retrying on another endpoint", p->oreq.model_name,
                        ig_balance_last(&p->balance)->url, ig_upstream_result_str(result));
            start_attempt(p);
            return;
        }
        end_engine(p, 0, &null_sink);
        fail_upstream(p, result);
        return;
    }
    if (result != IG_UPSTREAM_OK) {
        p->log->outcome = ig_upstream_result_str(result);
        ig_log_warn("model %s: endpoint %s: %s", p->oreq.model_name, ig_balance_last(&p->balance)->url,
                    ig_upstream_result_str(result));
    }
    end_engine(p, result == IG_UPSTREAM_OK, &p->sink);
    if (p->state == PROXY_ERROR_BODY) {
        send_engine_error(p);
        return;
    }
    if (result != IG_UPSTREAM_OK && p->state == PROXY_SENDING && p->pending->size == 0) {
        fail_upstream(p, result); /* nothing reached the client yet: answer with a clean error */
        return;
    }
    if (result != IG_UPSTREAM_OK && p->sse) /* tell a streaming client why its stream ends early */
        sink_error_event(p, "upstream_error", "the engine's stream ended before it was complete", 48);
    if (p->result == IG_UPSTREAM_OK)
        p->result = result;
    finish_response(p);
}

static const ig_upstream_callbacks_t upstream_callbacks = {on_up_head, on_up_body, on_up_done};

/* ---- an attempt: an endpoint, the engine's control requests, the request ------------------------- */

/* DISPATCHING: picks an endpoint for the next attempt, then asks the engine whether to send. */
static void start_attempt(proxy_t *p)
{
    set_state(p, PROXY_DISPATCHING);
    ig_endpoint_t *ep = ig_balance_pick(&p->balance, p->model, p->req, p->oreq.api, p->ereq.adapter);
    if (ep == NULL) { /* every endpoint was tried (or the model lost them all) */
        end_engine(p, 0, &null_sink);
        fail_upstream(p, IG_UPSTREAM_CONNECT_FAILED);
        return;
    }
    p->log->endpoint = ep;
    p->log->attempts = p->balance.attempts;
    p->wait_deadline_ms = 0;
    engine_gate(p);
}

/* Sends the request to the endpoint picked for this attempt (after the engine's control requests, if any). */
static void send_request(proxy_t *p)
{
    /* a multipart body carries its boundary in the engine's Content-Type; audio may answer text, srt or vtt */
    ig_upstream_header_t headers[2] = {
        {IG_STR("Content-Type"), p->ereq.upstream_content_type.len ? p->ereq.upstream_content_type : IG_STR("application/json")},
        {IG_STR("Accept"), p->oreq.stream ? IG_STR("text/event-stream") : p->audio ? IG_STR("*/*") : IG_STR("application/json")},
    };
    ig_upstream_request_t ureq = {
        .endpoint = p->balance.ep,
        .method = IG_STR("POST"),
        .path = p->ereq.upstream_path,
        .headers = headers,
        .nheaders = 2,
        .body = p->ereq.upstream_body,
        .nbody = p->ereq.nupstream_body,
    };
    p->up = ig_upstream_start(p->worker->upstream, &ureq, &upstream_callbacks, p);
    if (p->up == NULL) {
        ig_balance_release(&p->balance, 0);
        end_engine(p, 0, &null_sink);
        p->log->outcome = "out of memory";
        ig_send_error(p->req, 500, "server_error", NULL, NULL, "out of memory");
        set_state(p, PROXY_DONE);
        return;
    }
    set_state(p, PROXY_SENDING);
}

static void on_ctl_head(void *data, int status, const ig_upstream_header_t *headers, size_t n)
{
    proxy_t *p = data;
    p->ctl_status = status;
}

static void on_ctl_body(void *data, const char *chunk, size_t len)
{
    proxy_t *p = data;
    if (p->ctl_body->size + len > PROXY_CONTROL_BODY_MAX)
        len = PROXY_CONTROL_BODY_MAX - p->ctl_body->size;
    outbuf_append(&p->ctl_body, chunk, len);
}

static void on_ctl_done(void *data, ig_upstream_result_t result)
{
    proxy_t *p = data;
    const ig_engine_vtable_t *eng = p->model->engine;
    p->ctl = NULL;
    set_state(p, PROXY_DISPATCHING);
    int status = result == IG_UPSTREAM_OK ? p->ctl_status : 0;
    ig_error_t err = {{0}};
    int rc = eng->on_control_done(p->model->engine_plugin_state, &p->ereq, p->balance.ep, status, p->ctl_body->bytes,
                                  p->ctl_body->size, &err);
    outbuf_clear(&p->ctl_body);
    if (status == 0) {
        /* the endpoint failed under the control request: like a failed attempt (retried elsewhere) */
        ig_log_warn("model %s: endpoint %s failed a control request (%s)", p->oreq.model_name, p->balance.ep->url,
                    ig_upstream_result_str(result));
        ig_balance_release(&p->balance, 1);
        if (is_retryable(result) && can_retry(p)) {
            start_attempt(p);
            return;
        }
        end_engine(p, 0, &null_sink);
        fail_upstream(p, result);
        return;
    }
    if (rc != 0) {
        fail_engine(p, &err);
        return;
    }
    engine_gate(p);
}

static const ig_upstream_callbacks_t control_callbacks = {on_ctl_head, on_ctl_body, on_ctl_done};

static proxy_t *proxy_of_entry(ig_queue_entry_t *e)
{
    return (proxy_t *)((char *)e - offsetof(proxy_t, queued));
}

static int engine_wait_ready(ig_queue_entry_t *e)
{
    /* ask before_send again at the next poll, but not in the poll that (re)queued it: an entry put
     * back at the tail would be met again and again by that same walk */
    return uv_now(&proxy_of_entry(e)->worker->loop) > e->enqueued_ms;
}

static void engine_wait_release(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    set_state(p, PROXY_DISPATCHING);
    engine_gate(p);
}

static void engine_wait_expire(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    ig_balance_release(&p->balance, 0);
    end_engine(p, 0, &null_sink);
    p->log->outcome = "engine not ready";
    ig_send_error(p->req, 504, "server_error", NULL, "upstream_timeout",
                  "model `%s`: the engine was not ready for the request within %llums (server.firstByteTimeout)",
                  p->oreq.model_name, (unsigned long long)p->gen->config->server.first_byte_timeout_ms);
    set_state(p, PROXY_DONE);
}

/* DISPATCHING with an endpoint picked: the engine plugin may want a control request first, or a wait. */
static void engine_gate(proxy_t *p)
{
    const ig_engine_vtable_t *eng = p->model->engine;
    if (eng->before_send == NULL || eng->on_control_done == NULL) {
        send_request(p);
        return;
    }
    ig_engine_control_t ctl;
    memset(&ctl, 0, sizeof(ctl));
    ig_error_t err = {{0}};
    int rc = eng->before_send(p->model->engine_plugin_state, &p->ereq, p->balance.ep, &ctl, &err);
    if (rc == IG_ENGINE_SEND) {
        send_request(p);
    } else if (rc == IG_ENGINE_CONTROL) {
        static const ig_upstream_header_t json_ct = {IG_STR("Content-Type"), IG_STR("application/json")};
        ig_upstream_request_t ureq = {
            .endpoint = p->balance.ep,
            .method = ctl.method.len ? ctl.method : IG_STR("POST"),
            .path = ctl.path,
            .headers = &json_ct,
            .nheaders = ctl.body.len ? 1 : 0,
            .body = &ctl.body,
            .nbody = ctl.body.len ? 1 : 0,
        };
        p->ctl_status = 0;
        outbuf_clear(&p->ctl_body);
        p->ctl = ig_upstream_start(p->worker->upstream, &ureq, &control_callbacks, p);
        if (p->ctl == NULL) {
            ig_error_t oom = {.status = 500};
            snprintf(oom.msg, sizeof(oom.msg), "out of memory");
            fail_engine(p, &oom);
            return;
        }
        set_state(p, PROXY_CONTROL);
    } else if (rc == IG_ENGINE_WAIT) {
        uint64_t now = uv_now(&p->worker->loop);
        if (p->wait_deadline_ms == 0)
            p->wait_deadline_ms = now + p->gen->config->server.first_byte_timeout_ms;
        /* is_ready says yes at the next tick; the deadline only matters once it says no, which it never does */
        if (now >= p->wait_deadline_ms) {
            engine_wait_expire(&p->queued);
            return;
        }
        p->queued.is_ready = engine_wait_ready;
        p->queued.release = engine_wait_release;
        p->queued.expire = engine_wait_expire;
        ig_request_queue_push(&p->worker->queue, &p->queued, p->wait_deadline_ms - now);
        set_state(p, PROXY_ENGINE_WAIT);
    } else {
        fail_engine(p, &err);
    }
}

/* ---- waiting for a ready endpoint ------------------------------------------------------------------ */

static int queued_is_ready(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    /* a reload landed: released at once, to be resolved again against the new generation */
    return p->mgen != p->worker->gen || ig_balance_model_ready(p->model);
}

/* Fills the engine request for model m and lets its engine prepare it. 0, or -1 after answering the client. */
static int prepare_engine(proxy_t *p, const ig_model_rt_t *m, ig_str_t adapter)
{
    h2o_req_t *req = p->req;
    ig_engine_req_t *e = &p->ereq;
    memset(e, 0, sizeof(*e));
    e->host = ig_plugin_host_api();
    e->pool = &req->pool;
    e->api = p->oreq.api;
    e->model = &m->cfg->model;
    e->adapter = adapter;
    e->body = p->oreq.body;
    e->model_field = p->oreq.model;
    e->stream = p->oreq.stream;
    e->client_wants_usage = p->oreq.include_usage;
    e->usage = (ig_usage_t){-1, -1, -1, -1};
    if (p->audio != NULL) {
        e->raw_body = (ig_str_t){req->entity.base, req->entity.len};
        e->boundary = p->audio->boundary;
        e->form = p->audio->parts;
        e->nform = p->audio->nparts;
        e->response_format = p->audio->response_format;
    }
    ig_error_t err = {{0}};
    if (m->engine->prepare(m->engine_plugin_state, e, &err) != 0) {
        ig_send_plugin_error(req, &err, 400, "invalid_request_error", NULL);
        set_state(p, PROXY_DONE);
        return -1;
    }
    p->engine_open = 1;
    return 0;
}

/*
 * A reload landed while the request waited for an endpoint: it is served by the new generation's
 * model of the same name (whose endpoints, engine and options may have changed), or answered 404 if
 * that model is gone. Auth, rate limits and billing stay with the generation the request began on.
 * 0 when the request may be dispatched again, -1 when it was answered.
 */
static int rebind(proxy_t *p)
{
    ig_generation_t *gen = p->worker->gen;
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, p->oreq.model_name, p->oreq.model_name_len, &adapter);
    end_engine(p, 0, &null_sink); /* the old model's engine lets go of the request */
    if (m == NULL || !(m->cfg->model.features & ig_api_required_feature(p->oreq.api)) ||
        !ig_auth_model_allowed(gen, p->auth.principal, &m->cfg->model)) {
        p->log->outcome = "model removed by reload";
        ig_send_error(p->req, 404, "invalid_request_error", "model", "model_not_found",
                      "The model `%s` was removed from the configuration (reload to generation %llu) while the "
                      "request waited for a ready endpoint.",
                      p->oreq.model_name, (unsigned long long)gen->id);
        set_state(p, PROXY_DONE);
        return -1;
    }
    ig_worker_gen_t *hold = ig_worker_gen_acquire(p->worker);
    if (p->mhold != NULL)
        ig_worker_gen_release(p->worker, p->mhold);
    p->mhold = hold;
    p->mgen = gen;
    p->model = m;
    ig_log_debug("model %s: a queued request moves to generation %llu", p->oreq.model_name,
                 (unsigned long long)gen->id);
    return prepare_engine(p, m, adapter);
}

static void queued_release(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    queue_place_release(p);
    set_state(p, PROXY_DISPATCHING);
    if (p->mgen != p->worker->gen) {
        if (rebind(p) == 0)
            dispatch(p); /* the new generation's model: its endpoints, or its queue */
        return;
    }
    start_attempt(p);
}

static void queued_expire(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    queue_place_release(p);
    char why[96];
    snprintf(why, sizeof(why), "none became ready within %llums (server.queue.timeout)",
             (unsigned long long)p->gen->config->server.queue.timeout_ms);
    refuse_unavailable(p, why);
}

/* DISPATCHING: starts the request now, or queues it until the model has a ready endpoint. */
static void dispatch(proxy_t *p)
{
    if (ig_balance_model_ready(p->model)) {
        start_attempt(p);
        return;
    }
    const ig_server_config_t *sc = &p->gen->config->server;
    ig_model_rt_t *m = (ig_model_rt_t *)p->model;
    if (sc->queue.max_length == 0) {
        refuse_unavailable(p, "every endpoint is unhealthy and queueing is off (server.queue.maxLength: 0)");
        return;
    }
    if (atomic_fetch_add_explicit(&m->queued, 1, memory_order_relaxed) >= sc->queue.max_length) {
        atomic_fetch_sub_explicit(&m->queued, 1, memory_order_relaxed);
        char why[96];
        snprintf(why, sizeof(why), "%u requests are already waiting (server.queue.maxLength)", sc->queue.max_length);
        refuse_unavailable(p, why);
        return;
    }
    p->queued.is_ready = queued_is_ready;
    p->queued.release = queued_release;
    p->queued.expire = queued_expire;
    if (m->replicas != NULL) /* the scheduler starts a replica for a model whose requests wait (scale from zero) */
        atomic_fetch_add_explicit(&m->replicas->waiting, 1, memory_order_relaxed);
    /* requeued after a reload: the wait keeps the deadline it started with */
    uint64_t now = uv_now(&p->worker->loop), timeout = sc->queue.timeout_ms;
    if (p->queue_deadline_ms == 0)
        p->queue_deadline_ms = now + timeout;
    else
        timeout = p->queue_deadline_ms > now ? p->queue_deadline_ms - now : 1;
    ig_request_queue_push(&p->worker->queue, &p->queued, timeout);
    set_state(p, PROXY_QUEUED);
}

/* ---- the request ------------------------------------------------------------------------------ */

/* Every rate limiter admitted the request (now or later): its engine prepares it, then it goes. */
static void on_admitted(ig_ratelimit_stage_t *s, int rc)
{
    proxy_t *p = (proxy_t *)((char *)s - offsetof(proxy_t, limits));
    if (rc != 0) {
        set_state(p, PROXY_DONE); /* answered: 429, or 500 for a limiter that cannot wait */
        return;
    }
    set_state(p, PROXY_DISPATCHING);
    if (prepare_engine(p, p->model, p->adapter) == 0)
        dispatch(p);
}

/* Reads the body and resolves the model the caller may use. 0, or -1 after answering the client. */
static int resolve(proxy_t *p)
{
    h2o_req_t *req = p->req;
    ig_generation_t *gen = p->gen;
    ig_api_t api = p->oreq.api;
    ig_request_error_t perr;
    int parsed;
    if (api == IG_API_AUDIO_TRANSCRIPTIONS || api == IG_API_AUDIO_TRANSLATIONS) {
        ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
        p->audio = h2o_mem_alloc_pool(&req->pool, sizeof(*p->audio));
        parsed = ig_audio_request_parse(api, ct >= 0 ? req->headers.entries[ct].value.base : NULL,
                                        ct >= 0 ? req->headers.entries[ct].value.len : 0, req->entity.base,
                                        req->entity.len, &p->oreq, p->audio, &perr);
    } else {
        parsed = ig_openai_request_parse(api, req->entity.base, req->entity.len, &p->oreq, &perr);
    }
    if (parsed != 0) {
        ig_send_error(req, perr.status, "invalid_request_error", perr.param, NULL, "%s", perr.message);
        return -1;
    }
    ig_request_log_set_model(p->log, gen, p->oreq.model_name, p->oreq.model_name_len);
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, p->oreq.model_name, p->oreq.model_name_len, &adapter);
    if (m == NULL || !ig_auth_model_allowed(gen, p->auth.principal, &m->cfg->model)) {
        ig_send_error(req, 404, "invalid_request_error", "model", "model_not_found",
                      "The model `%s` does not exist or you do not have access to it.", p->oreq.model_name);
        return -1;
    }
    if (p->scope != NULL && strcmp(m->cfg->model.name, p->scope) != 0) {
        ig_send_error(req, 404, "invalid_request_error", "model", "model_not_found",
                      "The model `%s` is not served at this address: it serves `%s` only.", p->oreq.model_name,
                      p->scope);
        return -1;
    }
    unsigned need = ig_api_required_feature(api);
    if (!(m->cfg->model.features & need)) {
        char have[128], want[64];
        ig_send_error(req, 400, "invalid_request_error", "model", "model_not_supported",
                      "model `%s` does not support %s: it needs the %s feature and the model has %s",
                      p->oreq.model_name, ig_api_path(api), ig_features_str(need, want, sizeof(want)),
                      ig_features_str(m->cfg->model.features, have, sizeof(have)));
        return -1;
    }
    p->model = m;
    p->adapter = adapter;
    ig_balance_init(&p->balance, p->oreq.prefix);
    return 0;
}

/* The caller is known (now or later): the body names a model it may use, then the rate limiters decide. */
static void on_authenticated(ig_auth_stage_t *s, int rc)
{
    proxy_t *p = (proxy_t *)((char *)s - offsetof(proxy_t, auth));
    p->log->principal = p->auth.principal;
    if (rc != 0 || resolve(p) != 0) {
        set_state(p, PROXY_DONE);
        return;
    }
    set_state(p, PROXY_ADMITTING);
    ig_ratelimit_subject_t subject = {p->auth.principal, &p->model->cfg->model, p->adapter, p->oreq.api};
    rc = ig_ratelimit_admit(&p->limits, p->req, p->gen, p->log, &subject, on_admitted);
    if (rc != IG_PENDING)
        on_admitted(&p->limits, rc);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The request is over, however it ended (left_early: the client left before our answer was complete). */
static void account(proxy_t *p, int left_early)
{
    ig_endpoint_t *last = ig_balance_last(&p->balance);
    if (last == NULL) { /* never reached an engine */
        ig_usage_settle(p->gen, &p->limits, p->log, &p->ereq.usage, NULL, 0, left_early);
        return;
    }
    ig_usage_record_t rec = {.usage = p->ereq.usage};
    if (ig_usage_billed(p->gen)) {
        rec.started_unix_ms = p->started_unix_ms;
        rec.principal = p->auth.principal;
        rec.model = &p->model->cfg->model;
        rec.adapter = p->ereq.adapter;
        rec.endpoint_url = last->url;
        rec.api = p->oreq.api;
        rec.stream = p->oreq.stream;
        rec.complete = p->engine_complete;
        rec.ttft_us = p->log->first_byte_ns ? (int64_t)(p->log->first_byte_ns - p->log->start_ns) / 1000 : -1;
        rec.duration_us = (int64_t)(ig_now_ns() - p->log->start_ns) / 1000;
        rec.attempts = p->balance.attempts;
        rec.generation = p->gen->id;
    }
    ig_usage_settle(p->gen, &p->limits, p->log, &p->ereq.usage, &rec, p->ereq.stream_error_status, left_early);
}

static void on_dispose(void *arg)
{
    proxy_t *p = arg;
    if (h2o_timeout_is_linked(&p->deferred))
        h2o_timeout_unlink(&p->deferred);
    if (h2o_timeout_is_linked(&p->stall))
        h2o_timeout_unlink(&p->stall);
    int left_early = p->state != PROXY_DONE;
    close_request(p);
    account(p, left_early);
    h2o_buffer_dispose(&p->pending);
    h2o_buffer_dispose(&p->sending);
    h2o_buffer_dispose(&p->ctl_body);
    ig_worker_untrack(p->worker, &p->tracked);
    if (p->mhold != NULL)
        ig_worker_gen_release(p->worker, p->mhold);
    ig_worker_gen_release(p->worker, p->ghold);
}

static void cut_for_shutdown(ig_worker_request_t *t);

static void start(proxy_t *p)
{
    int rc = ig_auth_start(&p->auth, p->req, p->gen, on_authenticated);
    if (rc != IG_PENDING)
        on_authenticated(&p->auth, rc);
}

static void on_deferred_start(h2o_timeout_entry_t *e)
{
    proxy_t *p = (proxy_t *)((char *)e - offsetof(proxy_t, deferred));
    if (p->state == PROXY_AUTHENTICATING) /* not answered meanwhile (cut at shutdown) */
        start(p);
}

void ig_proxy_handle(ig_worker_t *w, h2o_req_t *req, ig_api_t api, ig_request_log_t *log, const char *scope)
{
    ig_generation_t *gen = w->gen;
    size_t limit = gen->config->server.max_body_bytes;
    if (req->entity.len > limit) {
        ig_send_error(req, 413, "invalid_request_error", NULL, "request_too_large",
                      "the request body is %zu bytes, over this server's limit of %zu bytes", req->entity.len, limit);
        return;
    }
    proxy_t *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_dispose);
    memset(p, 0, sizeof(*p));
    h2o_buffer_init(&p->pending, &outbuf_prototype);
    h2o_buffer_init(&p->sending, &outbuf_prototype);
    h2o_buffer_init(&p->ctl_body, &outbuf_prototype);
    p->req = req;
    p->worker = w;
    p->state = PROXY_AUTHENTICATING;
    p->ghold = ig_worker_gen_acquire(w);
    p->gen = gen;
    p->mgen = gen;
    p->log = log;
    p->scope = scope;
    p->sink.write = sink_write;
    p->started_unix_ms = wall_ms();
    p->oreq.api = api;
    p->ereq.usage = (ig_usage_t){-1, -1, -1, -1}; /* what the limiters hear of a request no engine saw */
    ig_worker_track(w, &p->tracked, cut_for_shutdown);
    if (req->version >= 0x200) {
        /*
         * HTTP/2: the rest of the input read with this request is parsed first (h2o's zero timeout
         * runs after it), so a stream the client resets right behind its request (rapid reset) is
         * disposed of before any engine work starts for it.
         */
        p->deferred.cb = on_deferred_start;
        h2o_timeout_link(req->conn->ctx->loop, &req->conn->ctx->zero_timeout, &p->deferred);
        return;
    }
    start(p);
}

/* ---- the end of the grace period ------------------------------------------------------------------ */

#define SHUTDOWN_MSG "the gateway is shutting down: the response was cut at the end of server.shutdownGracePeriod"

/* Ends one request still running when the grace period is over, telling the client why. */
static void cut_for_shutdown(ig_worker_request_t *t)
{
    proxy_t *p = (proxy_t *)((char *)t - offsetof(proxy_t, tracked));
    switch (p->state) {
    case PROXY_FLUSHING:
    case PROXY_DONE:
    case PROXY_CLOSED:
    case PROXY_DISPATCHING:
        return; /* answered, or only the client's reading is left */
    case PROXY_STREAMING:
        /* the stream ends now, with an event saying why */
        stop_work(p);
        p->log->outcome = "cut at shutdown";
        end_engine(p, 0, &p->sink);
        if (p->sse)
            sink_error_event(p, "shutting_down", SHUTDOWN_MSG, sizeof(SHUTDOWN_MSG) - 1);
        p->result = IG_UPSTREAM_CUT;
        finish_response(p);
        return;
    default:
        /* nothing reached the client yet: waiting, deciding, or held by the engine */
        stop_work(p);
        p->log->outcome = "cut at shutdown";
        end_engine(p, 0, &null_sink);
        h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        ig_send_error(p->req, 503, "server_error", NULL, "shutting_down", "%s", SHUTDOWN_MSG);
        set_state(p, PROXY_DONE);
        return;
    }
}
