/*
 * scheduler.c — replicas of models without static endpoints (see scheduler.h).
 *
 * Everything here runs on the main loop, under s->lock only so that the render functions (called
 * by admin and metrics handlers on worker threads) see a consistent state. Workers never wait for
 * it: they read replica sets, which are atomics.
 */
#include "sched/scheduler.h"
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "sched/autoscaler.h"
#include "sched/device_pool.h"
#include "sched/launch_spec.h"
#include "observe/log.h"
#include "observe/metrics.h" /* metric families in the exposition */
#include "util/json_write.h"
#include "sched/replica.h"
#include "upstream/upstream.h"

extern char **environ;

#define SCHED_TICK_MS 100               /* reconcile period: how soon a waiting request starts a replica */
#define SCHED_BACKOFF_BASE_MS 1000      /* restart delay after the first crash, doubled per crash */
#define SCHED_BACKOFF_MAX_MS 60000
#define SCHED_WARMUP_TIMEOUT_MS (3600ull * 1000) /* pulling a model may take long */

typedef enum { R_STARTING, R_WARMING, R_SERVING, R_DRAINING, R_STOPPING, R_EXITED } rstate_t;
static const char *const rstate_names[] = {"starting", "warming", "serving", "draining", "stopping", "exited"};

typedef struct sched_model_s sched_model_t;
typedef struct sched_replica_s sched_replica_t;

struct sched_replica_s {
    sched_replica_t *next;
    sched_model_t *model;
    ig_process_t proc;
    uint32_t id;
    int slot;
    uint16_t port;
    ig_endpoint_t *ep;
    rstate_t state;
    char *fingerprint;           /* of the spec it runs */
    int *devices;
    size_t ndevices;
    char *log_path;
    uint64_t started_ms, ready_ms, drain_started_ms;
    const char *stop_reason;     /* why it was drained or stopped (static) */
    ig_upstream_req_t *warmup;   /* the warmup request in flight */
    char *warmup_body;           /* its body, alive until it ends */
    int warmup_status;
};

struct sched_model_s {
    sched_model_t *next;
    ig_scheduler_t *sched;
    char *name;
    ig_replica_set_t *rs;
    ig_launch_spec_t spec;
    int have_spec;
    int configured;              /* listed, without static endpoints, in the active configuration */
    int configured_once;         /* configure_model ran for it: a reload does not restart from spec.replicas */
    ig_autoscale_params_t params;
    int priority;
    char *priority_class;
    ig_autoscaler_t as;
    size_t window_samples;
    int target;                  /* replicas to run now (the autoscaler's decision) */
    double average;              /* last average of active requests */
    sched_replica_t *replicas;
    unsigned crashes;            /* in a row, since a replica last became ready */
    uint64_t next_start_ms;      /* crash backoff: no start before */
    uint64_t restarts_total, crashes_total, preemptions_total, starts_total;
    int blocked;                 /* could not get devices on the last try (reported once per episode) */
    int spec_error_logged;
};

struct ig_scheduler_s {
    pthread_mutex_t lock;
    uv_loop_t *loop;
    ig_endpoint_registry_t *reg;
    sched_model_t *models;
    ig_device_pool_t devices;
    uint64_t interval_ms, window_ms, grace_ms, drain_ms, start_ms;
    char *log_dir;
    uint64_t last_sample_ms;
    uv_timer_t tick;
    int tick_open;
    ig_upstream_pool_t *http;    /* warmup requests */
    uint32_t next_id;
    int started, quiescing, stopping;
    void (*on_started)(void *data);
    void (*on_serving)(void *data);
    void *data;
};

static uint64_t now_ms(void)
{
    return ig_endpoint_now_ms();
}

/* ---- small helpers -------------------------------------------------------------------------------- */

static int count_state(const sched_model_t *m, int current_spec, int serving_only)
{
    int n = 0;
    for (const sched_replica_t *r = m->replicas; r; r = r->next) {
        if (r->state > R_SERVING)
            continue;
        if (serving_only && r->state != R_SERVING)
            continue;
        int current = m->have_spec && strcmp(r->fingerprint, m->spec.fingerprint) == 0;
        if (current == current_spec)
            n++;
    }
    return n;
}

