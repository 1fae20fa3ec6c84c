/*
 * health_check.c — probe rounds on the main loop (see health_check.h).
 *
 * Per endpoint (indexed by its registry id) the checker keeps one round:
 * the probes started for it on one tick. A probe holds a reference to the
 * generation it started under, so the engine state its load parser uses
 * stays alive across a reload. A round still running when the next tick
 * comes (timeout longer than interval) delays that endpoint's next round.
 */
#include "upstream/health_check.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "observe/log.h"
#include "upstream/upstream.h"
#include "util/buf.h"

#define HC_MAX_PATHS 8               /* distinct probe paths per endpoint and round */
#define HC_MAX_LOAD_BODY (8u << 20)  /* a load report larger than this is refused */
#define HC_MAX_HOLDOFF_SHIFT 3       /* recovery hold-off after a passive ejection: at most 8 intervals */
#define HC_STARTING_PERIOD_MS 250    /* a starting replica is probed this often: it serves as soon as it answers */

typedef struct {
    ig_endpoint_t *ep;
    uint64_t tick;                   /* the tick that started this round; 0 = none yet */
    unsigned pending;                /* probes still running */
    unsigned nhealth;                /* health probes started */
    int failed;                      /* a health probe failed */
    char reason[160];                /* the first failure */
    struct {
        const char *path;
        const void *parser;          /* parse_load for load probes, NULL for health probes */
    } started[HC_MAX_PATHS];
    unsigned nstarted;
    int load_seen, load_ok;
    double load, kv;                 /* the highest report among the engines there */
} round_t;

typedef struct probe_s probe_t;
struct probe_s {
    probe_t *prev, *next;            /* the checker's probes in flight */
    ig_health_checker_t *hc;
    uint32_t ep_id;
    ig_generation_t *gen;            /* retained until the probe ends */
    const ig_model_rt_t *model;      /* in gen: its engine parses load reports */
    const char *path;
    int is_load;
    int finished;
    ig_upstream_req_t *up;
    uv_timer_t timer;
    int status;
    ig_buf_t body;                   /* load probes: the answer so far */
};

struct ig_health_checker_s {
    uv_loop_t *loop;
    ig_generation_t *const *active;
    ig_endpoint_ready_fn on_ready;
    void *data;
    uv_timer_t tick;
    ig_upstream_pool_t *pool;
    ig_upstream_limits_t limits;
    round_t *rounds;                 /* by endpoint id */
    size_t nrounds;
    probe_t *probes;
    uint64_t tick_no;
    uint64_t next_full_ms;           /* when every endpoint is probed next (ticks between probe starting replicas only) */
    unsigned live_handles;           /* the tick timer and probe timers not yet closed */
    int stopping;
};

static const ig_server_config_t *server_cfg(ig_health_checker_t *hc)
{
    ig_generation_t *gen = *hc->active;
    return gen != NULL ? &gen->config->server : NULL;
}

static void checker_free(ig_health_checker_t *hc)
{
    free(hc->rounds);
    free(hc);
}

static probe_t *container_of_probe(uv_handle_t *h)
{
    return (probe_t *)((char *)h - offsetof(probe_t, timer));
}

static void on_handle_closed(uv_handle_t *h)
{
    ig_health_checker_t *hc = h->data;
    if (h != (uv_handle_t *)&hc->tick)
        free(container_of_probe(h));
    if (--hc->live_handles == 0 && hc->stopping)
        checker_free(hc);
}

/* ---- ending a round --------------------------------------------------------------------------------- */

static int holdoff_passed(const ig_endpoint_t *ep, uint64_t interval_ms, uint64_t now)
{
    unsigned k = atomic_load_explicit(&ep->ejections, memory_order_relaxed);
    if (k == 0)
        return 1;
    unsigned shift = k - 1 > HC_MAX_HOLDOFF_SHIFT ? HC_MAX_HOLDOFF_SHIFT : k - 1;
    uint64_t at = atomic_load_explicit(&ep->ejected_at_ms, memory_order_relaxed);
    return now >= at + (interval_ms << shift);
}

