#include "util/json.h"
#include "proxy/proxy.h"
#include <stdlib.h>
#include <string.h>
#include "http/audio_request.h"
#include "proxy/auth.h"
#include "proxy/ratelimit.h"
#include "observe/log.h"
#include "http/openai_error.h"
#include "http/openai_request.h"
#include "proxy/request_queue.h"
#include "plugin/plugin_host.h"
#include "server/server.h"
#include "upstream/upstream.h"
#include "server/worker.h"

#define PROXY_MAX_ATTEMPTS 11         /* first try + server.retries (at most 10) */
#define PROXY_MAX_CANDIDATES 64       /* endpoints considered per pick */
#define PROXY_PAUSE_BYTES (256 * 1024) /* stop reading the engine when this much waits for the client */
#define PROXY_ERROR_BODY_MAX (64 * 1024)
#define PROXY_CONTROL_BODY_MAX (64 * 1024) /* what an engine's control answer may hand to on_control_done */

/* Bytes on their way to the client; two of them alternate, since h2o keeps a sent buffer until proceed(). */
typedef struct {
    char *data;
    size_t len, cap;
} outbuf_t;

typedef struct {
    h2o_generator_t generator;   /* first: h2o hands it back to proceed/stop */
    ig_sink_t sink;              /* what the engine writes client-bound bytes to */
    h2o_req_t *req;
    ig_worker_t *worker;
    ig_generation_t *gen;        /* held (ghold) from start to dispose */
    ig_worker_gen_t *ghold;
    ig_worker_request_t tracked; /* in the worker's list of requests being served (cut at shutdown) */
    const ig_model_rt_t *model;  /* in mgen */
    ig_generation_t *mgen;       /* the generation model belongs to: gen, or a newer one when a reload landed
                                    while the request waited in the queue (held by mhold then) */
    ig_worker_gen_t *mhold;
    uint64_t queue_deadline_ms;  /* loop time a queued request gives up; 0 until it first waits */
    ig_request_log_t *log;
    ig_auth_stage_t auth;        /* auth.principal: the caller (pool memory), NULL when anonymous */
    ig_ratelimit_stage_t limits; /* the rate limiters' admission */
    ig_str_t adapter;            /* of the model asked for (resolved before admission) */
    int64_t started_unix_ms;
    ig_openai_request_t oreq;
    ig_audio_request_t *audio;   /* the form of an audio request (pool), else NULL */
    ig_engine_req_t ereq;
    ig_upstream_req_t *up;
    ig_endpoint_t *ep;           /* endpoint of the attempt in flight (counted in its in_flight) */
    ig_endpoint_t *tried[PROXY_MAX_ATTEMPTS];
    unsigned attempts;
    ig_queue_entry_t queued;     /* while waiting for a ready endpoint, or for the engine (IG_ENGINE_WAIT) */
    ig_upstream_req_t *ctl;      /* the engine's control request in flight (before_send) */
    outbuf_t ctl_body;
    int ctl_status;
    uint64_t wait_deadline_ms;   /* loop time an IG_ENGINE_WAIT gives up (server.firstByteTimeout) */
    outbuf_t pending, sending;
    ig_upstream_result_t result;
    const char *content_type;
    unsigned started : 1;        /* h2o_start_response done */
    unsigned in_send : 1;        /* an h2o_send awaits proceed() */
    unsigned upstream_done : 1;
    unsigned final_sent : 1;
    unsigned client_gone : 1;
    unsigned paused : 1;
    unsigned engine_open : 1;    /* prepare() succeeded, on_response_end() not yet called */
    unsigned error_status : 1;   /* the engine answered >= 400: hold the body, answer OpenAI-shaped */
    unsigned sse : 1;
    unsigned in_queue : 1;
    unsigned stopped : 1;        /* the client went away before the response was complete */
    unsigned engine_complete : 1;/* on_response_end() was told the answer was complete */
    unsigned engine_wait : 1;    /* queued is in the worker's queue for IG_ENGINE_WAIT (not counted in model->queued) */
} proxy_t;

static void start_attempt(proxy_t *p);

/* ---- client-bound bytes --------------------------------------------------------------------- */