static void devices_str(const int *devs, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%d", i ? "," : "", devs[i]);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static void mkdirs(const char *dir)
{
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
}

/* ---- replica lifecycle ---------------------------------------------------------------------------- */

static void wake_workers(ig_scheduler_t *s)
{
    if (s->on_serving)
        s->on_serving(s->data);
}

static void replica_free(sched_replica_t *r)
{
    free(r->warmup_body);
    free(r->fingerprint);
    free(r->devices);
    free(r->log_path);
    free(r);
}

static void unlink_replica(sched_model_t *m, sched_replica_t *r)
{
    for (sched_replica_t **pp = &m->replicas; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

static void on_process_closed(ig_process_t *p)
{
    sched_replica_t *r = p->data;
    ig_scheduler_t *s = r->model->sched; /* the model outlives its replicas: model_gc waits for them */
    pthread_mutex_lock(&s->lock);
    unlink_replica(r->model, r);
    replica_free(r);
    pthread_mutex_unlock(&s->lock);
}

static void set_slot(sched_model_t *m, sched_replica_t *r, int slot_state)
{
    ig_replica_set_publish(m->rs, (size_t)r->slot, slot_state == IG_SLOT_EMPTY ? NULL : r->ep, slot_state);
}

static void begin_stop(ig_scheduler_t *s, sched_replica_t *r, const char *why)
{
    if (r->state >= R_STOPPING)
        return;
    if (r->warmup) {
        ig_upstream_cancel(r->warmup);
        r->warmup = NULL;
    }
    set_slot(r->model, r, IG_SLOT_EMPTY);
    r->state = R_STOPPING;
    if (!r->stop_reason)
        r->stop_reason = why;
    ig_log_info("model %s: stopping replica %u (pid %d, %s)", r->model->name, r->id, r->proc.pid, why);
    ig_process_stop(&r->proc, s->grace_ms);
}

static void begin_drain(ig_scheduler_t *s, sched_replica_t *r, const char *why)
{
    if (r->state != R_SERVING) {
        begin_stop(s, r, why); /* it serves nothing yet: nothing to drain */
        return;
    }
    set_slot(r->model, r, IG_SLOT_DRAINING);
    r->state = R_DRAINING;
    r->drain_started_ms = now_ms();
    r->stop_reason = why;
    ig_log_info("model %s: draining replica %u (%s, %u requests in flight)", r->model->name, r->id, why,
                atomic_load(&r->ep->in_flight));
}

static uint64_t backoff_ms(unsigned crashes)
{
    unsigned shift = crashes > 1 ? crashes - 1 : 0;
    if (shift > 16)
        shift = 16;
    uint64_t d = (uint64_t)SCHED_BACKOFF_BASE_MS << shift;
    return d > SCHED_BACKOFF_MAX_MS ? SCHED_BACKOFF_MAX_MS : d;
}

static void on_process_exit(ig_process_t *p, int64_t status, int sig)
{
    sched_replica_t *r = p->data;
    sched_model_t *m = r->model;
    ig_scheduler_t *s = m->sched;
    pthread_mutex_lock(&s->lock);
    int expected = r->state == R_STOPPING;
    if (r->warmup) {
        ig_upstream_cancel(r->warmup);
        r->warmup = NULL;
    }
    if (r->state != R_EXITED && r->state != R_STOPPING)
        set_slot(m, r, IG_SLOT_EMPTY);
    r->state = R_EXITED;
    ig_device_pool_release(&s->devices, r->id);
    if (expected) {
        ig_log_info("model %s: replica %u (pid %d) stopped", m->name, r->id, p->pid);
    } else {
        m->crashes++;
        m->crashes_total++;
        uint64_t wait = backoff_ms(m->crashes);
        m->next_start_ms = now_ms() + wait;
        char how[48];
        if (sig)
            snprintf(how, sizeof(how), "was killed by signal %d", sig);
        else
            snprintf(how, sizeof(how), "exited with status %lld", (long long)status);
        ig_log_warn("model %s: replica %u (pid %d, port %u) %s; restarting in %llu ms (crash %u in a row; log: %s)",
                    m->name, r->id, p->pid, r->port, how, (unsigned long long)wait, m->crashes,
                    r->log_path ? r->log_path : "stderr");
    }
    ig_endpoint_release(s->reg, r->ep);
    pthread_mutex_unlock(&s->lock);
}

/* ---- warmup (e.g. Ollama pulling its model before it serves) -------------------------------------- */

static void mark_serving(ig_scheduler_t *s, sched_replica_t *r)
{
    r->state = R_SERVING;
    r->ready_ms = now_ms();
    r->model->crashes = 0;
    set_slot(r->model, r, IG_SLOT_SERVING);
    ig_log_info("model %s: replica %u serving on %s after %llu ms", r->model->name, r->id, r->ep->url,
                (unsigned long long)(r->ready_ms - r->started_ms));
    wake_workers(s);
}

static void warmup_head(void *data, int status, const ig_upstream_header_t *h, size_t n)
{
    ((sched_replica_t *)data)->warmup_status = status;
}

static void warmup_body(void *data, const char *p, size_t len)
{
}

static void warmup_done(void *data, ig_upstream_result_t result)
{
    sched_replica_t *r = data;
    ig_scheduler_t *s = r->model->sched;
    pthread_mutex_lock(&s->lock);
    r->warmup = NULL;
    free(r->warmup_body);
    r->warmup_body = NULL;
    int status = r->warmup_status;
    if (r->state == R_WARMING) {
        if (result == IG_UPSTREAM_OK && status >= 200 && status < 300) {
            mark_serving(s, r);
        } else {
            ig_log_warn("model %s: replica %u: warmup %s %s failed (%s, status %d)", r->model->name, r->id,
                        r->model->spec.warmup_method, r->model->spec.warmup_path, ig_upstream_result_str(result),
                        status);
            r->stop_reason = "warmup failed";
            ig_process_kill(&r->proc); /* not R_STOPPING: its exit counts as a crash, with backoff */
        }
    }
    pthread_mutex_unlock(&s->lock);
}

static const ig_upstream_callbacks_t warmup_callbacks = {warmup_head, warmup_body, warmup_done};

static void start_warmup(ig_scheduler_t *s, sched_replica_t *r)
{
    const ig_launch_spec_t *sp = &r->model->spec;
    char port[8];
    snprintf(port, sizeof(port), "%u", r->port);
    ig_launch_vars_t v = {.port = port, .host = "127.0.0.1", .devices = ""};
    char *body = ig_launch_expand(sp, &v, sp->warmup_body);
    if (!s->http) {
        ig_upstream_limits_t lim = {.connect_timeout_ms = 5000,
                                    .first_byte_timeout_ms = SCHED_WARMUP_TIMEOUT_MS,
                                    .idle_timeout_ms = SCHED_WARMUP_TIMEOUT_MS};
        s->http = ig_upstream_pool_create(s->loop, &lim);
    }
    if (!body || !s->http) {
        free(body);
        mark_serving(s, r);
        return;
    }
    free(r->warmup_body);
    r->warmup_body = body; /* the request points into it until warmup_done */
    ig_upstream_header_t ct = {IG_STR("Content-Type"), IG_STR("application/json")};
    ig_str_t piece = {body, strlen(body)};
    ig_upstream_request_t req = {
        .endpoint = r->ep,
        .method = {sp->warmup_method, strlen(sp->warmup_method)},
        .path = {sp->warmup_path, strlen(sp->warmup_path)},
        .headers = &ct,
        .nheaders = 1,
        .body = &piece,
        .nbody = 1,
    };
    r->state = R_WARMING;
    r->warmup_status = 0;
    r->warmup = ig_upstream_start(s->http, &req, &warmup_callbacks, r);
    if (!r->warmup)
        mark_serving(s, r);
    else
        ig_log_info("model %s: replica %u healthy; warming up (%s %s)", r->model->name, r->id, sp->warmup_method,
                    sp->warmup_path);
}

static void replica_became_healthy(ig_scheduler_t *s, sched_replica_t *r)
{
    if (r->state != R_STARTING)
        return;
    if (r->model->have_spec && r->model->spec.warmup_method &&
        strcmp(r->fingerprint, r->model->spec.fingerprint) == 0)
        start_warmup(s, r);
    else
        mark_serving(s, r);
}

/* ---- starting one --------------------------------------------------------------------------------- */

static int slot_free(const sched_model_t *m, int slot)
{
    for (const sched_replica_t *r = m->replicas; r; r = r->next)
        if (r->slot == slot && r->state != R_EXITED)
            return 0;
    return 1;
}

static int port_in_use(const ig_scheduler_t *s, uint16_t port)
{
    for (const sched_model_t *m = s->models; m; m = m->next)
        for (const sched_replica_t *r = m->replicas; r; r = r->next)
            if (r->port == port && r->state != R_EXITED)
                return 1;
    return 0;
}

/* Resets what the registry remembers of an earlier process on the same port. */
static void fresh_endpoint(ig_endpoint_t *ep)
{
    ig_endpoint_mark_unhealthy(ep);
    atomic_store(&ep->consecutive_failures, 0);
    atomic_store(&ep->ejections, 0);
    atomic_store(&ep->probe_successes, 0);
    atomic_store(&ep->probe_failures, 0);
    atomic_store(&ep->engine_load, 0);
}

typedef enum { START_OK, START_BLOCKED, START_FAILED } start_result_t;

static start_result_t start_replica(ig_scheduler_t *s, sched_model_t *m)
{
    const ig_launch_spec_t *sp = &m->spec;
    int slot = -1;
    for (int i = 0; i < IG_REPLICA_SLOTS && slot < 0; i++)
        if (slot_free(m, i))
            slot = i;
    if (slot < 0)
        return START_BLOCKED;
    sched_replica_t *r = calloc(1, sizeof(*r));
    if (!r)
        return START_FAILED;
    r->model = m;
    r->id = ++s->next_id;
    r->slot = slot;
    if (sp->device_count > 0) {
        r->devices = calloc((size_t)sp->device_count, sizeof(int));
        if (!r->devices ||
            ig_device_pool_take(&s->devices, sp->devices, sp->ndevices, (size_t)sp->device_count, r->id, r->devices) != 0) {
            free(r->devices);
            free(r);
            return START_BLOCKED;
        }
        r->ndevices = (size_t)sp->device_count;
    }
    char msg[512] = "", url[64], port[8], devs[256];
    for (int tries = 0; tries < 20 && !r->port; tries++) {
        uint16_t p = ig_free_local_port();
        if (p && !port_in_use(s, p))
            r->port = p;
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%u", r->port);
    snprintf(port, sizeof(port), "%u", r->port);
    devices_str(r->devices, r->ndevices, devs, sizeof(devs));
    r->fingerprint = strdup(sp->fingerprint);
    if (s->log_dir) {
        size_t n = strlen(s->log_dir) + strlen(m->name) + 32;
        if ((r->log_path = malloc(n)))
            snprintf(r->log_path, n, "%s/%s-%u.log", s->log_dir, m->name, r->id);
    }
    ig_launch_vars_t v = {.port = port, .host = "127.0.0.1", .devices = devs};
    char **argv = ig_launch_argv(sp, &v);
    char **envp = ig_launch_envp(sp, &v, environ);
    if (!r->port || !r->fingerprint || !argv || !envp || !(r->ep = ig_endpoint_acquire(s->reg, url, msg, sizeof(msg)))) {
        ig_log_error("model %s: cannot start a replica: %s", m->name, msg[0] ? msg : r->port ? "out of memory" : "no free port");
        ig_launch_strv_free(argv);
        ig_launch_strv_free(envp);
        ig_device_pool_release(&s->devices, r->id);
        replica_free(r);
        return START_FAILED;
    }
    fresh_endpoint(r->ep);
    r->proc.data = r;
    r->proc.on_exit = on_process_exit;
    r->proc.on_closed = on_process_closed;
    r->started_ms = now_ms();
    r->state = R_STARTING;
    r->next = m->replicas;
    m->replicas = r;
    int rc = ig_process_spawn(&r->proc, s->loop, argv, envp, r->log_path, msg, sizeof(msg));
    ig_launch_strv_free(argv);
    ig_launch_strv_free(envp);
    if (rc != 0) {
        ig_log_error("model %s: replica %u: %s", m->name, r->id, msg);
        ig_device_pool_release(&s->devices, r->id);
        ig_endpoint_release(s->reg, r->ep);
        r->state = R_EXITED;
        if (r->proc.open_handles == 0) { /* nothing for libuv to close: gone now */
            unlink_replica(m, r);
            replica_free(r);
        }
        m->crashes++;
        m->next_start_ms = now_ms() + backoff_ms(m->crashes);
        return START_FAILED;
    }
    if (s->quiescing)
        ig_process_set_ref(&r->proc, 0);
    m->starts_total++;
    if (m->starts_total > 1 && m->crashes > 0)
        m->restarts_total++;
    set_slot(m, r, IG_SLOT_STARTING);
    if (s->on_started)
        s->on_started(s->data);
    ig_log_info("model %s: replica %u starting: pid %d, %s%s%s, log %s", m->name, r->id, r->proc.pid, url,
                devs[0] ? ", devices " : "", devs, r->log_path ? r->log_path : "stderr");
    return START_OK;
}

/* ---- preemption ----------------------------------------------------------------------------------- */

static int holds_any(const sched_replica_t *r, const int *set, size_t n)
{
    for (size_t i = 0; i < r->ndevices; i++)
        for (size_t j = 0; j < n; j++)
            if (r->devices[i] == set[j])
                return 1;
    return 0;
}

/* m cannot get its devices: stop replicas of lower-priority models holding some of them. */
static void preempt_for(ig_scheduler_t *s, sched_model_t *m)
{
    const ig_launch_spec_t *sp = &m->spec;
    size_t have = ig_device_pool_free_among(&s->devices, sp->devices, sp->ndevices);
    /* devices already on their way back (replicas stopping) count as coming */
    for (sched_model_t *o = s->models; o; o = o->next)
        for (sched_replica_t *r = o->replicas; r; r = r->next)
            if (r->state >= R_DRAINING && r->state != R_EXITED && holds_any(r, sp->devices, sp->ndevices))
                for (size_t i = 0; i < r->ndevices; i++)
                    for (size_t j = 0; j < sp->ndevices; j++)
                        have += r->devices[i] == sp->devices[j];
    while (have < (size_t)sp->device_count) {
        sched_replica_t *victim = NULL;
        for (sched_model_t *o = s->models; o; o = o->next) {
            if (o->priority >= m->priority)
                continue;
            for (sched_replica_t *r = o->replicas; r; r = r->next)
                if (r->state <= R_SERVING && holds_any(r, sp->devices, sp->ndevices) &&
                    (!victim || o->priority < victim->model->priority))
                    victim = r;
        }
        if (!victim)
            return;
        char devs[256];
        devices_str(victim->devices, victim->ndevices, devs, sizeof(devs));
        ig_log_warn("model %s: preempting replica %u of model %s (devices %s) for model %s (priority %d > %d)",
                    victim->model->name, victim->id, victim->model->name, devs, m->name, m->priority,
                    victim->model->priority);
        victim->model->preemptions_total++;
        for (size_t i = 0; i < victim->ndevices; i++)
            for (size_t j = 0; j < sp->ndevices; j++)
                have += victim->devices[i] == sp->devices[j];
        begin_drain(s, victim, "preempted by a higher-priority model");
    }
}

/* ---- the decisions -------------------------------------------------------------------------------- */

static void sample_load(ig_scheduler_t *s, sched_model_t *m, uint64_t now)
{
    unsigned waiting = atomic_load(&m->rs->waiting);
    double active = waiting;
    int current = 0;
    for (sched_replica_t *r = m->replicas; r; r = r->next) {
        if (r->state == R_EXITED)
            continue;
        active += atomic_load(&r->ep->in_flight);
        current += r->state <= R_SERVING;
    }
    ig_autoscaler_sample(&m->as, active);
    m->average = ig_autoscaler_average(&m->as);
    int desired = ig_autoscaler_desired(&m->params, m->average, waiting);
    int next = ig_autoscaler_decide(&m->as, &m->params, m->target, desired, now);
    if (next != m->target)
        ig_log_info("model %s: scaling from %d to %d replicas (%.2f active requests on average, target %d per "
                    "replica)",
                    m->name, m->target, next, m->average, m->params.target_requests);
    m->target = next;
}

static void reconcile(ig_scheduler_t *s, sched_model_t *m, uint64_t now)
{
    int target = m->configured ? m->target : 0;
    unsigned waiting = atomic_load(&m->rs->waiting);
    if (m->configured && waiting > 0 && target == 0 && m->params.max_replicas > 0) {
        ig_log_info("model %s: %u request%s waiting and no replica: scaling from zero", m->name, waiting,
                    waiting == 1 ? "" : "s");
        target = m->target = 1;
    }
    int have_spec = m->configured && m->have_spec;

    /* a replica that answered its health path serves (the health checker marks it healthy) */
    for (sched_replica_t *r = m->replicas; r; r = r->next)
        if (r->state == R_STARTING && atomic_load(&r->ep->healthy))
            replica_became_healthy(s, r);

    /* a replica that never got ready is killed; its exit counts as a crash (restart with backoff) */
    for (sched_replica_t *r = m->replicas; r; r = r->next)
        if ((r->state == R_STARTING || r->state == R_WARMING) && now - r->started_ms >= s->start_ms &&
            r->stop_reason == NULL) {
            ig_log_warn("model %s: replica %u (pid %d) not ready after %llu ms (scheduler.startTimeout): killing it",
                        m->name, r->id, r->proc.pid, (unsigned long long)(now - r->started_ms));
            r->stop_reason = "not ready within scheduler.startTimeout";
            ig_process_kill(&r->proc);
        }

    /* draining replicas stop once idle (or after drainTimeout) */
    for (sched_replica_t *r = m->replicas; r; r = r->next)
        if (r->state == R_DRAINING &&
            (atomic_load(&r->ep->in_flight) == 0 || now - r->drain_started_ms >= s->drain_ms))
            begin_stop(s, r, r->stop_reason ? r->stop_reason : "drained");

    int fresh = have_spec ? count_state(m, 1, 0) : 0;
    int fresh_serving = have_spec ? count_state(m, 1, 1) : 0;

    /* outdated replicas (a reload changed what they run, or the model went away): keep the serving
     * ones only while the new ones cannot carry the target yet */
    int keep_old = target - fresh_serving;
    for (sched_replica_t *r = m->replicas; r; r = r->next) {
        if (r->state > R_SERVING || (have_spec && strcmp(r->fingerprint, m->spec.fingerprint) == 0))
            continue;
        if (r->state == R_SERVING && keep_old > 0) {
            keep_old--;
            continue;
        }
        begin_drain(s, r, m->configured ? "replaced after a configuration change" : "model removed");
    }
    if (!have_spec)
        return;

    /* too many: stop starting ones first (they serve nothing), then drain the least busy */
    while (fresh > target) {
        sched_replica_t *victim = NULL;
        for (sched_replica_t *r = m->replicas; r; r = r->next) {
            if (r->state > R_SERVING || strcmp(r->fingerprint, m->spec.fingerprint) != 0)
                continue;
            if (!victim || (victim->state == R_SERVING && r->state != R_SERVING) ||
                (victim->state == r->state && atomic_load(&r->ep->in_flight) < atomic_load(&victim->ep->in_flight)))
                victim = r;
        }
        if (!victim)
            break;
        begin_drain(s, victim, "scaling down");
        fresh--;
    }

    /* too few: start, unless backing off after a crash or short of devices */
    while (fresh < target && now >= m->next_start_ms && !s->stopping) {
        start_result_t rc = start_replica(s, m);
        if (rc == START_OK) {
            fresh++;
            m->blocked = 0;
            continue;
        }
        if (rc == START_BLOCKED) {
            if (!m->blocked)
                ig_log_warn("model %s: not enough free devices in resource profile %s for another replica (%d "
                            "needed)",
                            m->name, m->spec.profile, m->spec.device_count);
            m->blocked = 1;
            if (m->spec.device_count > 0)
                preempt_for(s, m);
        }
        break;
    }
}

/* Models not configured any more and without replicas are forgotten. */
static void model_gc(ig_scheduler_t *s)
{
    for (sched_model_t **pp = &s->models; *pp;) {
        sched_model_t *m = *pp;
        if (m->configured || m->replicas) {
            pp = &m->next;
            continue;
        }
        *pp = m->next;
        ig_replica_set_release(m->rs);
        if (m->have_spec)
            ig_launch_spec_free(&m->spec);
        ig_autoscaler_free(&m->as);
        free(m->priority_class);
        free(m->name);
        free(m);
    }
}

static void on_tick(uv_timer_t *t)
{
    ig_scheduler_t *s = t->data;
    pthread_mutex_lock(&s->lock);
    uint64_t now = now_ms();
    int sample = now - s->last_sample_ms >= s->interval_ms;
    if (sample)
        s->last_sample_ms = now;
    /* higher priorities first: they take devices freed since the last tick before lower ones can */
    size_t n = 0;
    for (sched_model_t *m = s->models; m; m = m->next)
        n++;
    sched_model_t **order = calloc(n + 1, sizeof(*order));
    if (order) {
        size_t k = 0;
        for (sched_model_t *m = s->models; m; m = m->next) {
            size_t j = k++;
            while (j > 0 && order[j - 1]->priority < m->priority) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = m;
        }
        for (size_t i = 0; i < n; i++) {
            if (sample && order[i]->configured && order[i]->have_spec)
                sample_load(s, order[i], now);
            reconcile(s, order[i], now);
        }
        free(order);
    }
    model_gc(s);
    pthread_mutex_unlock(&s->lock);
}

/* ---- configuration -------------------------------------------------------------------------------- */

static sched_model_t *find_model(ig_scheduler_t *s, const char *name)
{
    for (sched_model_t *m = s->models; m; m = m->next)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static void configure_model(ig_scheduler_t *s, sched_model_t *m, ig_model_rt_t *rt)
{
    const ig_model_config_t *mc = rt->cfg;
    char msg[512];
    ig_launch_spec_t spec;
    const ig_launch_recipe_t *recipe = rt->engine ? rt->engine->launch : NULL;
    if (ig_launch_spec_build(&spec, mc, recipe, msg, sizeof(msg)) == 0) {
        if (m->have_spec && strcmp(m->spec.fingerprint, spec.fingerprint) != 0 && m->replicas)
            ig_log_info("model %s: what its replicas run changed: rolling them", m->name);
        if (m->have_spec)
            ig_launch_spec_free(&m->spec);
        m->spec = spec;
        m->have_spec = 1;
        m->spec_error_logged = 0;
    } else {
        if (m->have_spec)
            ig_launch_spec_free(&m->spec);
        m->have_spec = 0;
        ig_log_error("%s:%d: %s: its requests will wait for an endpoint that never comes", mc->file, mc->line, msg);
    }
    /* What one machine can run: IG_REPLICA_MAX, and as many replicas as the profile's devices give
     * their share (a device is never handed to two replicas). maxReplicas absent (KubeAI: no limit)
     * means exactly that. */
    int fits = IG_REPLICA_MAX;
    const ig_resource_profile_t *rp = mc->profile;
    if (rp && rp->ndevices > 0 && mc->resource_count > 0 && (int)(rp->ndevices / (size_t)mc->resource_count) < fits)
        fits = (int)(rp->ndevices / (size_t)mc->resource_count);
    int max = mc->max_replicas;
    if (max < 0) {
        max = fits;
    } else if (max > fits) {
        ig_log_warn("model %s: maxReplicas %d is more than this machine runs (%d%s); using %d", m->name, max, fits,
                    fits < IG_REPLICA_MAX ? ", by its resource profile's devices" : "", fits);
        max = fits;
    }
    int min = mc->min_replicas;
    if (mc->autoscaling_disabled) {
        /* KubeAI: the controller leaves replicas alone; absent, it is minReplicas */
        int fixed = mc->replicas >= 0 ? mc->replicas : mc->min_replicas;
        if (fixed > fits) {
            ig_log_warn("model %s: replicas %d is more than this machine runs; running %d", m->name, fixed, fits);
            fixed = fits;
        }
        min = max = fixed;
    } else if (!m->configured_once && mc->replicas >= 0) {
        m->target = mc->replicas; /* KubeAI's autoscaler wrote it: start there, the autoscaler takes over */
    }
    m->configured_once = 1;
    m->params.min_replicas = min < max ? min : max;
    m->params.max_replicas = max;
    m->params.target_requests = mc->target_requests;
    m->params.scale_down_delay_ms = (uint64_t)mc->scale_down_delay_s * 1000;
    m->priority = mc->priority;
    free(m->priority_class);
    m->priority_class = mc->priority_class ? strdup(mc->priority_class) : NULL;
    size_t window = (size_t)((s->window_ms + s->interval_ms - 1) / s->interval_ms);
    if (window != m->window_samples || !m->as.samples) {
        ig_autoscaler_free(&m->as);
        if (ig_autoscaler_init(&m->as, window) == 0)
            m->window_samples = window;
    }
    if (m->target < m->params.min_replicas)
        m->target = m->params.min_replicas;
    if (m->target > m->params.max_replicas)
        m->target = m->params.max_replicas;
    m->configured = 1;
}

void ig_scheduler_attach(ig_scheduler_t *s, ig_generation_t *gen)
{
    const ig_scheduler_config_t *sc = &gen->config->scheduler;
    pthread_mutex_lock(&s->lock);
    s->interval_ms = sc->interval_ms ? sc->interval_ms : 1000;
    s->window_ms = sc->time_window_ms ? sc->time_window_ms : 60000;
    s->grace_ms = sc->stop_grace_ms;
    s->drain_ms = sc->drain_timeout_ms;
    s->start_ms = sc->start_timeout_ms ? sc->start_timeout_ms : 1800000;
    free(s->log_dir);
    s->log_dir = NULL;
    const char *dir = sc->log_dir;
    char buf[1024];
    if (!dir && gen->config->server.state_dir) {
        snprintf(buf, sizeof(buf), "%s/replicas", gen->config->server.state_dir);
        dir = buf;
    }
    if (dir) {
        mkdirs(dir);
        s->log_dir = strdup(dir);
    }
    for (sched_model_t *m = s->models; m; m = m->next)
        m->configured = 0;
    for (size_t i = 0; i < gen->nmodels; i++) {
        ig_model_rt_t *rt = &gen->models[i];
        if (!rt->cfg || rt->cfg->nendpoints > 0)
            continue;
        sched_model_t *m = find_model(s, rt->cfg->model.name);
        if (!m) {
            m = calloc(1, sizeof(*m));
            if (!m || !(m->name = strdup(rt->cfg->model.name)) || !(m->rs = ig_replica_set_create())) {
                if (m)
                    free(m->name);
                free(m);
                ig_log_error("model %s: out of memory; it gets no replicas", rt->cfg->model.name);
                continue;
            }
            m->sched = s;
            m->next = s->models;
            s->models = m;
        }
        configure_model(s, m, rt);
        ig_replica_set_retain(m->rs);
        rt->replicas = m->rs;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ---- start and stop ------------------------------------------------------------------------------- */

ig_scheduler_t *ig_scheduler_create(ig_endpoint_registry_t *reg)
{
    ig_scheduler_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->reg = reg;
    s->interval_ms = 1000;
    s->window_ms = 60000;
    s->grace_ms = 15000;
    s->drain_ms = 600000;
    s->start_ms = 1800000;
    ig_device_pool_init(&s->devices);
    return s;
}

int ig_scheduler_start(ig_scheduler_t *s, uv_loop_t *loop, void (*on_started)(void *data),
                       void (*on_serving)(void *data), void *data)
{
    s->loop = loop;
    s->on_started = on_started;
    s->on_serving = on_serving;
    s->data = data;
    uv_timer_init(loop, &s->tick);
    s->tick.data = s;
    s->tick_open = 1;
    s->started = 1;
    uv_timer_start(&s->tick, on_tick, 0, SCHED_TICK_MS);
    return 0;
}

void ig_scheduler_endpoint_ready(ig_scheduler_t *s, ig_endpoint_t *ep)
{
    if (!s || !s->started || s->quiescing)
        return;
    pthread_mutex_lock(&s->lock);
    for (sched_model_t *m = s->models; m; m = m->next)
        for (sched_replica_t *r = m->replicas; r; r = r->next)
            if (r->ep == ep && r->state == R_STARTING)
                replica_became_healthy(s, r);
    pthread_mutex_unlock(&s->lock);
}

void ig_scheduler_quiesce(ig_scheduler_t *s)
{
    if (!s || !s->started || s->quiescing)
        return;
    pthread_mutex_lock(&s->lock);
    s->quiescing = 1;
    uv_timer_stop(&s->tick);
    for (sched_model_t *m = s->models; m; m = m->next)
        for (sched_replica_t *r = m->replicas; r; r = r->next)
            if (r->state != R_EXITED) {
                if (r->warmup) {
                    ig_upstream_cancel(r->warmup);
                    r->warmup = NULL;
                }
                ig_process_set_ref(&r->proc, 0);
            }
    pthread_mutex_unlock(&s->lock);
}

static void on_tick_closed(uv_handle_t *h)
{
}

void ig_scheduler_stop_all(ig_scheduler_t *s)
{
    if (!s || !s->started)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    int n = 0;
    for (sched_model_t *m = s->models; m; m = m->next) {
        m->configured = 0;
        for (sched_replica_t *r = m->replicas; r; r = r->next) {
            if (r->state == R_EXITED)
                continue;
            ig_process_set_ref(&r->proc, 1);
            begin_stop(s, r, "infergate is stopping");
            n++;
        }
    }
    if (n)
        ig_log_info("stopping %d replica%s", n, n == 1 ? "" : "s");
    if (s->tick_open) {
        uv_timer_stop(&s->tick);
        uv_close((uv_handle_t *)&s->tick, on_tick_closed);
        s->tick_open = 0;
    }
    if (s->http) {
        ig_upstream_pool_close(s->http);
        s->http = NULL;
    }
    pthread_mutex_unlock(&s->lock);
}

void ig_scheduler_free(ig_scheduler_t *s)
{
    if (!s)
        return;
    for (sched_model_t *m = s->models; m; m = m->next) {
        m->configured = 0;
        /* replicas still listed here were never spawned or the loop did not run: nothing to close */
        while (m->replicas) {
            sched_replica_t *r = m->replicas;
            m->replicas = r->next;
            if (r->state != R_EXITED && r->proc.running)
                ig_process_kill(&r->proc);
            replica_free(r);
        }
    }
    model_gc(s);
    free(s->log_dir);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* ---- rendering ------------------------------------------------------------------------------------ */

char *ig_scheduler_render_json(ig_scheduler_t *s, size_t *len)
{
    ig_buf_t o = {0};
    uint64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    ig_buf_printf(&o, "{\"models\":[");
    int first = 1;
    for (sched_model_t *m = s->models; m; m = m->next) {
        ig_buf_printf(&o, "%s{\"name\":\"%s\",\"configured\":%s,\"priorityClass\":", first ? "" : ",", m->name,
             m->configured ? "true" : "false");
        first = 0;
        if (m->priority_class)
            ig_buf_printf(&o, "\"%s\"", m->priority_class);
        else
            ig_buf_printf(&o, "null");
        ig_buf_printf(&o,
             ",\"priority\":%d,\"minReplicas\":%d,\"maxReplicas\":%d,\"targetRequests\":%d,"
             "\"desiredReplicas\":%d,\"averageActiveRequests\":%.3f,\"waiting\":%u,\"starts\":%llu,"
             "\"crashes\":%llu,\"restarts\":%llu,\"preemptions\":%llu,\"crashesInARow\":%u,\"restartInMs\":%llu,"
             "\"profile\":\"%s\",\"devicesPerReplica\":%d,\"replicas\":[",
             m->priority, m->params.min_replicas, m->params.max_replicas, m->params.target_requests, m->target,
             m->average, atomic_load(&m->rs->waiting), (unsigned long long)m->starts_total,
             (unsigned long long)m->crashes_total, (unsigned long long)m->restarts_total,
             (unsigned long long)m->preemptions_total, m->crashes,
             (unsigned long long)(m->next_start_ms > now ? m->next_start_ms - now : 0),
             m->have_spec ? m->spec.profile : "", m->have_spec ? m->spec.device_count : 0);
        int rfirst = 1;
        for (sched_replica_t *r = m->replicas; r; r = r->next) {
            char devs[256];
            devices_str(r->devices, r->ndevices, devs, sizeof(devs));
            ig_buf_printf(&o,
                 "%s{\"id\":%u,\"pid\":%d,\"state\":\"%s\",\"url\":\"%s\",\"port\":%u,\"devices\":[%s],"
                 "\"inFlight\":%u,\"healthy\":%s,\"current\":%s,\"uptimeMs\":%llu,\"log\":",
                 rfirst ? "" : ",", r->id, r->proc.pid, rstate_names[r->state], r->ep ? r->ep->url : "", r->port,
                 devs, r->ep ? atomic_load(&r->ep->in_flight) : 0,
                 r->ep && atomic_load(&r->ep->healthy) ? "true" : "false",
                 m->have_spec && strcmp(r->fingerprint, m->spec.fingerprint) == 0 ? "true" : "false",
                 (unsigned long long)(now - r->started_ms));
            rfirst = 0;
            ig_json_write_cstr(&o, r->log_path); /* a path we do not control */
            ig_buf_lit(&o, "}");
        }
        ig_buf_printf(&o, "]}");
    }
    ig_buf_printf(&o, "],\"devices\":[");
    first = 1;
    for (int d = 0; d < IG_DEVICE_MAX; d++) {
        uint32_t owner = ig_device_pool_owner(&s->devices, d);
        if (!owner)
            continue;
        const char *model = "";
        for (sched_model_t *m = s->models; m; m = m->next)
            for (sched_replica_t *r = m->replicas; r; r = r->next)
                if (r->id == owner)
                    model = m->name;
        ig_buf_printf(&o, "%s{\"device\":%d,\"replica\":%u,\"model\":\"%s\"}", first ? "" : ",", d, owner, model);
        first = 0;
    }
    ig_buf_printf(&o, "]}");
    pthread_mutex_unlock(&s->lock);
    return ig_buf_take(&o, len);
}

void ig_scheduler_render_model_replicas(ig_scheduler_t *s, const char *name, ig_buf_t *o)
{
    ig_buf_lit(o, "[");
    pthread_mutex_lock(&s->lock);
    for (sched_model_t *m = s->models; m; m = m->next) {
        if (strcmp(m->name, name) != 0)
            continue;
        int first = 1;
        for (sched_replica_t *r = m->replicas; r; r = r->next) {
            char devs[256];
            devices_str(r->devices, r->ndevices, devs, sizeof(devs));
            ig_buf_printf(o, "%s{\"id\":%u,\"state\":\"%s\",\"port\":%u,\"devices\":[%s],\"url\":", first ? "" : ",",
                          r->id, rstate_names[r->state], r->port, devs);
            ig_json_write_cstr(o, r->ep ? r->ep->url : NULL);
            ig_buf_printf(o, ",\"healthy\":%s,\"in_flight\":%u}", r->ep && atomic_load(&r->ep->healthy) ? "true" : "false",
                          r->ep ? atomic_load(&r->ep->in_flight) : 0);
            first = 0;
        }
    }
    pthread_mutex_unlock(&s->lock);
    ig_buf_lit(o, "]");
}

char *ig_scheduler_render_metrics(ig_scheduler_t *s, size_t *len)
{
    ig_buf_t o = {0};
    pthread_mutex_lock(&s->lock);
    ig_metrics_buf_family(&o, "infergate_replicas", "gauge", "Replicas the scheduler runs, by model and state.");
    for (sched_model_t *m = s->models; m; m = m->next) {
        int by_state[R_EXITED + 1] = {0};
        for (sched_replica_t *r = m->replicas; r; r = r->next)
            by_state[r->state]++;
        for (int st = R_STARTING; st < R_EXITED; st++)
            ig_buf_printf(&o, "infergate_replicas{model=\"%s\",state=\"%s\"} %d\n", m->name, rstate_names[st], by_state[st]);
    }
    ig_metrics_buf_family(&o, "infergate_replicas_desired", "gauge", "Replicas the autoscaler wants, by model.");
    for (sched_model_t *m = s->models; m; m = m->next)
        ig_buf_printf(&o, "infergate_replicas_desired{model=\"%s\"} %d\n", m->name, m->configured ? m->target : 0);
    ig_metrics_buf_family(&o, "infergate_replica_active_requests_average", "gauge",
                          "Active requests averaged over scheduler.timeWindow.");
    for (sched_model_t *m = s->models; m; m = m->next)
        ig_buf_printf(&o, "infergate_replica_active_requests_average{model=\"%s\"} %.3f\n", m->name, m->average);
    ig_metrics_buf_family(&o, "infergate_replica_crashes_total", "counter", "Replicas that exited on their own.");
    for (sched_model_t *m = s->models; m; m = m->next)
        ig_buf_printf(&o, "infergate_replica_crashes_total{model=\"%s\"} %llu\n", m->name, (unsigned long long)m->crashes_total);
    ig_metrics_buf_family(&o, "infergate_replica_restarts_total", "counter", "Replicas started again after a crash.");
    for (sched_model_t *m = s->models; m; m = m->next)
        ig_buf_printf(&o, "infergate_replica_restarts_total{model=\"%s\"} %llu\n", m->name,
             (unsigned long long)m->restarts_total);
    ig_metrics_buf_family(&o, "infergate_replica_preemptions_total", "counter",
                          "Replicas stopped to free devices for a higher priority.");
    for (sched_model_t *m = s->models; m; m = m->next)
        ig_buf_printf(&o, "infergate_replica_preemptions_total{model=\"%s\"} %llu\n", m->name,
             (unsigned long long)m->preemptions_total);
    ig_metrics_buf_family(&o, "infergate_device_allocated", "gauge", "A device held by a replica (1), by device and model.");
    for (sched_model_t *m = s->models; m; m = m->next)
        for (sched_replica_t *r = m->replicas; r; r = r->next)
            for (size_t i = 0; i < r->ndevices && r->state != R_EXITED; i++)
                ig_buf_printf(&o, "infergate_device_allocated{device=\"%d\",model=\"%s\",replica=\"%u\"} 1\n", r->devices[i],
                     m->name, r->id);
    pthread_mutex_unlock(&s->lock);
    return ig_buf_take(&o, len);
}