static void recover(ig_health_checker_t *hc, ig_endpoint_t *ep, const char *why)
{
    if (!ig_endpoint_mark_healthy(ep))
        return;
    atomic_store_explicit(&ep->consecutive_failures, 0, memory_order_relaxed);
    atomic_store_explicit(&ep->probe_failures, 0, memory_order_relaxed);
    ig_log_info("endpoint %s is healthy again: %s", ep->url, why);
    if (hc->on_ready != NULL)
        hc->on_ready(hc->data, ep);
}

static void conclude(ig_health_checker_t *hc, round_t *r)
{
    const ig_server_config_t *sc = server_cfg(hc);
    ig_endpoint_t *ep = r->ep;
    uint64_t now = ig_endpoint_now_ms();
    if (r->load_seen) {
        double v = r->load_ok ? r->load : 0;
        uint32_t load = v >= 4294967295.0 ? UINT32_MAX : (uint32_t)llround(v);
        atomic_store_explicit(&ep->engine_load, load, memory_order_relaxed);
        atomic_store_explicit(&ep->engine_kv_permille, r->load_ok ? (unsigned)llround(r->kv * 1000) : 0,
                              memory_order_relaxed);
    }
    if (sc == NULL)
        return;
    int healthy = atomic_load_explicit(&ep->healthy, memory_order_relaxed);
    if (r->nhealth == 0) {
        /* nothing to probe: passive ejection ends with the hold-off */
        if (!healthy && holdoff_passed(ep, sc->health_check.interval_ms, now))
            recover(hc, ep, "hold-off over (its engine has no health path to probe)");
        return;
    }
    atomic_store_explicit(&ep->last_probe_ms, now, memory_order_relaxed);
    atomic_store_explicit(&ep->last_probe_ok, !r->failed, memory_order_relaxed);
    if (!r->failed) {
        atomic_store_explicit(&ep->probe_failures, 0, memory_order_relaxed);
        unsigned n = atomic_fetch_add_explicit(&ep->probe_successes, 1, memory_order_relaxed) + 1;
        if (!healthy && n >= sc->health_check.healthy_threshold &&
            holdoff_passed(ep, sc->health_check.interval_ms, now)) {
            char why[64];
            snprintf(why, sizeof(why), "%u probe%s succeeded", n, n == 1 ? "" : "s");
            recover(hc, ep, why);
        }
        return;
    }
    atomic_store_explicit(&ep->probe_successes, 0, memory_order_relaxed);
    unsigned n = atomic_fetch_add_explicit(&ep->probe_failures, 1, memory_order_relaxed) + 1;
    if (healthy && n >= sc->health_check.unhealthy_threshold && ig_endpoint_mark_unhealthy(ep))
        ig_log_warn("endpoint %s is unhealthy: %u probe%s failed (%s)", ep->url, n, n == 1 ? "" : "s", r->reason);
    else
        ig_log_debug("endpoint %s: probe failed (%s), %u in a row", ep->url, r->reason, n);
}

/* ---- one probe -------------------------------------------------------------------------------------- */

static void round_fail(round_t *r, const char *reason)
{
    if (r->failed)
        return;
    r->failed = 1;
    snprintf(r->reason, sizeof(r->reason), "%s", reason);
}