static int outbuf_append(outbuf_t *b, const char *data, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024; /* most writes are one SSE event or one small answer */
        while (cap < b->len + len)
            cap *= 2;
        char *nd = realloc(b->data, cap);
        if (nd == NULL)
            return -1;
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

static void sink_write(ig_sink_t *sink, const char *data, size_t len)
{
    proxy_t *p = (proxy_t *)((char *)sink - offsetof(proxy_t, sink));
    if (p->client_gone || len == 0)
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

/* Hands pending bytes to h2o when it is ready for them; ends the response once the engine is done. */
static void start_response(proxy_t *p, int status);

static void flush(proxy_t *p)
{
    if (p->client_gone || p->error_status || p->in_send || p->final_sent)
        return;
    if (p->pending.len == 0 && !p->upstream_done)
        return;
    /* the status goes out with the first byte, so an engine failing before it still gets a clean 502 */
    if (!p->started)
        start_response(p, p->ereq.upstream_status);
    outbuf_t t = p->sending;
    p->sending = p->pending;
    p->pending = t;
    p->pending.len = 0;
    h2o_send_state_t state = H2O_SEND_STATE_IN_PROGRESS;
    if (p->upstream_done) {
        /* a stream cut short still ends cleanly: it carries an error event the client can read */
        state = p->result == IG_UPSTREAM_OK || p->sse ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_ERROR;
        p->final_sent = 1;
    }
    if (p->sending.len != 0 && p->log->first_byte_ns == 0)
        p->log->first_byte_ns = ig_now_ns();
    h2o_iovec_t buf = h2o_iovec_init(p->sending.data, p->sending.len);
    p->in_send = state == H2O_SEND_STATE_IN_PROGRESS;
    h2o_send(p->req, &buf, buf.len ? 1 : 0, state);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    proxy_t *p = (proxy_t *)g;
    p->in_send = 0;
    p->sending.len = 0;
    if (p->paused && p->up != NULL) {
        p->paused = 0;
        ig_upstream_resume(p->up);
    }
    flush(p);
}

/* ---- ending an attempt ------------------------------------------------------------------------ */

static void release_endpoint(proxy_t *p, int failed)
{
    if (p->ep == NULL)
        return;
    atomic_fetch_sub_explicit(&p->ep->in_flight, 1, memory_order_relaxed);
    if (failed)
        ig_endpoint_record_failure(p->ep);
    else
        ig_endpoint_record_success(p->ep);
    p->ep = NULL;
}

static void end_engine(proxy_t *p, int complete, ig_sink_t *sink)
{
    if (!p->engine_open)
        return;
    p->engine_open = 0;
    p->engine_complete = complete != 0;
    p->model->engine->on_response_end(p->model->engine_plugin_state, &p->ereq, complete, sink);
}

/* Stops everything upstream: the client is gone or the request is being disposed. */
/* The request no longer waits: give its place in the model's bound back. */
static void queue_place_release(proxy_t *p)
{
    p->in_queue = 0;
    atomic_fetch_sub_explicit(&((ig_model_rt_t *)p->model)->queued, 1, memory_order_relaxed);
    if (p->model->replicas != NULL)
        atomic_fetch_sub_explicit(&p->model->replicas->waiting, 1, memory_order_relaxed);
}

static void leave_queue(proxy_t *p)
{
    if (p->engine_wait) {
        p->engine_wait = 0;
        ig_request_queue_remove(&p->worker->queue, &p->queued);
    }
    if (!p->in_queue)
        return;
    ig_request_queue_remove(&p->worker->queue, &p->queued);
    queue_place_release(p);
}

static void control_cancel(proxy_t *p);

static void abandon(proxy_t *p, const char *outcome)
{
    leave_queue(p);
    control_cancel(p);
    if (p->up == NULL && p->ep != NULL)
        release_endpoint(p, 0); /* picked, but still in before_send's control or wait */
    if (p->up != NULL) {
        ig_upstream_cancel(p->up);
        p->up = NULL;
        release_endpoint(p, 0);
        if (p->log->outcome == NULL)
            p->log->outcome = outcome;
    }
    end_engine(p, 0, &null_sink);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    proxy_t *p = (proxy_t *)g;
    p->client_gone = 1;
    p->stopped = 1;
    abandon(p, "client closed");
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The request is over, however it ended: rate limiters get their complete(),
 * billing plugins one usage record if an engine was reached, the request log
 * the usage. Runs from on_dispose, so exactly once.
 */
static void account(proxy_t *p)
{
    const ig_usage_t *usage = &p->ereq.usage;
    ig_ratelimit_complete(&p->limits, usage);
    if (p->model == NULL || p->attempts == 0)
        return; /* never reached an engine: nothing consumed */
    p->log->usage = *usage;
    p->log->has_usage = 1;
    if (p->gen->nbillings == 0)
        return;
    uint64_t now = ig_now_ns();
    int status = p->req->res.status;
    ig_usage_record_t rec = {
        .started_unix_ms = p->started_unix_ms,
        .principal = p->auth.principal,
        .model = &p->model->cfg->model,
        .adapter = p->ereq.adapter,
        .endpoint_url = p->tried[p->attempts - 1]->url,
        .api = p->oreq.api,
        .status = p->stopped || status == 0 ? 499 : status,
        .stream = p->oreq.stream,
        .complete = p->engine_complete,
        .usage = *usage,
        .ttft_us = p->log->first_byte_ns ? (int64_t)(p->log->first_byte_ns - p->log->start_ns) / 1000 : -1,
        .duration_us = (int64_t)(now - p->log->start_ns) / 1000,
        .attempts = p->attempts,
        .generation = p->gen->id,
    };
    for (size_t i = 0; i < p->gen->nbillings; i++) {
        const ig_plugin_instance_t *inst = p->gen->billings[i];
        ((const ig_billing_vtable_t *)inst->desc->vtable)->record(inst->state, &rec);
    }
}

static void on_dispose(void *arg)
{
    proxy_t *p = arg;
    p->client_gone = 1;
    /* a plugin still deciding about the request is told it left, and never touches it again */
    ig_auth_cancel(&p->auth);
    ig_ratelimit_cancel(&p->limits);
    abandon(p, "client closed");
    account(p);
    free(p->pending.data);
    free(p->sending.data);
    free(p->ctl_body.data);
    ig_worker_untrack(p->worker, &p->tracked);
    if (p->mhold != NULL)
        ig_worker_gen_release(p->worker, p->mhold);
    ig_worker_gen_release(p->worker, p->ghold);
}

/* ---- answering with an error ------------------------------------------------------------------ */

static int is_retryable(ig_upstream_result_t r)
{
    return r == IG_UPSTREAM_CONNECT_FAILED || r == IG_UPSTREAM_CONNECT_TIMEOUT || r == IG_UPSTREAM_RESET_BEFORE_HEAD;
}

static size_t count_candidates(proxy_t *p, ig_endpoint_t **out);

static int can_retry(proxy_t *p)
{
    ig_endpoint_t *c[PROXY_MAX_CANDIDATES];
    unsigned retries = p->gen->config->server.retries;
    if (retries > PROXY_MAX_ATTEMPTS - 1)
        retries = PROXY_MAX_ATTEMPTS - 1;
    return p->attempts < 1 + retries && count_candidates(p, c) > 0;
}

/* The engine failed before answering: a gateway error naming the model, not the engine's address. */
static void fail_upstream(proxy_t *p, ig_upstream_result_t r)
{
    const ig_server_config_t *sc = &p->gen->config->server;
    p->log->outcome = ig_upstream_result_str(r);
    if (p->client_gone)
        return;
    const char *name = p->oreq.model_name;
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
                      p->attempts, p->attempts == 1 ? "" : "s");
        break;
    }
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
    int shaped = p->pending.len > 0 && ig_json_validate_value(p->pending.data, p->pending.len, NULL, &root) == 0 &&
                 ig_json_object_get(&root, "error", 5, &err) == 1 && err.type == IG_JSON_OBJECT;
    if (!shaped) {
        char msg[512];
        int n = snprintf(msg, sizeof(msg), "model `%s`: the engine answered HTTP %d: %.*s", p->oreq.model_name,
                         p->ereq.upstream_status, (int)(p->pending.len > 300 ? 300 : p->pending.len),
                         p->pending.data ? p->pending.data : "");
        h2o_iovec_t body = ig_openai_error_body(&req->pool, status >= 500 ? "server_error" : "invalid_request_error",
                                                NULL, NULL, msg, n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
        p->pending.len = 0;
        outbuf_append(&p->pending, body.base, body.len);
    }
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, p->pending.data, p->pending.len);
    p->pending.len = 0;
}

/* ---- upstream callbacks ----------------------------------------------------------------------- */

static void start_response(proxy_t *p, int status)
{
    h2o_req_t *req = p->req;
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    const char *ct = p->content_type ? p->content_type : "application/json";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    if (p->sse)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    p->generator.proceed = on_proceed;
    p->generator.stop = on_stop;
    h2o_start_response(req, &p->generator);
    p->started = 1;
}

static void on_up_head(void *data, int status, const ig_upstream_header_t *headers, size_t n)
{
    proxy_t *p = data;
    if (status >= 500 && can_retry(p)) {
        ig_log_warn("model %s: endpoint %s answered %d, retrying on another endpoint", p->oreq.model_name,
                    p->ep->url, status);
        ig_upstream_cancel(p->up);
        p->up = NULL;
        release_endpoint(p, 1);
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
        p->error_status = 1;
}

static void on_up_body(void *data, const char *chunk, size_t len)
{
    proxy_t *p = data;
    p->model->engine->on_response_data(p->model->engine_plugin_state, &p->ereq, chunk, len, &p->sink);
    if (p->error_status && p->pending.len > PROXY_ERROR_BODY_MAX) {
        /* an error body has no business being this large: stop reading it */
        ig_upstream_cancel(p->up);
        p->up = NULL;
        release_endpoint(p, 1);
        p->pending.len = PROXY_ERROR_BODY_MAX;
        end_engine(p, 0, &null_sink);
        send_engine_error(p);
        return;
    }
    flush(p);
    if (!p->paused && p->pending.len >= PROXY_PAUSE_BYTES && p->up != NULL) {
        p->paused = 1;
        ig_upstream_pause(p->up);
    }
}

static void on_up_done(void *data, ig_upstream_result_t result)
{
    proxy_t *p = data;
    p->up = NULL;
    int answered = p->ereq.upstream_status != 0;
    release_endpoint(p, result != IG_UPSTREAM_OK || p->ereq.upstream_status >= 500);
    if (!answered) {
        if (is_retryable(result) && can_retry(p)) {
            ig_log_warn("model %s: endpoint %s failed (%s), retrying on another endpoint", p->oreq.model_name,
                        p->tried[p->attempts - 1]->url, ig_upstream_result_str(result));
            start_attempt(p);
            return;
        }
        end_engine(p, 0, &null_sink);
        fail_upstream(p, result);
        return;
    }
    if (result != IG_UPSTREAM_OK) {
        p->log->outcome = ig_upstream_result_str(result);
        ig_log_warn("model %s: endpoint %s: %s", p->oreq.model_name, p->tried[p->attempts - 1]->url,
                    ig_upstream_result_str(result));
    }
    end_engine(p, result == IG_UPSTREAM_OK, &p->sink);
    if (p->error_status) {
        send_engine_error(p);
        return;
    }
    if (result != IG_UPSTREAM_OK && !p->started && p->pending.len == 0) {
        fail_upstream(p, result); /* nothing reached the client yet: answer with a clean error */
        return;
    }
    if (result != IG_UPSTREAM_OK && p->sse) {
        /* tell a streaming client why its stream ends early, then end it as failed */
        h2o_iovec_t body = ig_openai_error_body(&p->req->pool, "server_error", NULL, "upstream_error",
                                                "the engine's stream ended before it was complete", 48);
        sink_write(&p->sink, "data: ", 6);
        sink_write(&p->sink, body.base, body.len - 1);
        sink_write(&p->sink, "\n\n", 2);
    }
    if (p->result == IG_UPSTREAM_OK)
        p->result = result;
    p->upstream_done = 1;
    flush(p);
}

static const ig_upstream_callbacks_t upstream_callbacks = {on_up_head, on_up_body, on_up_done};

/* ---- choosing an endpoint ----------------------------------------------------------------------- */

static int was_tried(const proxy_t *p, const ig_endpoint_t *ep)
{
    for (unsigned i = 0; i < p->attempts; i++)
        if (p->tried[i] == ep)
            return 1;
    return 0;
}

/* The scheduler's serving replicas of the model (none starting or draining), healthy ones only if asked. */
static size_t replica_candidates(proxy_t *p, ig_endpoint_t **out, size_t n, int healthy_only)
{
    const ig_replica_set_t *rs = p->model->replicas;
    for (size_t i = 0; rs != NULL && i < IG_REPLICA_SLOTS && n < PROXY_MAX_CANDIDATES; i++) {
        ig_endpoint_t *ep = ig_replica_set_serving(rs, i);
        if (ep != NULL && !was_tried(p, ep) &&
            (!healthy_only || atomic_load_explicit(&ep->healthy, memory_order_relaxed)))
            out[n++] = ep;
    }
    return n;
}

static size_t count_candidates(proxy_t *p, ig_endpoint_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < p->model->nendpoints && n < PROXY_MAX_CANDIDATES; i++) {
        ig_endpoint_t *ep = p->model->endpoints[i];
        if (!was_tried(p, ep) && atomic_load_explicit(&ep->healthy, memory_order_relaxed))
            out[n++] = ep;
    }
    n = replica_candidates(p, out, n, 1);
    if (n == 0) {
        /* every endpoint looks unhealthy: still try the untried ones rather than refuse outright */
        for (size_t i = 0; i < p->model->nendpoints && n < PROXY_MAX_CANDIDATES; i++)
            if (!was_tried(p, p->model->endpoints[i]))
                out[n++] = p->model->endpoints[i];
        n = replica_candidates(p, out, n, 0);
    }
    return n;
}

static void engine_gate(proxy_t *p);

static void start_attempt(proxy_t *p)
{
    ig_endpoint_t *cand[PROXY_MAX_CANDIDATES];
    size_t n = count_candidates(p, cand);
    if (n == 0) { /* every endpoint was tried (or the model lost them all) */
        end_engine(p, 0, &null_sink);
        fail_upstream(p, IG_UPSTREAM_CONNECT_FAILED);
        return;
    }
    int idx = 0;
    if (n > 1 && p->model->lb != NULL) {
        ig_lb_request_t lreq = {.api = p->oreq.api, .adapter = p->ereq.adapter, .prefix = p->oreq.prefix};
        ssize_t rk = h2o_find_header_by_str(&p->req->headers, H2O_STRLIT("routing-key"), -1);
        if (rk >= 0)
            lreq.routing_key = (ig_str_t){p->req->headers.entries[rk].value.base, p->req->headers.entries[rk].value.len};
        idx = p->model->lb->pick(p->model->lb_plugin_state, &p->model->cfg->model, &lreq, cand, n);
        if (idx < 0 || (size_t)idx >= n)
            idx = 0;
    }
    ig_endpoint_t *ep = cand[idx];
    p->ep = ep;
    p->tried[p->attempts++] = ep;
    p->log->endpoint = ep;
    p->log->attempts = p->attempts;
    atomic_fetch_add_explicit(&ep->in_flight, 1, memory_order_relaxed);
    p->wait_deadline_ms = 0;
    engine_gate(p);
}

/* Sends the request to the endpoint picked for this attempt (after the engine's control requests, if any). */
static void send_request(proxy_t *p)
{
    ig_endpoint_t *ep = p->ep;
    /* a multipart body carries its boundary in the engine's Content-Type; audio may answer text, srt or vtt */
    ig_upstream_header_t headers[2] = {
        {IG_STR("Content-Type"), p->ereq.upstream_content_type.len ? p->ereq.upstream_content_type : IG_STR("application/json")},
        {IG_STR("Accept"), p->oreq.stream ? IG_STR("text/event-stream") : p->audio ? IG_STR("*/*") : IG_STR("application/json")},
    };
    ig_upstream_request_t ureq = {
        .endpoint = ep,
        .method = IG_STR("POST"),
        .path = p->ereq.upstream_path,
        .headers = headers,
        .nheaders = 2,
        .body = p->ereq.upstream_body,
        .nbody = p->ereq.nupstream_body,
    };
    p->up = ig_upstream_start(p->worker->upstream, &ureq, &upstream_callbacks, p);
    if (p->up == NULL) {
        release_endpoint(p, 0);
        end_engine(p, 0, &null_sink);
        p->log->outcome = "out of memory";
        ig_send_error(p->req, 500, "server_error", NULL, NULL, "out of memory");
    }
}

/* ---- waiting for a ready endpoint ------------------------------------------------------------------ */

static int model_has_ready_endpoint(const ig_model_rt_t *m)
{
    for (size_t i = 0; i < m->nendpoints; i++)
        if (atomic_load_explicit(&m->endpoints[i]->healthy, memory_order_relaxed))
            return 1;
    for (size_t i = 0; m->replicas != NULL && i < IG_REPLICA_SLOTS; i++) {
        ig_endpoint_t *ep = ig_replica_set_serving(m->replicas, i);
        if (ep != NULL && atomic_load_explicit(&ep->healthy, memory_order_relaxed))
            return 1;
    }
    return 0;
}

static proxy_t *proxy_of_entry(ig_queue_entry_t *e)
{
    return (proxy_t *)((char *)e - offsetof(proxy_t, queued));
}

static int queued_is_ready(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    /* a reload landed: released at once, to be resolved again against the new generation */
    return p->mgen != p->worker->gen || model_has_ready_endpoint(p->model);
}

static void dispatch(proxy_t *p);
static int rebind(proxy_t *p);

static void queued_release(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    queue_place_release(p);
    if (p->mgen != p->worker->gen) {
        if (rebind(p) == 0)
            dispatch(p); /* the new generation's model: its endpoints, or its queue */
        return;
    }
    start_attempt(p);
}

static void refuse_unavailable(proxy_t *p, const char *why)
{
    end_engine(p, 0, &null_sink);
    p->log->outcome = "no ready endpoint";
    h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(p->req, 503, "server_error", NULL, "model_unavailable", "model `%s` has no ready endpoint: %s",
                  p->oreq.model_name, why);
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

/* Starts the request now, or queues it until the model has a ready endpoint. */
static void dispatch(proxy_t *p)
{
    if (model_has_ready_endpoint(p->model)) {
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
    p->in_queue = 1;
    if (m->replicas != NULL) /* the scheduler starts a replica for a model whose requests wait (scale from zero) */
        atomic_fetch_add_explicit(&m->replicas->waiting, 1, memory_order_relaxed);
    /* requeued after a reload: the wait keeps the deadline it started with */
    uint64_t now = uv_now(&p->worker->loop), timeout = sc->queue.timeout_ms;
    if (p->queue_deadline_ms == 0)
        p->queue_deadline_ms = now + timeout;
    else
        timeout = p->queue_deadline_ms > now ? p->queue_deadline_ms - now : 1;
    ig_request_queue_push(&p->worker->queue, &p->queued, timeout);
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

/* ---- the engine's control requests before the request (before_send) ------------------------------ */

/* The engine plugin refused the request in before_send/on_control_done: its error, default 502. */
static void fail_engine(proxy_t *p, const ig_error_t *err)
{
    release_endpoint(p, 0);
    end_engine(p, 0, &null_sink);
    p->log->outcome = "engine refused";
    if (p->client_gone)
        return;
    ig_send_error(p->req, err->status ? err->status : 502, err->type ? err->type : "server_error", NULL, err->code,
                  "model `%s`: %s", p->oreq.model_name, err->msg[0] ? err->msg : "the engine plugin refused the request");
}

static void on_ctl_head(void *data, int status, const ig_upstream_header_t *headers, size_t n)
{
    proxy_t *p = data;
    p->ctl_status = status;
}

static void on_ctl_body(void *data, const char *chunk, size_t len)
{
    proxy_t *p = data;
    if (p->ctl_body.len + len > PROXY_CONTROL_BODY_MAX)
        len = PROXY_CONTROL_BODY_MAX - p->ctl_body.len;
    outbuf_append(&p->ctl_body, chunk, len);
}

static void on_ctl_done(void *data, ig_upstream_result_t result)
{
    proxy_t *p = data;
    const ig_engine_vtable_t *eng = p->model->engine;
    p->ctl = NULL;
    int status = result == IG_UPSTREAM_OK ? p->ctl_status : 0;
    ig_error_t err = {{0}};
    int rc = eng->on_control_done(p->model->engine_plugin_state, &p->ereq, p->ep, status, p->ctl_body.data, p->ctl_body.len, &err);
    p->ctl_body.len = 0;
    if (status == 0) {
        /* the endpoint failed under the control request: like a failed attempt (retried elsewhere) */
        ig_log_warn("model %s: endpoint %s failed a control request (%s)", p->oreq.model_name, p->ep->url,
                    ig_upstream_result_str(result));
        release_endpoint(p, 1);
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

/* The client left during a control request: stop it; the plugin still hears of it (status 0). */
static void control_cancel(proxy_t *p)
{
    if (p->ctl == NULL)
        return;
    ig_upstream_cancel(p->ctl);
    p->ctl = NULL;
    ig_error_t err = {{0}};
    p->model->engine->on_control_done(p->model->engine_plugin_state, &p->ereq, p->ep, 0, NULL, 0, &err);
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
    p->engine_wait = 0;
    engine_gate(p);
}

static void engine_wait_expire(ig_queue_entry_t *e)
{
    proxy_t *p = proxy_of_entry(e);
    p->engine_wait = 0;
    release_endpoint(p, 0);
    end_engine(p, 0, &null_sink);
    p->log->outcome = "engine not ready";
    ig_send_error(p->req, 504, "server_error", NULL, "upstream_timeout",
                  "model `%s`: the engine was not ready for the request within %llums (server.firstByteTimeout)",
                  p->oreq.model_name, (unsigned long long)p->gen->config->server.first_byte_timeout_ms);
}

/* Asks the engine plugin whether the picked endpoint needs a control request first, then sends. */
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
    int rc = eng->before_send(p->model->engine_plugin_state, &p->ereq, p->ep, &ctl, &err);
    if (rc == IG_ENGINE_SEND) {
        send_request(p);
    } else if (rc == IG_ENGINE_CONTROL) {
        static const ig_upstream_header_t json_ct = {IG_STR("Content-Type"), IG_STR("application/json")};
        ig_upstream_request_t ureq = {
            .endpoint = p->ep,
            .method = ctl.method.len ? ctl.method : IG_STR("POST"),
            .path = ctl.path,
            .headers = &json_ct,
            .nheaders = ctl.body.len ? 1 : 0,
            .body = &ctl.body,
            .nbody = ctl.body.len ? 1 : 0,
        };
        p->ctl_status = 0;
        p->ctl_body.len = 0;
        p->ctl = ig_upstream_start(p->worker->upstream, &ureq, &control_callbacks, p);
        if (p->ctl == NULL) {
            ig_error_t oom = {.status = 500};
            snprintf(oom.msg, sizeof(oom.msg), "out of memory");
            fail_engine(p, &oom);
        }
    } else if (rc == IG_ENGINE_WAIT) {
        uint64_t now = uv_now(&p->worker->loop);
        if (p->wait_deadline_ms == 0)
            p->wait_deadline_ms = now + p->gen->config->server.first_byte_timeout_ms;
        p->queued.is_ready = engine_wait_ready;
        p->queued.release = engine_wait_release;
        p->queued.expire = engine_wait_expire;
        p->engine_wait = 1;
        /* is_ready says yes at the next tick; the deadline only matters once it says no, which it never does */
        if (now >= p->wait_deadline_ms) {
            p->engine_wait = 0;
            engine_wait_expire(&p->queued);
            return;
        }
        ig_request_queue_push(&p->worker->queue, &p->queued, p->wait_deadline_ms - now);
    } else {
        fail_engine(p, &err);
    }
}

/* ---- the request ------------------------------------------------------------------------------ */

static void cut_for_shutdown(ig_worker_request_t *t);

/* Every rate limiter admitted the request (now or later): its engine prepares it, then it goes. */
static void on_admitted(ig_ratelimit_stage_t *s, int rc)
{
    proxy_t *p = (proxy_t *)((char *)s - offsetof(proxy_t, limits));
    if (rc != 0)
        return; /* answered */
    if (prepare_engine(p, p->model, p->adapter) != 0)
        return;
    dispatch(p);
}

/* The caller is known (now or later): the body names a model it may use, then the rate limiters decide. */
static void on_authenticated(ig_auth_stage_t *s, int rc)
{
    proxy_t *p = (proxy_t *)((char *)s - offsetof(proxy_t, auth));
    if (rc != 0)
        return; /* answered */
    h2o_req_t *req = p->req;
    ig_generation_t *gen = p->gen;
    ig_api_t api = p->oreq.api;
    p->log->principal = p->auth.principal;

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
        return;
    }
    ig_request_log_set_model(p->log, p->oreq.model_name, p->oreq.model_name_len);
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, p->oreq.model_name, p->oreq.model_name_len, &adapter);
    if (m == NULL || !ig_auth_model_allowed(gen, p->auth.principal, &m->cfg->model)) {
        ig_send_error(req, 404, "invalid_request_error", "model", "model_not_found",
                      "The model `%s` does not exist or you do not have access to it.", p->oreq.model_name);
        return;
    }
    unsigned need = ig_api_required_feature(api);
    if (!(m->cfg->model.features & need)) {
        char have[128], want[64];
        ig_send_error(req, 400, "invalid_request_error", "model", "model_not_supported",
                      "model `%s` does not support %s: it needs the %s feature and the model has %s",
                      p->oreq.model_name, ig_api_path(api), ig_features_str(need, want, sizeof(want)),
                      ig_features_str(m->cfg->model.features, have, sizeof(have)));
        return;
    }
    p->model = m;
    p->adapter = adapter;
    ig_ratelimit_subject_t subject = {p->auth.principal, &m->cfg->model, adapter, api};
    if (ig_ratelimit_admit(&p->limits, req, gen, p->log, &subject, on_admitted) == 0)
        on_admitted(&p->limits, 0);
}

void ig_proxy_handle(ig_worker_t *w, h2o_req_t *req, ig_api_t api, ig_request_log_t *log)
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
    p->req = req;
    p->worker = w;
    p->ghold = ig_worker_gen_acquire(w);
    p->gen = gen;
    p->log = log;
    p->sink.write = sink_write;
    p->started_unix_ms = wall_ms();
    p->mgen = gen;
    p->oreq.api = api;
    ig_worker_track(w, &p->tracked, cut_for_shutdown);
    if (ig_auth_start(&p->auth, req, gen, on_authenticated) == 0)
        on_authenticated(&p->auth, 0);
}

/* ---- the end of the grace period ------------------------------------------------------------------ */

#define SHUTDOWN_MSG "the gateway is shutting down: the response was cut at the end of server.shutdownGracePeriod"

/* Ends one request still running when the grace period is over, telling the client why. */
static void cut_for_shutdown(ig_worker_request_t *t)
{
    proxy_t *p = (proxy_t *)((char *)t - offsetof(proxy_t, tracked));
    if (p->client_gone || p->final_sent || p->upstream_done)
        return; /* answered, or only the client's reading is left */
    int waiting = p->in_queue || p->engine_wait || ig_auth_pending(&p->auth) || ig_ratelimit_pending(&p->limits);
    ig_auth_cancel(&p->auth);
    ig_ratelimit_cancel(&p->limits);
    leave_queue(p);
    control_cancel(p);
    if (p->up != NULL) {
        ig_upstream_cancel(p->up);
        p->up = NULL;
    }
    release_endpoint(p, 0);
    p->log->outcome = "cut at shutdown";
    if (waiting || (!p->started && p->pending.len == 0) || p->error_status) {
        end_engine(p, 0, &null_sink);
        h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        ig_send_error(p->req, 503, "server_error", NULL, "shutting_down", "%s", SHUTDOWN_MSG);
        return;
    }
    end_engine(p, 0, &p->sink);
    if (p->sse) {
        h2o_iovec_t body = ig_openai_error_body(&p->req->pool, "server_error", NULL, "shutting_down", SHUTDOWN_MSG,
                                                sizeof(SHUTDOWN_MSG) - 1);
        sink_write(&p->sink, "data: ", 6);
        sink_write(&p->sink, body.base, body.len - 1);
        sink_write(&p->sink, "\n\n", 2);
    }
    p->result = IG_UPSTREAM_CUT;
    p->upstream_done = 1;
    flush(p);
}
