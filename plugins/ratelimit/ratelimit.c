/*
 * ratelimit — rate-limit plugin: requests and tokens per minute and hour, bursts and concurrency,
 * per API key, customer, model and key+model; the strictest limit decides. Counters live in the
 * process (default; they outlive reloads) or in Redis (shared by gateway replicas): then an admission
 * answers later (IG_PENDING), from the worker's loop, and nothing waits on Redis.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "infergate/plugin.h"
#include "rl_describe.h"
#include "rl_memory.h"
#include "rl_redis.h"
#include "rl_report.h"

/* plugins.options.ratelimit */
typedef struct {
    const char *backend, *redis_url, *key_prefix, *on_redis_error;
    int64_t redis_timeout_ms, lease_ms;
} rl_options_t;

#define RL_OPT(field) offsetof(rl_options_t, field)
static const ig_option_decl_t rl_options[] = {
    {"backend", IG_OPT_STRING, "memory", "memory (this process; the default) or redis (shared by replicas)", 0, 0,
     RL_OPT(backend)},
    {"redisUrl", IG_OPT_STRING, "redis://127.0.0.1:6379", "redis://[[user]:password@]host[:port][/db] or unix:///path",
     0, 0, RL_OPT(redis_url)},
    {"keyPrefix", IG_OPT_STRING, "\"infergate:rl:\"", "prefix of every Redis key this plugin writes", 0, 0,
     RL_OPT(key_prefix)},
    {"redisTimeout", IG_OPT_DURATION, "250ms", "how long a request waits for Redis (connecting included)", 1, 60000,
     RL_OPT(redis_timeout_ms)},
    {"onRedisError", IG_OPT_STRING, "allow",
     "when Redis fails or is too slow: allow (admit without limits) or deny (answer 503)", 0, 0, RL_OPT(on_redis_error)},
    {"concurrencyLease", IG_OPT_DURATION, "10m",
     "redis: a maxConcurrent slot a crashed gateway never gave back frees itself after this", 1000, 86400000,
     RL_OPT(lease_ms)},
    {NULL},
};

/* What outlives reloads: the in-process counters, each worker's Redis connections, and what makes
 * tickets unique. */
typedef struct {
    rl_table_t *table;
    rl_conns_t *conns;
    uint64_t nonce;          /* random per process: tickets of two replicas never collide */
    atomic_uint_least64_t seq;
} rl_process_t;

typedef struct {
    const ig_host_t *host;
    rl_process_t *proc;
    rl_redis_t *redis;       /* NULL: memory backend */
    int deny_on_error;
    atomic_uint_least64_t last_warn_ms; /* Redis failures are logged at most once a second */
} rl_state_t;

/* A request from admit() to complete() (request pool). */
typedef struct {
    rl_mem_ticket_t mem;
    /* redis */
    rl_state_t *s;
    ig_rl_request_t *r;
    rl_view_t *v;
    rl_redis_call_t *pending; /* the admission Redis has not answered yet */
    int redis_held;          /* something was counted in Redis that complete() must settle */
    size_t n;
    const char *ids[RL_MAX_SCOPES];
    size_t idlens[RL_MAX_SCOPES];
    unsigned flags[RL_MAX_SCOPES];
    char id[40];
} rl_ticket_t;

static int rl_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    rl_process_t *p = calloc(1, sizeof(*p));
    if (!p || !(p->table = rl_table_new()) || !(p->conns = rl_redis_conns_new(host))) {
        if (p)
            rl_table_free(p->table);
        free(p);
        return host->error(err, "out of memory (or no SHA-1 for the Redis scripts)");
    }
    if (getrandom(&p->nonce, sizeof(p->nonce), 0) != (ssize_t)sizeof(p->nonce))
        p->nonce = (uint64_t)(uintptr_t)p ^ host->now_ms();
    *process_state = p;
    return 0;
}

static void rl_unload(void *process_state)
{
    rl_process_t *p = process_state;
    if (!p)
        return;
    rl_table_free(p->table);
    rl_conns_free(p->conns);
    free(p);
}