static void probe_finish(probe_t *p, ig_upstream_result_t result, const char *timeout_msg)
{
    ig_health_checker_t *hc = p->hc;
    round_t *r = &hc->rounds[p->ep_id];
    p->finished = 1;
    uv_timer_stop(&p->timer);
    if (p->is_load) {
        ig_engine_load_t load = {-1, -1, -1};
        const ig_engine_vtable_t *eng = p->model->engine;
        if (result == IG_UPSTREAM_OK && timeout_msg == NULL && p->status >= 200 && p->status < 300 &&
            eng->parse_load(p->model->engine_plugin_state, p->body.p ? p->body.p : "", p->body.len, &load) == 0) {
            double v = (load.running > 0 ? load.running : 0) + (load.waiting > 0 ? load.waiting : 0);
            double kv = load.kv_cache_usage > 0 ? (load.kv_cache_usage < 1 ? load.kv_cache_usage : 1) : 0;
            if (isfinite(v) && (!r->load_ok || v > r->load))
                r->load = v;
            if (isfinite(kv) && (!r->load_ok || kv > r->kv))
                r->kv = kv;
            r->load_ok = 1;
        } else {
            ig_log_debug("endpoint %s: no load report from GET %s", r->ep->url, p->path);
        }
    } else if (timeout_msg != NULL || result != IG_UPSTREAM_OK || p->status < 200 || p->status >= 300) {
        char why[160];
        if (timeout_msg != NULL)
            snprintf(why, sizeof(why), "%s", timeout_msg);
        else if (result != IG_UPSTREAM_OK)
            snprintf(why, sizeof(why), "%s", ig_upstream_result_str(result));
        else
            snprintf(why, sizeof(why), "GET %.100s answered %d", p->path, p->status);
        round_fail(r, why);
    }
    ig_buf_free(&p->body);
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        hc->probes = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    ig_generation_release(p->gen);
    uv_close((uv_handle_t *)&p->timer, on_handle_closed);
    if (--r->pending == 0)
        conclude(hc, r);
}

static void on_probe_head(void *data, int status, const ig_upstream_header_t *headers, size_t n)
{
    ((probe_t *)data)->status = status;
}

static void on_probe_body(void *data, const char *chunk, size_t len)
{
    probe_t *p = data;
    if (!p->is_load || p->status < 200 || p->status >= 300)
        return; /* a health answer's body says nothing more than its status */
    if (p->body.len + len > HC_MAX_LOAD_BODY) {
        ig_upstream_cancel(p->up);
        p->up = NULL;
        probe_finish(p, IG_UPSTREAM_PROTOCOL_ERROR, "the load report is over 8 MiB");
        return;
    }
    if (ig_buf_put(&p->body, chunk, len) != 0) {
        ig_upstream_cancel(p->up);
        p->up = NULL;
        probe_finish(p, IG_UPSTREAM_PROTOCOL_ERROR, "out of memory");
    }
}

static void on_probe_done(void *data, ig_upstream_result_t result)
{
    probe_t *p = data;
    p->up = NULL;
    probe_finish(p, result, NULL);
}

static const ig_upstream_callbacks_t probe_callbacks = {on_probe_head, on_probe_body, on_probe_done};

static void on_probe_timeout(uv_timer_t *t)
{
    probe_t *p = container_of_probe((uv_handle_t *)t);
    if (p->finished)
        return;
    char msg[64];
    snprintf(msg, sizeof(msg), "no answer within %llu ms", (unsigned long long)p->hc->limits.first_byte_timeout_ms);
    if (p->up != NULL)
        ig_upstream_cancel(p->up);
    p->up = NULL;
    probe_finish(p, IG_UPSTREAM_FIRST_BYTE_TIMEOUT, msg);
}

