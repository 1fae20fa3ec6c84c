#include "sim_stream.h"

#include <math.h>
#include <stdlib.h>

#include "sim_buf.h"
#include "sim_config.h"
#include "sim_http.h"
#include "sim_openai.h"
#include "sim_server.h"
#include "sim_stats.h"
#include "sim_usage.h"

/* Most tokens put in one send (about 100 bytes each); bounds per-stream buffering when unpaced. */
#define SIM_STREAM_MAX_BATCH 256

/* Life cycle: malloc'd at start; h2o's request pool holds a slot whose dispose callback closes the
 * timer, and the timer's close callback frees the stream.  `req` is cleared when the client goes
 * away (stop) or the request is disposed, after which nothing is sent. */
typedef struct sim_stream {
    h2o_generator_t super;
    h2o_req_t *req;
    h2o_linklist_t link; /* in worker->streams while alive */
    uv_timer_t timer;
    ig_buf_t out; /* the send in flight; rewritten only after proceed */
    uint64_t prompt_tokens;
    int64_t cached_tokens;
    uint64_t t0;         /* loop time (ms) the first token is due */
    double ms_per_token; /* 0 = unpaced */
    uint32_t total;
    uint32_t sent;
    uint32_t die_at; /* UINT32_MAX unless die-mid-stream */
    unsigned chat : 1, include_usage : 1, finish_length : 1;
    unsigned headers_sent : 1, role_sent : 1, inflight : 1, done : 1;
    unsigned in_pump : 1, repump : 1, free_pending : 1, continuous_usage : 1;
    uint32_t drip_after; /* 0: off */
    unsigned drip_ms;
    uint64_t next_drip;  /* loop time the next dripped token is due */
    char user[64];       /* for sim_usage */
    size_t user_len;
    size_t prefix_len;
    char prefix[]; /* `data: {"id":"...","object":"...","created":N,"model":"...","choices":[` */
} sim_stream_t;

static void pump(sim_stream_t *s);

static void on_timer_closed(uv_handle_t *h)
{
    sim_stream_t *s = h->data;
    ig_buf_free(&s->out);
    free(s);
}