static int rl_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    const rl_options_t *o = ctx->options;
    if (!ctx->process_state)
        return host->error(err, "no process state (the core did not call load)");
    const char *backend = o->backend, *on_error = o->on_redis_error;
    int redis = strcmp(backend, "redis") == 0;
    if (!redis && strcmp(backend, "memory") != 0)
        return host->error(err, "backend: \"%.80s\" is not memory or redis", backend);
    if (strcmp(on_error, "allow") != 0 && strcmp(on_error, "deny") != 0)
        return host->error(err, "onRedisError: \"%.80s\" is not allow or deny", on_error);
    rl_state_t *s = calloc(1, sizeof(*s));
    if (!s)
        return host->error(err, "out of memory");
    s->host = host;
    s->proc = ctx->process_state;
    s->deny_on_error = strcmp(on_error, "deny") == 0;
    if (redis && !(IG_HAS(host, on_worker_exit) && host->admit_done && host->worker_loop && host->on_worker_exit)) {
        free(s);
        return host->error(err, "backend redis needs a gateway that lets admissions answer later (host->admit_done, "
                                "worker_loop, on_worker_exit)");
    }
    if (redis) {
        rl_redis_url_t url;
        char msg[400];
        if (rl_redis_parse_url(o->redis_url, &url, msg, sizeof(msg)) != 0) {
            free(s);
            return host->error(err, "%s", msg);
        }
        rl_redis_config_t cfg = {.conns = s->proc->conns,
                                 .url = &url,
                                 .key_prefix = o->key_prefix,
                                 .timeout_ms = o->redis_timeout_ms,
                                 .lease_ms = o->lease_ms};
        if (!(s->redis = rl_redis_new(host, &cfg))) {
            free(s);
            return host->error(err, "out of memory");
        }
    }
    *state = s;
    return 0;
}

static void rl_fini(void *state)
{
    rl_state_t *s = state;
    if (!s)
        return;
    rl_redis_free(s->redis);
    free(s);
}