/* Starts GET path on r's endpoint unless this round already has it. */
static void probe_start(ig_health_checker_t *hc, round_t *r, ig_generation_t *gen, const ig_model_rt_t *m,
                        const char *path, int is_load)
{
    const void *parser = is_load ? (const void *)m->engine->parse_load : NULL;
    for (unsigned i = 0; i < r->nstarted; i++)
        if (r->started[i].parser == parser && strcmp(r->started[i].path, path) == 0)
            return;
    if (r->nstarted == HC_MAX_PATHS)
        return;
    r->started[r->nstarted].path = path;
    r->started[r->nstarted].parser = parser;
    r->nstarted++;
    if (is_load)
        r->load_seen = 1;

    probe_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return; /* our memory, not the endpoint's fault: it simply is not probed this round */
    p->hc = hc;
    p->ep_id = r->ep->id;
    p->gen = gen;
    p->model = m;
    p->path = path;
    p->is_load = is_load;
    ig_upstream_header_t accept = {IG_STR("Accept"), is_load ? IG_STR("text/plain, */*") : IG_STR("*/*")};
    ig_upstream_request_t req = {
        .endpoint = r->ep,
        .method = IG_STR("GET"),
        .path = {path, strlen(path)},
        .headers = &accept,
        .nheaders = 1,
    };
    p->up = ig_upstream_start(hc->pool, &req, &probe_callbacks, p);
    if (p->up == NULL) {
        free(p);
        return;
    }
    ig_generation_retain(gen);
    uv_timer_init(hc->loop, &p->timer);
    p->timer.data = hc;
    hc->live_handles++;
    uv_timer_start(&p->timer, on_probe_timeout, hc->limits.first_byte_timeout_ms, 0);
    p->next = hc->probes;
    if (hc->probes != NULL)
        hc->probes->prev = p;
    hc->probes = p;
    r->pending++;
    if (!is_load)
        r->nhealth++;
}

/* ---- the tick --------------------------------------------------------------------------------------- */

static round_t *round_of(ig_health_checker_t *hc, ig_endpoint_t *ep)
{
    if (ep->id >= hc->nrounds) {
        size_t n = hc->nrounds ? hc->nrounds * 2 : 16;
        while (n <= ep->id)
            n *= 2;
        round_t *rounds = realloc(hc->rounds, n * sizeof(*rounds));
        if (rounds == NULL)
            return NULL;
        memset(rounds + hc->nrounds, 0, (n - hc->nrounds) * sizeof(*rounds));
        hc->rounds = rounds;
        hc->nrounds = n;
    }
    return &hc->rounds[ep->id];
}

static void apply_limits(ig_health_checker_t *hc, const ig_server_config_t *sc)
{
    uint64_t t = sc->health_check.timeout_ms;
    ig_upstream_limits_t limits = {
        .connect_timeout_ms = t,
        .first_byte_timeout_ms = t,
        .idle_timeout_ms = t,
        /* every probe on a new connection, as Kubernetes probes do: an engine that stopped
         * accepting connections may still answer on one it accepted before */
        .max_idle_per_endpoint = 0,
        .keepalive_timeout_ms = 0,
    };
    if (memcmp(&limits, &hc->limits, sizeof(limits)) != 0) {
        hc->limits = limits;
        ig_upstream_pool_set_limits(hc->pool, &limits);
    }
}

/* Starts (or joins) this tick's round on ep with m's engine's probes. */
static void probe_endpoint(ig_health_checker_t *hc, ig_generation_t *gen, const ig_model_rt_t *m, ig_endpoint_t *ep,
                           uint64_t tick)
{
    const ig_server_config_t *sc = &gen->config->server;
    round_t *r = round_of(hc, ep);
    if (r == NULL)
        return;
    if (r->tick != tick) {
        if (r->pending > 0)
            return; /* the previous round is still running */
        memset(r, 0, sizeof(*r));
        r->ep = ep;
        r->tick = tick;
        atomic_store_explicit(&ep->eject_after, sc->health_check.unhealthy_threshold, memory_order_relaxed);
    }
    if (m->engine == NULL)
        return;
    if (m->engine->health_path != NULL)
        probe_start(hc, r, gen, m, m->engine->health_path, 0);
    if (m->engine->load_path != NULL && m->engine->parse_load != NULL)
        probe_start(hc, r, gen, m, m->engine->load_path, 1);
}

