#include "sim_pump.h"

#include <math.h>
#include <stdlib.h>

#include "sim_config.h"
#include "sim_http.h"
#include "sim_server.h"
#include "sim_stats.h"
#include "sim_usage.h"

/* Most tokens put in one send (about 100 bytes each); bounds per-stream buffering when unpaced. */
#define SIM_PUMP_MAX_BATCH 256

static void pump(sim_pump_t *p);

static void on_timer_closed(uv_handle_t *h)
{
    sim_pump_t *p = h->data;
    ig_buf_free(&p->out);
    free(p); /* the pump is its owner's first member */
}

static void release(sim_pump_t *p)
{
    if (h2o_linklist_is_linked(&p->link))
        h2o_linklist_unlink(&p->link);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

static void on_req_dispose(void *slot)
{
    sim_pump_t *p = *(sim_pump_t **)slot;
    SIM_STAT_SUB(active_streams, 1);
    sim_sched_release(&p->seq);
    p->req = NULL;
    if (p->in_pump)
        p->free_pending = 1;
    else
        release(p);
}

/* The client is gone before the end: the stream is cancelled and gives its slot back. */
static void cancel(sim_pump_t *p)
{
    if (!p->done) {
        p->done = 1;
        SIM_STAT_ADD(streams_cancelled, 1);
    }
    p->req = NULL;
    uv_timer_stop(&p->timer);
    sim_sched_release(&p->seq);
}

static void on_stop(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    cancel((sim_pump_t *)g);
}

static void on_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    (void)req;
    sim_pump_t *p = (sim_pump_t *)g;
    p->inflight = 0;
    pump(p);
}

static void on_timer(uv_timer_t *t) { pump(t->data); }

static void run_from_now(sim_pump_t *p)
{
    p->admitted = 1;
    p->t0 = uv_now(p->timer.loop) + p->ttft_ms;
    SIM_STAT_ADD(prefill_ms, p->ttft_ms);
}

/* sim_sched gave the request its running slot: prefill starts now. */
static void on_admit(sim_seq_t *s)
{
    sim_pump_t *p = H2O_STRUCT_FROM_MEMBER(sim_pump_t, seq, s);
    run_from_now(p);
    pump(p);
}

static void send_out(sim_pump_t *p, h2o_send_state_t state)
{
    h2o_iovec_t buf = h2o_iovec_init(p->out.p, p->out.len);
    p->inflight = state == H2O_SEND_STATE_IN_PROGRESS;
    h2o_send(p->req, &buf, buf.len ? 1 : 0, state);
}

/* Half the tokens are out (and flushed): the fault strikes. */
static void strike(sim_pump_t *p)
{
    h2o_req_t *req = p->req;
    sim_cut_t cut = p->cut;
    if (cut == SIM_CUT_ERROR && p->ops->put_error == NULL)
        cut = SIM_CUT_DIE; /* an engine without an error event just drops the stream */
    switch (cut) {
    case SIM_CUT_ERROR:
        ig_buf_reset(&p->out);
        p->ops->put_error(p);
        p->done = 1;
        SIM_STAT_ADD(streams_failed, 1);
        sim_sched_release(&p->seq);
        send_out(p, H2O_SEND_STATE_FINAL);
        return;
    case SIM_CUT_DIE:
        p->done = 1;
        p->req = NULL;
        sim_sched_release(&p->seq);
        sim_http_abort(req, 1);
        return;
    case SIM_CUT_STALL:
        p->stalled = 1; /* keeps its slot, as a stuck engine request does, until the client leaves */
        return;
    default:
        return;
    }
}