static void release(sim_stream_t *s)
{
    if (h2o_linklist_is_linked(&s->link))
        h2o_linklist_unlink(&s->link);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static void on_req_dispose(void *p)
{
    sim_stream_t *s = *(sim_stream_t **)p;
    SIM_STAT_SUB(active_streams, 1);
    s->req = NULL;
    if (s->in_pump)
        s->free_pending = 1;
    else
        release(s);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    sim_stream_t *s = (sim_stream_t *)g;
    if (!s->done) {
        s->done = 1;
        SIM_STAT_ADD(streams_cancelled, 1);
    }
    s->req = NULL;
    uv_timer_stop(&s->timer);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    sim_stream_t *s = (sim_stream_t *)g;
    s->inflight = 0;
    pump(s);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

/* ---- chunk text ------------------------------------------------------------------------------ */

static void chunk_end(sim_stream_t *s, uint32_t completed)
{
    /* continuous_usage_stats: vLLM puts the usage so far on every chunk (the role chunk: 0 completed) */
    if (s->continuous_usage) {
        ig_buf_lit(&s->out, "],\"usage\":");
        sim_openai_put_usage(&s->out, s->prompt_tokens, completed, 0, -1);
        ig_buf_lit(&s->out, "}\n\n");
        return;
    }
    /* vLLM sets usage=None on every chunk when include_usage is on (chat), and always dumps all
     * fields of completion chunks */
    if (!s->chat || s->include_usage)
        ig_buf_lit(&s->out, "],\"usage\":null}\n\n");
    else
        ig_buf_lit(&s->out, "]}\n\n");
}

static void put_role_chunk(sim_stream_t *s)
{
    ig_buf_put(&s->out, s->prefix, s->prefix_len);
    ig_buf_lit(&s->out, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}");
    chunk_end(s, 0);
}

static void put_token_chunk(sim_stream_t *s, uint32_t k)
{
    ig_buf_t *b = &s->out;
    ig_buf_put(b, s->prefix, s->prefix_len);
    if (s->chat)
        ig_buf_lit(b, "{\"index\":0,\"delta\":{\"content\":\"");
    else
        ig_buf_lit(b, "{\"index\":0,\"text\":\"");
    sim_openai_put_token(b, k);
    ig_buf_puts(b, s->chat ? "\"},\"logprobs\":null,\"finish_reason\":" : "\",\"logprobs\":null,\"finish_reason\":");
    if (k < s->total) {
        if (s->chat)
            ig_buf_lit(b, "null}");
        else
            ig_buf_lit(b, "null,\"stop_reason\":null}");
    } else {
        ig_buf_puts(b, s->finish_length ? "\"length\"" : "\"stop\"");
        ig_buf_lit(b, ",\"stop_reason\":null}");
    }
    chunk_end(s, k);
}

static void put_usage_chunk(sim_stream_t *s)
{
    ig_buf_put(&s->out, s->prefix, s->prefix_len);
    ig_buf_lit(&s->out, "],\"usage\":");
    sim_openai_put_usage(&s->out, s->prompt_tokens, s->total, 0, s->cached_tokens);
    ig_buf_lit(&s->out, "}\n\n");
}

/* ---- pacing ---------------------------------------------------------------------------------- */

static void pump_once(sim_stream_t *s)
{
    if (s->req == NULL || s->inflight || s->done)
        return;
    h2o_req_t *req = s->req;
    uv_loop_t *loop = s->timer.loop;

    if (s->headers_sent && s->sent >= s->die_at && (s->role_sent || !s->chat)) {
        /* die-mid-stream: everything before the cut has been flushed */
        s->done = 1;
        s->req = NULL;
        sim_http_abort(req, 1);
        return;
    }

    uint64_t now = uv_now(loop);
    uint32_t limit = s->total < s->die_at ? s->total : s->die_at;
    uint32_t due = 0;
    int started = now >= s->t0;
    if (started) {
        uint64_t allowed = limit;
        if (s->ms_per_token > 0) {
            double k = floor((double)(now - s->t0) / s->ms_per_token) + 1;
            if (k < (double)limit)
                allowed = (uint64_t)k;
        }
        if (allowed > s->sent)
            due = (uint32_t)(allowed - s->sent);
    }
    if (due > SIM_STREAM_MAX_BATCH)
        due = SIM_STREAM_MAX_BATCH;
    if (s->drip_after != 0 && s->sent >= s->drip_after) {
        /* dripping: one token per drip_ms, so a client that leaves now is seen before the next */
        if (now < s->next_drip) {
            uv_timer_start(&s->timer, on_timer, s->next_drip - now, 0);
            return;
        }
        due = due > 0 ? 1 : 0;
    } else if (s->drip_after != 0 && s->sent + due > s->drip_after) {
        due = s->drip_after - s->sent;
    }
    /* vLLM emits the role chunk together with the first token (after prefill) */
    int role_now = s->chat && !s->role_sent && started;

    if (due == 0 && !(role_now && s->sent >= s->die_at)) {
        if (!s->headers_sent) {
            /* flush the response headers now; tokens follow at their time */
            s->headers_sent = 1;
            s->inflight = 1;
            h2o_send(req, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
            return;
        }
        uint64_t next = s->t0;
        if (started)
            next = s->t0 + (uint64_t)ceil((double)s->sent * s->ms_per_token);
        uv_timer_start(&s->timer, on_timer, next > now ? next - now : 1, 0);
        return;
    }

    ig_buf_reset(&s->out);
    if (role_now) {
        put_role_chunk(s);
        s->role_sent = 1;
    }
    for (uint32_t k = s->sent + 1; k <= s->sent + due; k++)
        put_token_chunk(s, k);
    s->sent += due;
    s->headers_sent = 1;
    SIM_STAT_ADD(completion_tokens, due);
    sim_usage_add(s->user, s->user_len, 0, 0, due);
    if (s->drip_after != 0 && s->sent >= s->drip_after)
        s->next_drip = now + s->drip_ms;

    if (s->sent == s->total) {
        if (s->include_usage)
            put_usage_chunk(s);
        ig_buf_lit(&s->out, "data: [DONE]\n\n");
        s->done = 1;
        SIM_STAT_ADD(streams_finished, 1);
        h2o_iovec_t buf = h2o_iovec_init(s->out.p, s->out.len);
        h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
        return;
    }
    s->inflight = 1;
    h2o_iovec_t buf = h2o_iovec_init(s->out.p, s->out.len);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
}

/* h2o may call proceed from inside h2o_send; loop instead of recursing, and defer the free if the
 * request is disposed meanwhile. */
static void pump(sim_stream_t *s)
{
    if (s->in_pump) {
        s->repump = 1;
        return;
    }
    s->in_pump = 1;
    do {
        s->repump = 0;
        pump_once(s);
    } while (s->repump);
    s->in_pump = 0;
    if (s->free_pending)
        release(s);
}

void sim_stream_start(h2o_req_t *req, const sim_stream_params_t *p)
{
    sim_worker_t *w = sim_worker_of(req);
    ig_buf_t pre = {0};
    ig_buf_lit(&pre, "data: {\"id\":\"");
    ig_buf_put(&pre, p->id, p->id_len);
    ig_buf_puts(&pre, p->chat ? "\",\"object\":\"chat.completion.chunk\",\"created\":" : "\",\"object\":\"text_completion\",\"created\":");
    ig_buf_put_u64(&pre, p->created);
    ig_buf_lit(&pre, ",\"model\":");
    ig_json_write_str(&pre, p->model, p->model_len);
    ig_buf_lit(&pre, ",\"choices\":[");

    sim_stream_t *s = calloc(1, sizeof(*s) + pre.len);
    if (s == NULL) {
        ig_buf_free(&pre);
        sim_http_send_vllm_error(req, 500, "InternalServerError", "out of memory");
        return;
    }
    memcpy(s->prefix, pre.p, pre.len);
    s->prefix_len = pre.len;
    ig_buf_free(&pre);

    s->super.proceed = on_proceed;
    s->super.stop = on_stop;
    s->req = req;
    s->prompt_tokens = p->prompt_tokens;
    s->cached_tokens = p->cached_tokens;
    s->total = p->completion_tokens;
    s->die_at = p->die_mid_stream ? p->completion_tokens / 2 : UINT32_MAX;
    s->chat = p->chat != 0;
    s->include_usage = p->include_usage != 0;
    s->continuous_usage = p->continuous_usage != 0;
    s->drip_after = p->drip_after;
    s->drip_ms = p->drip_ms;
    s->user_len = p->user && p->user_len < sizeof(s->user) ? p->user_len : 0;
    if (s->user_len)
        memcpy(s->user, p->user, s->user_len);
    s->finish_length = p->finish_length != 0;
    s->ms_per_token = sim_cfg.token_rate > 0 ? 1000.0 / sim_cfg.token_rate : 0;
    s->t0 = uv_now(&w->loop) + p->ttft_ms;
    uv_timer_init(&w->loop, &s->timer);
    s->timer.data = s;

    sim_stream_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_dispose);
    *slot = s;
    h2o_linklist_insert(&w->streams, &s->link);

    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(SIM_CT_SSE));
    h2o_start_response(req, &s->super);
    SIM_STAT_ADD(streams_started, 1);
    SIM_STAT_ADD(active_streams, 1);
    pump(s);
}

void sim_stream_check_clients(struct sim_worker *w)
{
    /* same walk as sim_http_check_hung: aborting may dispose of the request (and unlink it) */
    h2o_linklist_t pending;
    h2o_linklist_init_anchor(&pending);
    h2o_linklist_insert_list(&pending, &w->streams);
    while (!h2o_linklist_is_empty(&pending)) {
        sim_stream_t *s = H2O_STRUCT_FROM_MEMBER(sim_stream_t, link, pending.next);
        h2o_linklist_unlink(&s->link);
        h2o_linklist_insert(&w->streams, &s->link);
        /* only streams idle on their timer: with a send in flight h2o finds out by itself, and a
         * second h2o_send would break its one-send-at-a-time rule */
        if (s->req == NULL || s->inflight || s->done || s->in_pump || !sim_http_peer_gone(s->req))
            continue;
        h2o_req_t *req = s->req;
        s->done = 1;
        s->req = NULL;
        uv_timer_stop(&s->timer);
        SIM_STAT_ADD(streams_cancelled, 1);
        sim_http_abort(req, 1);
    }
}