static void on_tick(uv_timer_t *t)
{
    ig_health_checker_t *hc = t->data;
    ig_generation_t *gen = *hc->active;
    if (gen == NULL)
        return;
    const ig_server_config_t *sc = &gen->config->server;
    apply_limits(hc, sc);
    uint64_t tick = ++hc->tick_no;
    uint64_t now = ig_endpoint_now_ms();
    int full = now >= hc->next_full_ms, starting = 0;
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_rt_t *m = &gen->models[i];
        for (size_t j = 0; full && j < m->nendpoints; j++)
            probe_endpoint(hc, gen, m, m->endpoints[j], tick);
        /* the scheduler's replicas: starting ones on every tick (their first success makes them ready), the
         * others every interval, draining ones until they stop */
        for (size_t j = 0; m->replicas != NULL && j < IG_REPLICA_SLOTS; j++) {
            int state = atomic_load_explicit(&m->replicas->slot[j].state, memory_order_acquire);
            if (state == IG_SLOT_EMPTY || (!full && state != IG_SLOT_STARTING))
                continue;
            starting |= state == IG_SLOT_STARTING;
            ig_endpoint_t *ep = atomic_load_explicit(&m->replicas->slot[j].ep, memory_order_acquire);
            if (ep != NULL)
                probe_endpoint(hc, gen, m, ep, tick);
        }
    }
    /* rounds that started nothing end now; the others end with their last probe */
    for (size_t i = 0; i < hc->nrounds; i++)
        if (hc->rounds[i].tick == tick && hc->rounds[i].pending == 0)
            conclude(hc, &hc->rounds[i]);
    if (full)
        hc->next_full_ms = now + sc->health_check.interval_ms;
    uint64_t delay = hc->next_full_ms > now ? hc->next_full_ms - now : 1;
    if (starting && delay > HC_STARTING_PERIOD_MS)
        delay = HC_STARTING_PERIOD_MS;
    uv_timer_start(&hc->tick, on_tick, delay, 0);
}

/* ---- start and stop --------------------------------------------------------------------------------- */

ig_health_checker_t *ig_health_checker_start(uv_loop_t *loop, ig_generation_t *const *active,
                                             ig_endpoint_ready_fn on_ready, void *data)
{
    ig_health_checker_t *hc = calloc(1, sizeof(*hc));
    if (hc == NULL)
        return NULL;
    hc->loop = loop;
    hc->active = active;
    hc->on_ready = on_ready;
    hc->data = data;
    hc->pool = ig_upstream_pool_create(loop, NULL);
    if (hc->pool == NULL) {
        free(hc);
        return NULL;
    }
    uv_timer_init(loop, &hc->tick);
    hc->tick.data = hc;
    hc->live_handles = 1;
    uv_timer_start(&hc->tick, on_tick, 0, 0);
    return hc;
}

void ig_health_checker_kick(ig_health_checker_t *hc)
{
    if (hc == NULL || hc->stopping)
        return;
    if (uv_timer_get_due_in(&hc->tick) > HC_STARTING_PERIOD_MS) {
        uv_timer_stop(&hc->tick);
        uv_timer_start(&hc->tick, on_tick, HC_STARTING_PERIOD_MS, 0);
    }
}

void ig_health_checker_stop(ig_health_checker_t *hc)
{
    if (hc == NULL || hc->stopping)
        return;
    hc->stopping = 1;
    while (hc->probes != NULL) {
        probe_t *p = hc->probes;
        hc->probes = p->next;
        if (p->up != NULL)
            ig_upstream_cancel(p->up);
        p->up = NULL;
        p->finished = 1;
        ig_buf_free(&p->body);
        ig_generation_release(p->gen);
        uv_close((uv_handle_t *)&p->timer, on_handle_closed);
    }
    ig_upstream_pool_close(hc->pool);
    hc->pool = NULL;
    uv_close((uv_handle_t *)&hc->tick, on_handle_closed);
}