static void pump_once(sim_pump_t *p)
{
    if (p->req == NULL || p->inflight || p->done || p->stalled)
        return;
    if (!p->admitted) {
        if (!p->headers_sent) { /* the headers go out at once (over h2; h2o's HTTP/1 holds them until a body byte) */
            p->headers_sent = 1;
            ig_buf_reset(&p->out);
            send_out(p, H2O_SEND_STATE_IN_PROGRESS);
        }
        return; /* waits for a running slot: on_admit */
    }
    if (p->headers_sent && p->sent >= p->cut_at && (p->start_sent || p->ops->put_start == NULL)) {
        strike(p); /* everything before the cut has been flushed */
        return;
    }

    uint64_t now = uv_now(p->timer.loop);
    uint32_t limit = p->total < p->cut_at ? p->total : p->cut_at;
    /* an event never crosses the drip point: dripping starts on a token boundary */
    uint32_t stop = p->drip_after != 0 && p->sent < p->drip_after && p->drip_after < limit ? p->drip_after : limit;
    int dripping = p->drip_after != 0 && p->sent >= p->drip_after;
    uint32_t quantum = p->merge ? 1 : p->per_chunk; /* tokens an event waits for */
    int started = now >= p->t0;
    uint32_t due = 0;
    if (started) {
        uint64_t allowed = stop;
        if (p->ms_per_token > 0) {
            double k = floor((double)(now - p->t0) / p->ms_per_token) + 1;
            if (k < (double)stop)
                allowed = (uint64_t)k;
        }
        if (allowed > p->sent)
            due = (uint32_t)(allowed - p->sent);
    }
    if (due > SIM_PUMP_MAX_BATCH)
        due = SIM_PUMP_MAX_BATCH;
    if (dripping) {
        /* one event per drip_ms, so a client that leaves now is seen before the next */
        if (now < p->next_drip) {
            uv_timer_start(&p->timer, on_timer, p->next_drip - now, 0);
            return;
        }
        if (due > quantum)
            due = quantum;
    }
    if (p->sent + due < stop)
        due -= due % quantum; /* whole events only, but for the one that reaches the stop */
    /* vLLM emits the role chunk together with the first token (after prefill) */
    int start_now = p->ops->put_start != NULL && !p->start_sent && started;

    if (due == 0 && !start_now) {
        if (!p->headers_sent) {
            p->headers_sent = 1;
            ig_buf_reset(&p->out);
            send_out(p, H2O_SEND_STATE_IN_PROGRESS);
            return;
        }
        uint64_t next = p->t0;
        uint32_t need = stop - p->sent < quantum ? stop - p->sent : quantum;
        if (started && need > 0)
            next = p->t0 + (uint64_t)ceil((double)(p->sent + need - 1) * p->ms_per_token);
        uv_timer_start(&p->timer, on_timer, next > now ? next - now : 1, 0);
        return;
    }

    ig_buf_reset(&p->out);
    if (start_now) {
        p->ops->put_start(p);
        p->start_sent = 1;
    }
    uint32_t events = 0;
    for (uint32_t first = p->sent + 1, end = p->sent + due; first <= end; events++) {
        uint32_t last = p->merge || end - first < p->per_chunk ? end : first + p->per_chunk - 1;
        p->ops->put_tokens(p, first, last);
        first = last + 1;
    }
    p->sent += due;
    p->headers_sent = 1;
    SIM_STAT_ADD(completion_tokens, due);
    SIM_STAT_ADD(chunks, events);
    if (p->count_usage)
        sim_usage_add(p->user, p->user_len, 0, 0, due);
    if (p->drip_after != 0 && p->sent >= p->drip_after)
        p->next_drip = now + p->drip_ms;

    if (p->sent == p->total) {
        p->ops->put_end(p);
        p->done = 1;
        SIM_STAT_ADD(streams_finished, 1);
        sim_sched_release(&p->seq);
        send_out(p, H2O_SEND_STATE_FINAL);
        return;
    }
    send_out(p, H2O_SEND_STATE_IN_PROGRESS);
}

/* h2o may call proceed from inside h2o_send; loop instead of recursing, and defer the free if the
 * request is disposed meanwhile. */
static void pump(sim_pump_t *p)
{
    if (p->in_pump) {
        p->repump = 1;
        return;
    }
    p->in_pump = 1;
    do {
        p->repump = 0;
        pump_once(p);
    } while (p->repump);
    p->in_pump = 0;
    if (p->free_pending)
        release(p);
}

void sim_pump_start(sim_pump_t *p, h2o_req_t *req, const sim_pump_ops_t *ops, const sim_pump_params_t *params)
{
    sim_worker_t *w = sim_worker_of(req);
    p->super.proceed = on_proceed;
    p->super.stop = on_stop;
    p->req = req;
    p->ops = ops;
    p->total = params->tokens;
    p->cut = params->cut;
    p->cut_at = params->cut != SIM_CUT_NONE ? params->tokens / 2 : UINT32_MAX;
    p->per_chunk = params->per_chunk > 0 ? params->per_chunk : 1;
    p->merge = params->merge != 0;
    p->ttft_ms = params->ttft_ms;
    p->drip_after = params->drip_after;
    p->drip_ms = params->drip_ms;
    p->count_usage = params->count_usage != 0;
    p->user_len = params->user && params->user_len < sizeof(p->user) ? params->user_len : 0;
    if (p->user_len)
        memcpy(p->user, params->user, p->user_len);
    p->ms_per_token = sim_cfg.token_rate > 0 ? 1000.0 / sim_cfg.token_rate : 0;
    uv_timer_init(&w->loop, &p->timer);
    p->timer.data = p;

    sim_pump_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), on_req_dispose);
    *slot = p;
    h2o_linklist_insert(&w->streams, &p->link);

    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, params->content_type,
                   strlen(params->content_type));
    h2o_start_response(req, &p->super);
    SIM_STAT_ADD(streams_started, 1);
    SIM_STAT_ADD(active_streams, 1);
    p->seq.on_admit = on_admit;
    if (sim_sched_submit(w, &p->seq))
        run_from_now(p);
    pump(p);
}

void sim_pump_check_clients(struct sim_worker *w)
{
    /* same walk as sim_http_check_hung: aborting may dispose of the request (and unlink it) */
    h2o_linklist_t pending;
    h2o_linklist_init_anchor(&pending);
    h2o_linklist_insert_list(&pending, &w->streams);
    while (!h2o_linklist_is_empty(&pending)) {
        sim_pump_t *p = H2O_STRUCT_FROM_MEMBER(sim_pump_t, link, pending.next);
        h2o_linklist_unlink(&p->link);
        h2o_linklist_insert(&w->streams, &p->link);
        /* only streams idle on their timer (or stalled, or waiting for a slot): with a send in
         * flight h2o finds out by itself, and a second h2o_send would break its one-send rule */
        if (p->req == NULL || p->inflight || p->done || p->in_pump || !sim_http_peer_gone(p->req))
            continue;
        h2o_req_t *req = p->req;
        cancel(p);
        sim_http_abort(req, 1);
    }
}