/* During an outage every request fails the same way: one line a second says so without flooding. */
static void warn_throttled(rl_state_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn_throttled(rl_state_t *s, const char *fmt, ...)
{
    uint64_t now = s->host->now_ms(), last = atomic_load_explicit(&s->last_warn_ms, memory_order_relaxed);
    if ((last && now - last < 1000) ||
        !atomic_compare_exchange_strong_explicit(&s->last_warn_ms, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed))
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->host->log(IG_LOG_WARN, "ratelimit", "%s", msg);
}

/* Redis failed for this request: onRedisError decides. 0 (allow: admitted, nothing counted, so
 * nothing for complete() to settle) or -1 with err (deny: 503). */
static int redis_failed(rl_state_t *s, ig_rl_request_t *r, ig_error_t *err, const char *msg)
{
    warn_throttled(s, "%s: %s", msg, s->deny_on_error ? "refusing" : "admitting unlimited");
    r->ticket = NULL;
    if (!s->deny_on_error)
        return 0;
    s->host->error(err, "rate limiter unavailable: %s", msg);
    err->status = 503;
    err->type = "server_error";
    err->code = "rate_limiter_unavailable";
    r->retry_after_s = 1;
    return -1;
}

/* Redis's verdict on a pending admission, on the request's worker loop. */
static void redis_answered(void *arg, int verdict, const char *msg)
{
    rl_ticket_t *tk = arg;
    rl_state_t *s = tk->s;
    ig_rl_request_t *r = tk->r;
    rl_view_t *v = tk->v;
    tk->pending = NULL;
    ig_error_t err;
    memset(&err, 0, sizeof(err));
    int rc;
    if (verdict < 0) {
        rc = redis_failed(s, r, &err, msg);
    } else {
        rl_report(s->host, v, verdict, r, &err);
        rc = verdict ? 0 : -1;
        r->ticket = verdict ? tk : NULL;
        if (verdict) {
            tk->n = v->n;
            for (size_t i = 0; i < v->n; i++) {
                tk->ids[i] = v->scopes[i].id;
                tk->idlens[i] = v->scopes[i].idlen;
                tk->flags[i] = (v->scopes[i].lim[RL_TPM] >= 0 ? RL_CHARGE_TPM : 0u) |
                               (v->scopes[i].lim[RL_TPH] >= 0 ? RL_CHARGE_TPH : 0u) |
                               (v->scopes[i].lim[RL_CONC] >= 0 ? RL_HOLD_CONC : 0u);
                /* request limits only: nothing to settle at the end, so no second call */
                tk->redis_held |= tk->flags[i] != 0;
            }
        }
    }
    s->host->admit_done(r, rc, rc ? &err : NULL);
}

static int admit_redis(rl_state_t *s, const rl_view_t *view, rl_ticket_t *tk, ig_rl_request_t *r, ig_error_t *err)
{
    uint64_t seq = atomic_fetch_add_explicit(&s->proc->seq, 1, memory_order_relaxed);
    snprintf(tk->id, sizeof(tk->id), "%016llx-%llx", (unsigned long long)s->proc->nonce, (unsigned long long)seq);
    /* the view is filled by the answer, after this call returns: it lives with the request */
    rl_view_t *v = s->host->palloc(r->pool, sizeof(*v));
    if (!v)
        return redis_failed(s, r, err, "out of memory");
    *v = *view;
    tk->s = s;
    tk->r = r;
    tk->v = v;
    char msg[480];
    if (rl_redis_admit(s->redis, v, tk->id, redis_answered, tk, &tk->pending, msg, sizeof(msg)) != 0)
        return redis_failed(s, r, err, msg);
    r->ticket = tk; /* for cancel() */
    return IG_PENDING;
}

static int rl_admit(void *state, ig_rl_request_t *r, ig_error_t *err)
{
    rl_state_t *s = state;
    r->ticket = NULL;
    rl_view_t v;
    rl_scopes_build(s->host, r, &v);
    if (v.n == 0)
        return 0; /* nothing limits this request */
    rl_ticket_t *tk = s->host->palloc(r->pool, sizeof(*tk));
    if (!tk)
        return 0; /* cannot remember what to give back: admit uncounted rather than leak a slot */
    memset(tk, 0, sizeof(*tk));
    if (s->redis)
        return admit_redis(s, &v, tk, r, err);
    int admitted = rl_memory_admit(s->proc->table, &v, (int64_t)s->host->now_ms(), &tk->mem);
    if (admitted < 0) {
        s->host->log(IG_LOG_ERROR, "ratelimit", "out of memory: admitting uncounted");
        return 0;
    }
    rl_report(s->host, &v, admitted, r, err);
    if (!admitted)
        return -1;
    r->ticket = tk;
    return 0;
}

static void rl_complete(void *state, ig_rl_request_t *r, const ig_usage_t *usage)
{
    rl_state_t *s = state;
    rl_ticket_t *tk = r->ticket;
    if (!tk)
        return;
    r->ticket = NULL;
    int64_t tokens = 0;
    if (usage && usage->prompt_tokens > 0)
        tokens += usage->prompt_tokens;
    if (usage && usage->completion_tokens > 0)
        tokens += usage->completion_tokens;
    if (tk->mem.n)
        rl_memory_complete(s->proc->table, &tk->mem, (int64_t)s->host->now_ms(), tokens);
    if (tk->redis_held && s->redis) {
        /* answered later, or logged when it fails */
        char msg[480];
        if (rl_redis_complete(s->redis, tk->ids, tk->idlens, tk->flags, tk->n, tk->id, tokens, msg, sizeof(msg)) != 0)
            warn_throttled(s, "%s: %lld tokens not charged; a concurrency slot frees itself at its lease's end", msg,
                           (long long)tokens);
    }
}

static void rl_cancel(void *state, ig_rl_request_t *r)
{
    (void)state;
    rl_ticket_t *tk = r->ticket;
    r->ticket = NULL;
    if (tk && tk->pending) {
        rl_redis_admit_cancel(tk->pending); /* gives back what Redis may still admit */
        tk->pending = NULL;
    }
}

/* GET /v1/me: the caller's limits and what is left of them (the Redis backend says only the limits:
 * its counters are in Redis, and describing must not wait). */
static int rl_describe_principal(void *state, ig_describe_t *d, ig_error_t *err)
{
    rl_state_t *s = state;
    return rl_describe(s->host, s->redis ? NULL : s->proc->table, d, err);
}

static const ig_ratelimit_vtable_t rl_vtable = {
    .size = sizeof(ig_ratelimit_vtable_t),
    .admit = rl_admit,
    .complete = rl_complete,
    .cancel = rl_cancel,
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "ratelimit",
    .kind = IG_PLUGIN_RATELIMIT,
    .version = "0.2.0",
    .description = "requests/tokens per minute and hour, burst, concurrency per key, customer, model, key+model",
    .options = rl_options,
    .options_size = sizeof(rl_options_t),
    .load = rl_load,
    .unload = rl_unload,
    .init = rl_init,
    .fini = rl_fini,
    .vtable = &rl_vtable,
    .describe_principal = rl_describe_principal,
};
