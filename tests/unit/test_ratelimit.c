/*
 * test_ratelimit.c — the rate limiter, compiled in from plugins/ratelimit: sliding windows in slots
 * (nothing leaves early, retry and reset times), GCRA bursts, OpenAI's duration format, which scope
 * the headers describe, refusal messages, the in-process table's exactness under threads,
 * concurrency slots given back, Redis URLs; and the Redis backend as the core drives it (a fake host
 * with a libuv loop per test thread): admissions answered later, exact across 8 workers in one
 * pipeline each, cancel giving a slot back, NOSCRIPT, reloads keeping or closing connections, Redis
 * stopped, killed and restarted, a server that never answers, AUTH/SELECT, nothing left on a loop.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ig_test.h"
#include "test_host.h"
#include "rl_memory.h"
#include "rl_redis.h"
#include "rl_report.h"
#include "rl_window.h"

/* ---- a fake host: palloc from a list freed at exit (any thread), the rest from test_host.h ---- */
typedef struct blk {
    struct blk *next;
    char data[];
} blk_t;
static blk_t *blocks;
static pthread_mutex_t blocks_mu = PTHREAD_MUTEX_INITIALIZER;

static void *fake_palloc(void *pool, size_t n)
{
    (void)pool;
    blk_t *b = malloc(sizeof(*b) + n);
    pthread_mutex_lock(&blocks_mu);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&blocks_mu);
    return b->data;
}

/* What the plugin logged, for the tests that check it (IG_TEST_VERBOSE=1 prints it too). */
static char logbuf[1 << 16];
static size_t loglen;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void fake_log(ig_log_level_t level, const char *plugin, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (getenv("IG_TEST_VERBOSE"))
        fprintf(stderr, "[%d %s] %s\n", (int)level, plugin, line);
    pthread_mutex_lock(&log_mu);
    int n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
    if (n > 0 && loglen + (size_t)n < sizeof(logbuf))
        loglen += (size_t)n;
    pthread_mutex_unlock(&log_mu);
}

static int logged(const char *needle)
{
    pthread_mutex_lock(&log_mu);
    int found = strstr(logbuf, needle) != NULL;
    pthread_mutex_unlock(&log_mu);
    return found;
}

/* ---- the worker side of the fake host: a loop per test thread, exit hooks, admit_done ---- */
static _Thread_local uv_loop_t *tl_loop;
static _Thread_local int tl_index = -1;
static _Thread_local struct {
    void (*fn)(void *);
    void *arg;
} tl_hooks[8];
static _Thread_local int tl_nhooks;

static uv_loop_t *fake_worker_loop(void)
{
    return tl_loop;
}

static int fake_worker_index(void)
{
    return tl_index;
}

static int fake_on_worker_exit(void (*fn)(void *arg), void *arg)
{
    if (!tl_loop || tl_nhooks == 8)
        return -1;
    tl_hooks[tl_nhooks].fn = fn;
    tl_hooks[tl_nhooks++].arg = arg;
    return 0;
}

/* A request as the fake core keeps it: admit_done fills the outcome. */
typedef struct {
    ig_rl_request_t r; /* first: admit_done finds the rest from it */
    ig_error_t err;
    int returned;      /* what admit() returned */
    int done, rc, calls;
    int thread_index;  /* the worker it was admitted on */
} treq_t;

static void fake_admit_done(ig_rl_request_t *r, int rc, const ig_error_t *err)
{
    treq_t *t = (treq_t *)r;
    t->calls++;
    t->done = 1;
    t->rc = rc;
    t->thread_index = tl_index;
    if (err)
        t->err = *err;
}

static const ig_host_t host = {.size = sizeof(ig_host_t),
                               .abi_version = IG_PLUGIN_ABI_VERSION,
                               .palloc = fake_palloc,
                               .error = test_host_error,
                               .now_ms = test_host_now_ms,
                               .log = fake_log,
                               .worker_loop = fake_worker_loop,
                               .worker_index = fake_worker_index,
                               .admit_done = fake_admit_done,
                               .on_worker_exit = fake_on_worker_exit};

static const char *header(const ig_rl_request_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].key, name) == 0)
            return r->headers[i].value;
    return NULL;
}

static void test_window(void)
{
    rl_window_t w;
    rl_window_init(&w);
    const int64_t W = RL_MINUTE_SLOT_MS;
    int64_t t0 = 1000000 * W + 999; /* the last millisecond of a slot: the worst case for early expiry */
    CHECK(rl_window_used(&w, t0, W) == 0);
    rl_window_add(&w, t0, W, 3);
    rl_window_add(&w, t0 + 30 * W, W, 2);
    CHECK(rl_window_used(&w, t0, W) == 3);
    CHECK(rl_window_used(&w, t0 + 30 * W, W) == 5);
    /* a count made at t0 is still there a full window (60 s) later, whatever the slot phase */
    CHECK(rl_window_used(&w, t0 + 60 * W, W) == 5);
    /* and gone within W/60 after that: here, made in its slot's last ms, 1 ms after the full window */
    CHECK(rl_window_used(&w, t0 + 60 * W + 1, W) == 2);
    /* made at the start of a slot, a count stays for the longest: W + W/60 */
    rl_window_t w2;
    rl_window_init(&w2);
    rl_window_add(&w2, t0 + 1, W, 4); /* the next slot's first ms */
    CHECK(rl_window_used(&w2, t0 + 1 + 61 * W - 1, W) == 4);
    CHECK(rl_window_used(&w2, t0 + 1 + 61 * W, W) == 0);
    CHECK(rl_window_used(&w, t0 + 91 * W, W) == 0);

    /* observe: limit 5 used up at t0+30s; the first 3 leave at the slot of t0 + 61 slots */
    rl_obs_t o = {.limit = 5};
    int64_t now = t0 + 30 * W;
    rl_window_observe(&w, now, W, &o);
    CHECK(o.used == 5);
    int64_t first_leaves = (t0 / W + RL_SLOTS) * W - now;
    CHECKF(o.retry_ms == first_leaves, "retry %lld, want %lld", (long long)o.retry_ms, (long long)first_leaves);
    CHECK(o.retry_ms > 30000 && o.retry_ms <= 31000);
    CHECKF(o.reset_ms == ((t0 + 30 * W) / W + RL_SLOTS) * W - now, "reset %lld", (long long)o.reset_ms);
    /* limit 4: needs the first slot gone too (5-3 = 2 < 4) */
    o = (rl_obs_t){.limit = 4};
    rl_window_observe(&w, now, W, &o);
    CHECK(o.retry_ms == first_leaves);
    /* limit 2: needs both slots gone */
    o = (rl_obs_t){.limit = 2};
    rl_window_observe(&w, now, W, &o);
    CHECK(o.retry_ms == o.reset_ms);
    /* under the limit: no wait */
    o = (rl_obs_t){.limit = 9};
    rl_window_observe(&w, now, W, &o);
    CHECK(o.retry_ms == 0 && o.used == 5);

    /* the ring reuses a slot for a new period: the old count must not leak into it */
    rl_window_init(&w);
    rl_window_add(&w, 0, W, 7);
    rl_window_add(&w, RL_SLOTS * W, W, 1); /* same ring index, 61 slots later */
    CHECK(rl_window_used(&w, RL_SLOTS * W, W) == 1);

    /* hours: slots of a minute */
    rl_window_init(&w);
    rl_window_add(&w, 0, RL_HOUR_SLOT_MS, 10);
    CHECK(rl_window_used(&w, 3600000, RL_HOUR_SLOT_MS) == 10);
    CHECK(rl_window_used(&w, 3660000, RL_HOUR_SLOT_MS) == 0);
}

static void test_gcra(void)
{
    int64_t iv = rl_gcra_interval_us(60); /* 1 per second */
    CHECK(iv == 1000000);
    CHECK(rl_gcra_interval_us(7) == 8571429); /* rounded up: never faster than the rate */
    int64_t tat = 0, now = 5000000000;
    rl_obs_t o = {.limit = 3};
    int admitted = 0;
    for (int i = 0; i < 10; i++) {
        rl_gcra_observe(tat, now, iv, &o);
        if (rl_obs_over(&o))
            continue;
        tat = rl_gcra_take(tat, now, iv);
        admitted++;
    }
    CHECK(admitted == 3); /* a burst of 3 at once */
    rl_gcra_observe(tat, now, iv, &o);
    CHECK(o.used == 3 && o.retry_ms == 1000 && o.reset_ms == 3000);
    /* one interval later, exactly one more */
    now += iv;
    rl_gcra_observe(tat, now, iv, &o);
    CHECK(!rl_obs_over(&o) && o.used == 2);
    tat = rl_gcra_take(tat, now, iv);
    rl_gcra_observe(tat, now, iv, &o);
    CHECK(rl_obs_over(&o));
    /* idle for long: the bucket is full again, no credit beyond it */
    now += 100 * iv;
    rl_gcra_observe(tat, now, iv, &o);
    CHECK(o.used == 0 && o.reset_ms == 0 && o.retry_ms == 0);
}

static void test_duration(void)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {{0, "0ms"},        {-5, "0ms"},         {20, "20ms"},      {999, "999ms"},
                 {1000, "1s"},      {1500, "1.5s"},      {1250, "1.25s"},   {1005, "1.005s"},
                 {59000, "59s"},    {60000, "1m0s"},     {360000, "6m0s"},  {61001, "1m1.001s"},
                 {3600000, "1h0m0s"}, {3723000, "1h2m3s"}, {90061500, "25h1m1.5s"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        rl_format_duration(buf, sizeof(buf), cases[i].ms);
        CHECKF(strcmp(buf, cases[i].want) == 0, "%lld ms -> \"%s\", want \"%s\"", (long long)cases[i].ms, buf,
               cases[i].want);
    }
}

static ig_model_t model_with(ig_limits_t l)
{
    ig_model_t m = {.name = "qwen", .limits = l};
    return m;
}

static void test_scopes_and_report(void)
{
    ig_limits_t none = IG_LIMITS_NONE;
    ig_limits_t ml = none, kl = none, cl = none, kml = none;
    ml.requests_per_minute = 100;
    ml.tokens_per_minute = 5000;
    kl.requests_per_minute = 10;
    kl.max_concurrent = 2;
    cl.tokens_per_hour = 100000;
    ig_model_t m = model_with(ml);
    ig_principal_t p = {.customer_id = IG_STR("acme"), .key_id = IG_STR("key1"), .key_limits = kl,
                        .customer_limits = cl, .key_model_limits = kml};
    ig_rl_request_t r = {.principal = &p, .model = &m};
    rl_view_t v;
    rl_scopes_build(&host, &r, &v);
    /* key+model has no limit: no scope for it */
    if (CHECK(v.n == 3)) {
        CHECK(v.scopes[0].kind == RL_SCOPE_KEY && strcmp(v.scopes[0].id, "k:key1") == 0);
        CHECK(v.scopes[1].kind == RL_SCOPE_CUSTOMER && strcmp(v.scopes[1].id, "c:acme") == 0);
        CHECK(v.scopes[2].kind == RL_SCOPE_MODEL && strcmp(v.scopes[2].id, "m:qwen") == 0);
        char label[128];
        CHECK(strcmp(rl_scope_label(&v.scopes[0], label, sizeof(label)), "key \"key1\"") == 0);
        CHECK(v.scopes[0].lim[RL_CONC] == 2 && v.scopes[0].lim[RL_BURST] == -1);
    }
    /* without a principal only the model counts */
    ig_rl_request_t anon = {.model = &m};
    rl_scopes_build(&host, &anon, &v);
    CHECK(v.n == 1 && strcmp(v.scopes[0].id, "m:qwen") == 0);
    /* key+model */
    p.key_model_limits.requests_per_hour = 3;
    rl_scopes_build(&host, &r, &v);
    char kmlabel[128];
    CHECK(v.n == 4 && strcmp(v.scopes[3].id, "km:key1:qwen") == 0 &&
          strcmp(rl_scope_label(&v.scopes[3], kmlabel, sizeof(kmlabel)), "key \"key1\" on model \"qwen\"") == 0);

    /* admitted: the headers describe the least remaining: key RPM 10 used 4 -> 5 left, not model's 95 */
    rl_scopes_build(&host, &r, &v);
    v.now_ms = 7200000; /* on a minute boundary */
    v.obs[0][RL_RPM].used = 4;
    v.obs[2][RL_RPM].used = 4;
    v.obs[3][RL_RPH].used = 0; /* key+model 3/hour: 2 left after this one, the binding one */
    v.obs[2][RL_TPM].used = 4000;
    v.obs[2][RL_TPM].reset_ms = 42000;
    v.obs[1][RL_TPH].used = 10;
    ig_rl_request_t r2 = r;
    ig_error_t err = {0};
    CHECK(!rl_view_over(&v));
    rl_report(&host, &v, 1, &r2, &err);
    CHECK(r2.nheaders == 6);
    const char *lr = header(&r2, "x-ratelimit-limit-requests"), *rr = header(&r2, "x-ratelimit-remaining-requests");
    CHECKF(lr && strcmp(lr, "3") == 0 && rr && strcmp(rr, "2") == 0, "requests %s/%s", lr, rr);
    /* an hour's window with this request in it empties in 60-61 minutes */
    const char *rs = header(&r2, "x-ratelimit-reset-requests");
    CHECKF(rs && strcmp(rs, "1h1m0s") == 0, "reset-requests %s", rs);
    const char *lt = header(&r2, "x-ratelimit-limit-tokens"), *rt = header(&r2, "x-ratelimit-remaining-tokens");
    CHECKF(lt && strcmp(lt, "5000") == 0 && rt && strcmp(rt, "1000") == 0, "tokens %s/%s", lt, rt);
    CHECK(strcmp(header(&r2, "x-ratelimit-reset-tokens"), "42s") == 0);

    /* refused by the model's tokens (used >= limit) and the key's RPM at once: Retry-After is the longer */
    rl_scopes_build(&host, &r, &v);
    v.obs[0][RL_RPM].used = 10;
    v.obs[0][RL_RPM].retry_ms = 2500;
    v.obs[0][RL_RPM].reset_ms = 59000;
    v.obs[2][RL_TPM].used = 5000;
    v.obs[2][RL_TPM].retry_ms = 7200;
    v.obs[2][RL_TPM].reset_ms = 30000;
    CHECK(rl_view_over(&v));
    ig_rl_request_t r3 = r;
    memset(&err, 0, sizeof(err));
    rl_report(&host, &v, 0, &r3, &err);
    CHECK(r3.retry_after_s == 8);
    CHECK(err.status == 429 && strcmp(err.type, "rate_limit_exceeded") == 0);
    CHECKF(strstr(err.msg, "tokens per minute (TPM) on model \"qwen\": limit 5000, used 5000") &&
               strstr(err.msg, "try again in 7.2s"),
           "msg: %s", err.msg);
    CHECK(strcmp(header(&r3, "x-ratelimit-limit-requests"), "10") == 0);
    CHECK(strcmp(header(&r3, "x-ratelimit-remaining-requests"), "0") == 0);
    CHECK(strcmp(header(&r3, "x-ratelimit-reset-requests"), "59s") == 0);
    CHECK(strcmp(header(&r3, "x-ratelimit-remaining-tokens"), "0") == 0);

    /* refused by concurrency */
    rl_scopes_build(&host, &r, &v);
    v.obs[0][RL_CONC].used = 2;
    v.obs[0][RL_CONC].retry_ms = 1000;
    ig_rl_request_t r4 = r;
    rl_report(&host, &v, 0, &r4, &err);
    CHECK(r4.retry_after_s == 1);
    CHECKF(strstr(err.msg, "concurrent requests on key \"key1\": limit 2, in flight 2"), "msg: %s", err.msg);
    CHECK(strcmp(header(&r4, "x-ratelimit-limit-requests"), "2") == 0);

    /* no limits at all: no scope, no headers */
    ig_model_t free_model = model_with(none);
    ig_rl_request_t r5 = {.model = &free_model};
    rl_scopes_build(&host, &r5, &v);
    CHECK(v.n == 0);
}

/* ---- the in-process table under threads ---- */
typedef struct {
    rl_table_t *t;
    ig_model_t *m;
    atomic_int admitted;
    int attempts;
    int64_t now_ms;
} hammer_t;

static void *hammer(void *arg)
{
    hammer_t *h = arg;
    for (int i = 0; i < h->attempts; i++) {
        ig_rl_request_t r = {.model = h->m};
        rl_view_t v;
        rl_mem_ticket_t tk;
        rl_scopes_build(&host, &r, &v);
        int a = rl_memory_admit(h->t, &v, h->now_ms, &tk);
        if (a == 1) {
            atomic_fetch_add(&h->admitted, 1);
            rl_memory_complete(h->t, &tk, h->now_ms, 0);
        }
    }
    return NULL;
}

static void test_memory_exact_under_threads(void)
{
    ig_limits_t l = IG_LIMITS_NONE;
    l.requests_per_minute = 1000;
    ig_model_t m = model_with(l);
    hammer_t h = {.t = rl_table_new(), .m = &m, .attempts = 2000, .now_ms = 123456789};
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, hammer, &h);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECKF(atomic_load(&h.admitted) == 1000, "admitted %d of 16000 with a limit of 1000", atomic_load(&h.admitted));
    CHECK(rl_table_size(h.t) == 1);
    /* a minute and one slot later everything has left the window */
    h.now_ms += 61000;
    atomic_store(&h.admitted, 0);
    h.attempts = 1;
    hammer(&h);
    CHECK(atomic_load(&h.admitted) == 1);
    rl_table_free(h.t);
}

static void test_memory_concurrency_and_tokens(void)
{
    rl_table_t *t = rl_table_new();
    ig_limits_t l = IG_LIMITS_NONE;
    l.max_concurrent = 2;
    l.tokens_per_minute = 100;
    ig_model_t m = model_with(l);
    ig_rl_request_t r = {.model = &m};
    rl_view_t v;
    rl_mem_ticket_t a, b, c;
    int64_t now = 5000000;
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now, &a) == 1);
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now, &b) == 1);
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now, &c) == 0); /* two in flight */
    CHECK(v.obs[0][RL_CONC].used == 2);
    rl_memory_complete(t, &a, now, 60); /* one ends: its slot is free, 60 tokens charged */
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now + 10, &c) == 1);
    CHECK(v.obs[0][RL_TPM].used == 60);
    rl_memory_complete(t, &b, now + 20, 50);
    rl_memory_complete(t, &c, now + 20, 0);
    /* 110 tokens >= 100: refused before any engine work, until the first charge leaves the window */
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now + 30, &a) == 0);
    CHECK(v.obs[0][RL_TPM].used == 110 && v.obs[0][RL_CONC].used == 0);
    CHECK(v.obs[0][RL_TPM].retry_ms > 59000 && v.obs[0][RL_TPM].retry_ms <= 61000);
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, now + 62000, &a) == 1);
    rl_memory_complete(t, &a, now + 62000, 0);
    rl_table_free(t);
}

/* Scopes not seen for over an hour are freed: a table of many keys does not grow for ever. */
static void test_memory_sweep(void)
{
    rl_table_t *t = rl_table_new();
    ig_limits_t l = IG_LIMITS_NONE;
    l.requests_per_minute = 5;
    char names[2000][16];
    ig_model_t models[2000];
    int64_t t0 = 10000000;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 1000; i++) {
            int k = round * 1000 + i;
            snprintf(names[k], sizeof(names[k]), "m%d", k);
            models[k] = (ig_model_t){.name = names[k], .limits = l};
            ig_rl_request_t r = {.model = &models[k]};
            rl_view_t v;
            rl_mem_ticket_t tk;
            rl_scopes_build(&host, &r, &v);
            int64_t now = t0 + round * (RL_SLOTS + 2) * RL_HOUR_SLOT_MS;
            if (rl_memory_admit(t, &v, now, &tk) == 1)
                rl_memory_complete(t, &tk, now, 0);
        }
        if (round == 0)
            CHECK(rl_table_size(t) == 1000);
    }
    /* every shard saw new entries 63 minutes later and swept the old ones it held */
    size_t n = rl_table_size(t);
    CHECKF(n == 1000, "%zu entries after the sweep, want the 1000 recent ones", n);
    /* a scope held by a request in flight is never freed, however old */
    ig_limits_t lc = IG_LIMITS_NONE;
    lc.max_concurrent = 1;
    ig_model_t held = {.name = "held", .limits = lc};
    ig_rl_request_t r = {.model = &held};
    rl_view_t v;
    rl_mem_ticket_t tk, tk2;
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, t0, &tk) == 1);
    for (int i = 0; i < 1000; i++) { /* far later, new scopes everywhere: sweeps run */
        ig_rl_request_t r2 = {.model = &models[i]};
        rl_mem_ticket_t t2;
        rl_scopes_build(&host, &r2, &v);
        if (rl_memory_admit(t, &v, t0 + 1000 * RL_HOUR_SLOT_MS, &t2) == 1)
            rl_memory_complete(t, &t2, t0 + 1000 * RL_HOUR_SLOT_MS, 0);
    }
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_memory_admit(t, &v, t0 + 1000 * RL_HOUR_SLOT_MS, &tk2) == 0); /* still in flight: still counted */
    rl_memory_complete(t, &tk, t0 + 1000 * RL_HOUR_SLOT_MS, 0);
    rl_table_free(t);
}

static void test_redis_url(void)
{
    rl_redis_url_t u;
    char err[300];
    CHECK(rl_redis_parse_url("redis://127.0.0.1:6380/2", &u, err, sizeof(err)) == 0);
    CHECK(strcmp(u.host, "127.0.0.1") == 0 && u.port == 6380 && u.db == 2 && !u.password[0]);
    CHECK(rl_redis_parse_url("redis://localhost", &u, err, sizeof(err)) == 0);
    CHECK(strcmp(u.host, "localhost") == 0 && u.port == 6379 && u.db == 0);
    CHECK(rl_redis_parse_url("redis://:s3cret@h:1", &u, err, sizeof(err)) == 0);
    CHECK(strcmp(u.password, "s3cret") == 0 && !u.user[0] && strcmp(u.host, "h") == 0 && u.port == 1);
    CHECK(rl_redis_parse_url("redis://bob:pw@[::1]:7000/", &u, err, sizeof(err)) == 0);
    CHECK(strcmp(u.user, "bob") == 0 && strcmp(u.password, "pw") == 0 && strcmp(u.host, "::1") == 0 && u.port == 7000);
    CHECK(rl_redis_parse_url("unix:///run/redis.sock", &u, err, sizeof(err)) == 0);
    CHECK(u.unix_socket && strcmp(u.host, "/run/redis.sock") == 0);
    CHECK(rl_redis_parse_url("http://x", &u, err, sizeof(err)) == -1 && strstr(err, "expected redis://"));
    CHECK(rl_redis_parse_url("redis://h:99999", &u, err, sizeof(err)) == -1 && strstr(err, "bad port"));
    CHECK(rl_redis_parse_url("redis://h:1/x", &u, err, sizeof(err)) == -1 && strstr(err, "bad database"));
    CHECK(rl_redis_parse_url("redis://", &u, err, sizeof(err)) == -1);
    CHECK(rl_redis_parse_url("unix://relative", &u, err, sizeof(err)) == -1);
    /* a password with '@' in it; and errors never show the credentials */
    CHECK(rl_redis_parse_url("redis://:p@ss@h:2", &u, err, sizeof(err)) == 0);
    CHECK(strcmp(u.password, "p@ss") == 0 && strcmp(u.host, "h") == 0 && u.port == 2);
    CHECK(rl_redis_parse_url("redis://bob:topsecret@h:0", &u, err, sizeof(err)) == -1);
    CHECKF(!strstr(err, "topsecret") && strstr(err, "redis://***@h:0") && strstr(err, "bad port"), "err: %s", err);
}

/* ---- Redis: the plugin as the core drives it, against real redis-servers ---- */

extern const ig_plugin_t infergate_plugin;
#define VT ((const ig_ratelimit_vtable_t *)infergate_plugin.vtable)

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static const char *redis_bin(void)
{
    return access("/usr/bin/redis-server", X_OK) == 0 ? "/usr/bin/redis-server" : NULL;
}

/* A command on a blocking connection of the test's own (never on a worker loop). NULL on failure. */
static redisReply *redis_sync(int port, const char *password, int db, const char *fmt, ...)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        if (c)
            redisFree(c);
        return NULL;
    }
    redisReply *r = NULL;
    if (password)
        freeReplyObject(redisCommand(c, "AUTH %s", password));
    if (db)
        freeReplyObject(redisCommand(c, "SELECT %d", db));
    va_list ap;
    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    redisFree(c);
    return r;
}

/* The integer field `name` of INFO <section>, or -1. */
static long long redis_info(int port, const char *section, const char *name)
{
    redisReply *r = redis_sync(port, NULL, 0, "INFO %s", section);
    long long v = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        char key[128];
        snprintf(key, sizeof(key), "\n%s:", name);
        const char *p = strstr(r->str, key);
        if (p)
            v = strtoll(p + strlen(key), NULL, 10);
        else if (strncmp(r->str, key + 1, strlen(key + 1)) == 0)
            v = strtoll(r->str + strlen(key + 1), NULL, 10);
    }
    freeReplyObject(r);
    return v;
}

/* calls=N of a command in INFO commandstats, or 0. */
static long long redis_calls(int port, const char *cmd)
{
    redisReply *r = redis_sync(port, NULL, 0, "INFO commandstats");
    long long v = 0;
    char key[64];
    snprintf(key, sizeof(key), "cmdstat_%s:calls=", cmd);
    const char *p = r && r->type == REDIS_REPLY_STRING ? strstr(r->str, key) : NULL;
    if (p)
        v = strtoll(p + strlen(key), NULL, 10);
    freeReplyObject(r);
    return v;
}

static pid_t redis_start(int port, const char *password)
{
    const char *bin = redis_bin();
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        if (password)
            execl(bin, bin, "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp",
                  "--loglevel", "warning", "--requirepass", password, (char *)NULL);
        else
            execl(bin, bin, "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp",
                  "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    /* ready when it answers (bounded: a server that never comes up fails the test, it does not hang it) */
    for (int i = 0; i < 400; i++) {
        redisReply *r = redis_sync(port, password, 0, "PING");
        int up = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (up)
            return pid;
        usleep(25000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void redis_stop(pid_t pid, int sig)
{
    if (pid > 0) {
        kill(pid, sig);
        if (sig != SIGSTOP)
            waitpid(pid, NULL, 0);
    }
}

/* ---- this thread as a worker ---- */

static void worker_begin(uv_loop_t *loop, int index)
{
    uv_loop_init(loop);
    tl_loop = loop;
    tl_index = index;
    tl_nhooks = 0;
}

/* The core's part at exit: the exit hooks, then the loop until what they closed is closed. The
 * loop's uv_loop_close result: 0 when the plugin left nothing on it. */
static int worker_end(void)
{
    uv_loop_t *loop = tl_loop;
    for (int i = 0; i < tl_nhooks; i++)
        tl_hooks[i].fn(tl_hooks[i].arg);
    tl_nhooks = 0;
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(loop);
    tl_loop = NULL;
    tl_index = -1;
    return rc;
}

static int gave_up;
static void on_guard(uv_timer_t *t)
{
    (void)t;
    gave_up = 1;
}

/* Runs this worker's loop until cond(arg) holds (or, so a broken build fails instead of hanging,
 * a minute passes). Returns cond(arg). */
static int run_until(int (*cond)(void *), void *arg)
{
    uv_timer_t guard;
    uv_timer_init(tl_loop, &guard);
    uv_timer_start(&guard, on_guard, 60000, 0);
    gave_up = 0;
    while (!cond(arg) && !gave_up)
        uv_run(tl_loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(tl_loop, UV_RUN_NOWAIT);
    return cond(arg);
}

static void on_nap(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

static int flag_set(void *arg)
{
    return *(int *)arg;
}

/* Lets the loop run for ms (pacing a retry, never a measurement). */
static void nap(int ms)
{
    uv_timer_t t;
    int done = 0;
    uv_timer_init(tl_loop, &t);
    t.data = &done;
    uv_timer_start(&t, on_nap, (uint64_t)ms, 0);
    run_until(flag_set, &done);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(tl_loop, UV_RUN_NOWAIT);
}

typedef struct {
    treq_t *t;
    size_t n;
} batch_t;

static int batch_done(void *arg)
{
    batch_t *b = arg;
    for (size_t i = 0; i < b->n; i++)
        if (!b->t[i].done)
            return 0;
    return 1;
}

static void admit_one(void *state, treq_t *t, const ig_model_t *m)
{
    memset(t, 0, sizeof(*t));
    t->r.model = m;
    t->returned = VT->admit(state, &t->r, &t->err);
    if (t->returned != IG_PENDING) {
        t->done = 1;
        t->rc = t->returned;
    }
}

/* Admits one request and waits for its answer. */
static void admit_wait(void *state, treq_t *t, const ig_model_t *m)
{
    admit_one(state, t, m);
    batch_t b = {t, 1};
    run_until(batch_done, &b);
}

static const char *theader(const treq_t *t, const char *name)
{
    return header(&t->r, name);
}

/* ---- plugin instances ---- */

typedef struct {
    const char *backend, *url, *prefix, *on_error;
    int64_t timeout_ms, lease_ms;
} opts_t;

static void *inst_new(void *proc, const opts_t *o, ig_error_t *err)
{
    unsigned char buf[1024] = {0};
    if (infergate_plugin.options_size > sizeof(buf))
        return NULL;
    for (const ig_option_decl_t *d = infergate_plugin.options; d->name; d++) {
        void *at = buf + d->offset;
        if (!strcmp(d->name, "backend"))
            *(const char **)at = o->backend;
        else if (!strcmp(d->name, "redisUrl"))
            *(const char **)at = o->url;
        else if (!strcmp(d->name, "keyPrefix"))
            *(const char **)at = o->prefix;
        else if (!strcmp(d->name, "onRedisError"))
            *(const char **)at = o->on_error ? o->on_error : "allow";
        else if (!strcmp(d->name, "redisTimeout"))
            *(int64_t *)at = o->timeout_ms ? o->timeout_ms : 5000;
        else if (!strcmp(d->name, "concurrencyLease"))
            *(int64_t *)at = o->lease_ms ? o->lease_ms : 60000;
    }
    ig_plugin_init_t ctx = {.process_state = proc, .options = buf, .workers = 8, .generation = 1};
    void *state = NULL;
    if (infergate_plugin.init(&host, &ctx, &state, err) != 0)
        return NULL;
    return state;
}

/* ---- one limit, eight workers at once ---- */

typedef struct {
    void *state;
    const ig_model_t *m;
    int index;
    int n;
    /* results, read by the main thread after join */
    int pending, admitted, refused, failed, loop_close_rc;
    unsigned char remaining_seen[128];
    int bad_remaining;
} hammer8_t;

static void *redis_worker(void *arg)
{
    hammer8_t *h = arg;
    uv_loop_t loop;
    worker_begin(&loop, h->index);
    treq_t *t = calloc((size_t)h->n, sizeof(*t));
    /* all at once, as requests read from one socket: they go out in one pipeline */
    for (int i = 0; i < h->n; i++) {
        admit_one(h->state, &t[i], h->m);
        h->pending += t[i].returned == IG_PENDING;
    }
    batch_t b = {t, (size_t)h->n};
    run_until(batch_done, &b);
    for (int i = 0; i < h->n; i++) {
        if (!t[i].done || t[i].calls > 1)
            h->failed++;
        else if (t[i].rc == 0 && t[i].r.ticket) {
            h->admitted++;
            const char *rem = theader(&t[i], "x-ratelimit-remaining-requests");
            long v = rem ? strtol(rem, NULL, 10) : -1;
            if (v < 0 || v >= 128)
                h->bad_remaining++;
            else
                h->remaining_seen[v]++;
            VT->complete(h->state, &t[i].r, &(ig_usage_t){5, 5, -1, 0});
        } else if (t[i].rc == -1 && t[i].err.status == 429)
            h->refused++;
        else
            h->failed++;
    }
    free(t);
    h->loop_close_rc = worker_end();
    return NULL;
}

static void test_redis_eight_workers(void *proc, int port, const char *prefix)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    ig_error_t err = {0};
    void *state = inst_new(proc, &(opts_t){"redis", url, prefix, "deny", 0, 0}, &err);
    if (!CHECKF(state, "init: %s", err.msg))
        return;
    ig_limits_t l = IG_LIMITS_NONE;
    l.requests_per_minute = 100;
    ig_model_t m = {.name = "eight", .limits = l};
    hammer8_t h[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        h[i] = (hammer8_t){.state = state, .m = &m, .index = 100 + i, .n = 200};
        pthread_create(&th[i], NULL, redis_worker, &h[i]);
    }
    int pending = 0, admitted = 0, refused = 0, failed = 0, bad = 0;
    unsigned seen[128] = {0};
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        pending += h[i].pending;
        admitted += h[i].admitted;
        refused += h[i].refused;
        failed += h[i].failed;
        bad += h[i].bad_remaining;
        CHECKF(h[i].loop_close_rc == 0, "worker %d: uv_loop_close: %s (a handle left open)", i,
               h[i].loop_close_rc ? uv_strerror(h[i].loop_close_rc) : "ok");
        for (int k = 0; k < 128; k++)
            seen[k] += h[i].remaining_seen[k];
    }
    CHECKF(pending == 1600, "%d of 1600 admissions answered later (IG_PENDING)", pending);
    CHECKF(admitted == 100 && refused == 1500 && failed == 0, "8 workers x 200 at a limit of 100: %d admitted, %d refused, %d failed",
           admitted, refused, failed);
    /* one shared count: each admission took its own unit, remaining 99 .. 0 once each */
    int each_once = bad == 0;
    for (int k = 0; k < 100; k++)
        each_once &= seen[k] == 1;
    CHECK(each_once);
    infergate_plugin.fini(state);
}

/* ---- the calls themselves: observations, burst, concurrency, tokens, a retry time made exact ---- */

typedef struct {
    int done, verdict;
    char err[400];
    rl_view_t v;
} lreq_t;

static void lreq_cb(void *arg, int verdict, const char *err)
{
    lreq_t *q = arg;
    q->done++;
    q->verdict = verdict;
    snprintf(q->err, sizeof(q->err), "%s", err ? err : "");
}

static int lreqs_done(void *arg)
{
    batch_t *b = arg; /* (reused: t is an lreq_t array, n its length) */
    lreq_t *q = (lreq_t *)b->t;
    for (size_t i = 0; i < b->n; i++)
        if (!q[i].done)
            return 0;
    return 1;
}

static int layer_admit(rl_redis_t *rd, lreq_t *q, size_t n, const ig_model_t *m, const char *tag)
{
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        memset(&q[i], 0, sizeof(q[i]));
        ig_rl_request_t r = {.model = m};
        rl_scopes_build(&host, &r, &q[i].v);
        char *ticket = fake_palloc(NULL, 32);
        snprintf(ticket, 32, "%s%zu", tag, i);
        rl_redis_call_t *call;
        char err[300];
        if (rl_redis_admit(rd, &q[i].v, ticket, lreq_cb, &q[i], &call, err, sizeof(err)) != 0) {
            q[i].done = 1;
            q[i].verdict = -1;
            snprintf(q[i].err, sizeof(q[i].err), "%s", err);
        } else
            sent++;
    }
    batch_t b = {(treq_t *)q, n};
    run_until(lreqs_done, &b);
    return sent;
}

static void test_redis_calls(int port, const char *prefix)
{
    rl_conns_t *cs = rl_redis_conns_new(&host);
    char url_s[64], err[300];
    snprintf(url_s, sizeof(url_s), "redis://127.0.0.1:%d", port);
    rl_redis_url_t url;
    CHECK(rl_redis_parse_url(url_s, &url, err, sizeof(err)) == 0);
    rl_redis_t *rd = rl_redis_new(&host, &(rl_redis_config_t){cs, &url, prefix, 5000, 60000});
    uv_loop_t loop;
    worker_begin(&loop, 3);

    /* 100 admitted of 101 in one pipeline; the refusal's wait is exact: the first admission's
     * second leaves the window 61 s after it began, by Redis's clock */
    ig_limits_t l = IG_LIMITS_NONE;
    l.requests_per_minute = 100;
    ig_model_t m = {.name = "calls", .limits = l};
    lreq_t *q = calloc(101, sizeof(*q));
    CHECK(layer_admit(rd, q, 101, &m, "a") == 101);
    int ok = 0, no = 0;
    int64_t first = INT64_MAX;
    lreq_t *refused = NULL;
    for (int i = 0; i < 101; i++) {
        if (q[i].verdict == 1) {
            ok++;
            if (q[i].v.now_ms < first)
                first = q[i].v.now_ms;
        } else if (q[i].verdict == 0) {
            no++;
            refused = &q[i];
        }
    }
    CHECKF(ok == 100 && no == 1, "%d admitted, %d refused", ok, no);
    if (refused) {
        const rl_obs_t *o = &refused->v.obs[0][RL_RPM];
        int64_t want = (first / 1000 + RL_SLOTS) * 1000 - refused->v.now_ms;
        CHECKF(o->used == 100 && o->retry_ms == want, "used %lld retry %lld, want %lld", (long long)o->used,
               (long long)o->retry_ms, (long long)want);
        CHECK(o->reset_ms >= o->retry_ms);
    }
    free(q);

    /* burst 3 at 60/min: 3 of 5 */
    ig_limits_t l2 = IG_LIMITS_NONE;
    l2.requests_per_minute = 60;
    l2.burst = 3;
    ig_model_t m2 = {.name = "bursty", .limits = l2};
    lreq_t b5[5];
    layer_admit(rd, b5, 5, &m2, "b");
    ok = 0;
    for (int i = 0; i < 5; i++)
        ok += b5[i].verdict == 1;
    CHECKF(ok == 3, "burst of 3: %d admitted", ok);
    /* one batch, one instant: the bucket is full and the next request fits one interval later */
    CHECKF(b5[4].verdict == 0 && b5[4].v.obs[0][RL_BURST].used == 3 && b5[4].v.obs[0][RL_BURST].retry_ms == 1000,
           "burst: used %lld retry %lld", (long long)b5[4].v.obs[0][RL_BURST].used,
           (long long)b5[4].v.obs[0][RL_BURST].retry_ms);

    /* concurrency 2, tokens 100 an hour: a completion gives a slot back and charges its tokens; it
     * goes out before the next admission on the same connection, so Redis sees them in order */
    ig_limits_t l3 = IG_LIMITS_NONE;
    l3.max_concurrent = 2;
    l3.tokens_per_hour = 100;
    ig_model_t m3 = {.name = "conc", .limits = l3};
    lreq_t c3[3];
    layer_admit(rd, c3, 3, &m3, "c");
    CHECK(c3[0].verdict == 1 && c3[1].verdict == 1 && c3[2].verdict == 0 && c3[2].v.obs[0][RL_CONC].used == 2);
    const char *ids[] = {c3[0].v.scopes[0].id};
    size_t idlens[] = {c3[0].v.scopes[0].idlen};
    unsigned flags[] = {RL_CHARGE_TPH | RL_HOLD_CONC};
    CHECKF(rl_redis_complete(rd, ids, idlens, flags, 1, "c0", 120, err, sizeof(err)) == 0, "complete: %s", err);
    lreq_t c4;
    layer_admit(rd, &c4, 1, &m3, "d");
    /* a slot is free again, but 120 tokens >= 100 this hour; charged in the same batch (one
     * instant), they leave the window 61 minute-slots after that minute began */
    CHECK(c4.verdict == 0 && c4.v.obs[0][RL_CONC].used == 1 && c4.v.obs[0][RL_TPH].used == 120);
    int64_t tph_want = (c4.v.now_ms / 60000 + RL_SLOTS) * 60000 - c4.v.now_ms;
    CHECKF(c4.v.obs[0][RL_TPH].retry_ms == tph_want, "tokens per hour: retry %lld, want %lld",
           (long long)c4.v.obs[0][RL_TPH].retry_ms, (long long)tph_want);
    CHECK(rl_conns_open_here(cs) == 1);

    /* a window is a small hash (n newest slot, c its count, p older slots' sum, o oldest) and the
     * older slots beside it: they are swept once the oldest has left; a window whose newest slot
     * has left too starts again; a refusal that needs more than the oldest slot leaving finds the
     * slot that is enough */
    redisReply *tr = redis_sync(port, NULL, 0, "TIME");
    long long sec = tr && tr->type == REDIS_REPLY_ARRAY ? strtoll(tr->element[0]->str, NULL, 10) : 0;
    freeReplyObject(tr);
    char key[128];
    snprintf(key, sizeof(key), "%sm:swept:rpm", prefix);
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s n %lld c 3 p 5 o %lld", key, sec - 30, sec - 70));
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s:slots %lld 5", key, sec - 70));
    ig_limits_t l10 = IG_LIMITS_NONE;
    l10.requests_per_minute = 10;
    ig_model_t swept = {.name = "swept", .limits = l10};
    lreq_t sw;
    layer_admit(rd, &sw, 1, &swept, "s");
    CHECKF(sw.verdict == 1 && sw.v.obs[0][RL_RPM].used == 3, "swept: %d used %lld", sw.verdict,
           (long long)sw.v.obs[0][RL_RPM].used);
    redisReply *hv = redis_sync(port, NULL, 0, "HMGET %s p o c", key);
    CHECKF(hv && hv->type == REDIS_REPLY_ARRAY && hv->elements == 3 && hv->element[0]->str &&
               !strcmp(hv->element[0]->str, "3") && hv->element[1]->str &&
               strtoll(hv->element[1]->str, NULL, 10) == sec - 30 && hv->element[2]->str && !strcmp(hv->element[2]->str, "1"),
           "after the sweep: p, o, c are not 3, the slot 30 s ago, 1");
    freeReplyObject(hv);
    hv = redis_sync(port, NULL, 0, "HMGET %s:slots %lld %lld", key, sec - 70, sec - 30);
    CHECKF(hv && hv->type == REDIS_REPLY_ARRAY && hv->elements == 2 && hv->element[0]->type == REDIS_REPLY_NIL &&
               hv->element[1]->str && !strcmp(hv->element[1]->str, "3"),
           "after the sweep: the slot that left is still kept, or the last one was not moved to the older slots");
    freeReplyObject(hv);

    snprintf(key, sizeof(key), "%sm:gone:rpm", prefix);
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s n %lld c 4 p 9 o %lld", key, sec - 100, sec - 200));
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s:slots %lld 9", key, sec - 200));
    ig_limits_t l5 = IG_LIMITS_NONE;
    l5.requests_per_minute = 5;
    ig_model_t gone = {.name = "gone", .limits = l5};
    lreq_t gn;
    layer_admit(rd, &gn, 1, &gone, "g");
    CHECKF(gn.verdict == 1 && gn.v.obs[0][RL_RPM].used == 0, "gone: %d used %lld", gn.verdict,
           (long long)gn.v.obs[0][RL_RPM].used);
    redisReply *ex = redis_sync(port, NULL, 0, "EXISTS %s:slots", key);
    CHECK(ex && ex->type == REDIS_REPLY_INTEGER && ex->integer == 0);
    freeReplyObject(ex);

    /* the small hash lost (deleted by hand): the older slots still count, the newest of them
     * taking its place */
    snprintf(key, sizeof(key), "%sm:orphan:rpm", prefix);
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s:slots %lld 2 %lld 1 %lld 7", key, sec - 20, sec - 10, sec - 90));
    ig_limits_t l4 = IG_LIMITS_NONE;
    l4.requests_per_minute = 4;
    ig_model_t orphan = {.name = "orphan", .limits = l4};
    lreq_t or2[2];
    layer_admit(rd, or2, 2, &orphan, "r");
    CHECKF(or2[0].verdict == 1 && or2[0].v.obs[0][RL_RPM].used == 3 && or2[1].verdict == 0 &&
               or2[1].v.obs[0][RL_RPM].used == 4 &&
               or2[1].v.obs[0][RL_RPM].retry_ms == (sec - 20 + RL_SLOTS) * 1000 - or2[1].v.now_ms,
           "orphaned slots: %d used %lld, %d used %lld retry %lld", or2[0].verdict, (long long)or2[0].v.obs[0][RL_RPM].used,
           or2[1].verdict, (long long)or2[1].v.obs[0][RL_RPM].used, (long long)or2[1].v.obs[0][RL_RPM].retry_ms);

    snprintf(key, sizeof(key), "%sm:sorted:rpm", prefix);
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s n %lld c 3 p 1 o %lld", key, sec - 10, sec - 20));
    freeReplyObject(redis_sync(port, NULL, 0, "HSET %s:slots %lld 1", key, sec - 20));
    ig_limits_t l3r = IG_LIMITS_NONE;
    l3r.requests_per_minute = 3;
    ig_model_t sorted = {.name = "sorted", .limits = l3r};
    lreq_t so;
    layer_admit(rd, &so, 1, &sorted, "o");
    CHECKF(so.verdict == 0 && so.v.obs[0][RL_RPM].used == 4 &&
               so.v.obs[0][RL_RPM].retry_ms == (sec - 10 + RL_SLOTS) * 1000 - so.v.now_ms &&
               so.v.obs[0][RL_RPM].reset_ms == so.v.obs[0][RL_RPM].retry_ms,
           "sorted: %d used %lld retry %lld", so.verdict, (long long)so.v.obs[0][RL_RPM].used,
           (long long)so.v.obs[0][RL_RPM].retry_ms);

    CHECKF(worker_end() == 0, "a handle was left on the loop");
    rl_redis_free(rd);
    rl_conns_free(cs);
}

/* ---- the plugin on one worker: cancel, NOSCRIPT, reloads, failures ---- */

typedef struct {
    int port;
    long long clients;
} clients_t;

static int clients_are(void *arg)
{
    clients_t *c = arg;
    return redis_info(c->port, "clients", "connected_clients") == c->clients;
}

static void test_redis_plugin_worker(void *proc, int port, int port2, pid_t *pid2, const char *prefix)
{
    char url[64], url2[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    snprintf(url2, sizeof(url2), "redis://127.0.0.1:%d", port2);
    ig_error_t err = {0};
    uv_loop_t loop;
    worker_begin(&loop, 0);
    void *s1 = inst_new(proc, &(opts_t){"redis", url, prefix, "deny", 0, 0}, &err);
    if (!CHECKF(s1, "init: %s", err.msg))
        goto out;

    /* a request whose client leaves while Redis decides: the slot Redis gives it comes back */
    ig_limits_t lc = IG_LIMITS_NONE;
    lc.max_concurrent = 1;
    ig_model_t conc = {.name = "cancel", .limits = lc};
    ig_limits_t lr = IG_LIMITS_NONE;
    lr.requests_per_minute = 1000000;
    ig_model_t free_model = {.name = "barrier", .limits = lr};
    treq_t t1, b1, b2, t2, t3;
    admit_one(s1, &t1, &conc);
    CHECK(t1.returned == IG_PENDING);
    VT->cancel(s1, &t1.r);
    /* two round trips behind it: the first answer means t1's came (and its release went out), the
     * second that the release ran */
    admit_wait(s1, &b1, &free_model);
    admit_wait(s1, &b2, &free_model);
    CHECK(b1.rc == 0 && b2.rc == 0);
    CHECKF(!t1.done && t1.calls == 0, "admit_done ran for a cancelled request");
    admit_wait(s1, &t2, &conc);
    CHECKF(t2.rc == 0 && t2.r.ticket, "after a cancelled admission the only slot is free: rc %d %s", t2.rc, t2.err.msg);
    admit_wait(s1, &t3, &conc); /* the control: one slot, t2 holds it */
    CHECK(t3.rc == -1 && t3.err.status == 429 && strstr(t3.err.msg, "concurrent requests"));
    /* a refused admission cancelled (t2 holds the slot): nothing to give back */
    treq_t t4, t5;
    admit_one(s1, &t4, &conc);
    VT->cancel(s1, &t4.r);
    VT->complete(s1, &t2.r, &(ig_usage_t){-1, -1, -1, 0});
    admit_wait(s1, &t5, &conc); /* behind t4 and t2's completion: the slot is free */
    CHECKF(t5.rc == 0, "t5: %d %s", t5.rc, t5.err.msg);
    VT->complete(s1, &t5.r, NULL);

    /* Redis forgot the scripts: EVAL runs them (exactly, once each: NOSCRIPT ran nothing) */
    redisReply *fl = redis_sync(port, NULL, 0, "SCRIPT FLUSH");
    CHECK(fl && fl->type == REDIS_REPLY_STATUS);
    freeReplyObject(fl);
    long long evals = redis_calls(port, "eval");
    ig_limits_t l5 = IG_LIMITS_NONE;
    l5.requests_per_minute = 5;
    ig_model_t five = {.name = "flushed", .limits = l5};
    treq_t f[10];
    for (int i = 0; i < 10; i++)
        admit_one(s1, &f[i], &five);
    batch_t fb = {f, 10};
    run_until(batch_done, &fb);
    int ok = 0, refused = 0;
    for (int i = 0; i < 10; i++) {
        ok += f[i].rc == 0;
        refused += f[i].rc == -1 && f[i].err.status == 429;
    }
    CHECKF(ok == 5 && refused == 5, "after SCRIPT FLUSH: %d admitted, %d refused of 10 at a limit of 5", ok, refused);
    CHECKF(redis_calls(port, "eval") > evals, "EVAL was not used after SCRIPT FLUSH");

    /* a reload naming the same Redis keeps the connection */
    long long clients = redis_info(port, "clients", "connected_clients");
    void *s2 = inst_new(proc, &(opts_t){"redis", url, prefix, "deny", 0, 0}, &err);
    infergate_plugin.fini(s1);
    s1 = NULL;
    treq_t r2;
    admit_wait(s2, &r2, &free_model);
    CHECK(r2.rc == 0);
    CHECKF(redis_info(port, "clients", "connected_clients") == clients, "a reload made a new connection");
    /* one naming another: the old connection closes once no generation names it */
    void *s3 = inst_new(proc, &(opts_t){"redis", url2, prefix, "allow", 0, 0}, &err);
    treq_t r3;
    admit_wait(s3, &r3, &free_model);
    CHECK(r3.rc == 0 && r3.r.ticket);
    infergate_plugin.fini(s2);
    admit_wait(s3, &r3, &free_model);
    clients_t want = {port, clients - 1};
    CHECKF(run_until(clients_are, &want), "the connection to the first Redis stayed open (%lld clients, want %lld)",
           redis_info(port, "clients", "connected_clients"), want.clients);

    /* the second Redis stops answering, then dies with admissions waiting: allow admits them
     * uncounted, deny refuses them (503); both answer at once during the backoff that follows */
    void *s4 = inst_new(proc, &(opts_t){"redis", url2, prefix, "deny", 0, 0}, &err);
    treq_t wa[4], wd[4];
    pid_t rpid = *pid2;
    kill(rpid, SIGSTOP);
    for (int i = 0; i < 4; i++) {
        admit_one(s3, &wa[i], &free_model);
        admit_one(s4, &wd[i], &free_model);
    }
    nap(50); /* let them go out */
    kill(rpid, SIGKILL);
    kill(rpid, SIGCONT);
    waitpid(rpid, NULL, 0);
    *pid2 = -1;
    batch_t wab = {wa, 4}, wdb = {wd, 4};
    run_until(batch_done, &wab);
    run_until(batch_done, &wdb);
    int allow_ok = 0, deny_503 = 0;
    for (int i = 0; i < 4; i++) {
        allow_ok += wa[i].returned == IG_PENDING && wa[i].rc == 0 && !wa[i].r.ticket && wa[i].r.nheaders == 0;
        deny_503 += wd[i].returned == IG_PENDING && wd[i].rc == -1 && wd[i].err.status == 503 &&
                    wd[i].err.code && !strcmp(wd[i].err.code, "rate_limiter_unavailable") &&
                    strstr(wd[i].err.msg, "rate limiter unavailable: redis 127.0.0.1:") && wd[i].r.retry_after_s == 1;
    }
    CHECKF(allow_ok == 4 && deny_503 == 4, "Redis killed under waiting admissions: allow %d/4, deny %d/4 (%s)", allow_ok,
           deny_503, wd[0].err.msg);
    treq_t now_a, now_d;
    admit_one(s3, &now_a, &free_model);
    admit_one(s4, &now_d, &free_model);
    CHECKF(now_a.returned == 0 && now_d.returned == -1 && now_d.err.status == 503,
           "during the backoff: allow returned %d, deny %d (%s)", now_a.returned, now_d.returned, now_d.err.msg);
    CHECK(logged("admitting unlimited") && logged("refusing"));

    /* Redis back on the same port: the next attempt after the backoff connects again */
    *pid2 = redis_start(port2, NULL);
    if (CHECK(*pid2 > 0)) {
        int reconnected = 0;
        for (int i = 0; i < 400 && !reconnected; i++) {
            treq_t t;
            admit_wait(s4, &t, &free_model);
            reconnected = t.returned == IG_PENDING && t.rc == 0 && t.r.ticket;
            if (!reconnected)
                nap(25);
        }
        CHECK(reconnected);
    }
    infergate_plugin.fini(s3);
    infergate_plugin.fini(s4);

    /* a server that accepts and never answers: the command's deadline fails it, without blocking */
    int silent = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t salen = sizeof(sa);
    bind(silent, (struct sockaddr *)&sa, sizeof(sa));
    listen(silent, 8);
    getsockname(silent, (struct sockaddr *)&sa, &salen);
    char url3[64];
    snprintf(url3, sizeof(url3), "redis://127.0.0.1:%d", ntohs(sa.sin_port));
    void *s5 = inst_new(proc, &(opts_t){"redis", url3, prefix, "deny", 200, 0}, &err);
    treq_t ts;
    admit_wait(s5, &ts, &free_model);
    CHECKF(ts.returned == IG_PENDING && ts.rc == -1 && ts.err.status == 503 && strstr(ts.err.msg, "no answer within 200 ms"),
           "silent server: %d %d %s", ts.returned, ts.rc, ts.err.msg);
    infergate_plugin.fini(s5);
    close(silent);

    /* AUTH and SELECT; a name resolved off the loop (localhost) */
    int port3 = free_port();
    pid_t pw = redis_start(port3, "s3cret");
    if (CHECK(pw > 0)) {
        char good[96], bad[96];
        snprintf(good, sizeof(good), "redis://:s3cret@localhost:%d/2", port3);
        snprintf(bad, sizeof(bad), "redis://:wrong@localhost:%d", port3);
        void *sg = inst_new(proc, &(opts_t){"redis", good, prefix, "deny", 0, 0}, &err);
        void *sb = inst_new(proc, &(opts_t){"redis", bad, prefix, "deny", 0, 0}, &err);
        treq_t tg, tb;
        admit_wait(sg, &tg, &free_model);
        CHECKF(tg.rc == 0 && tg.r.ticket, "with AUTH: %d %s", tg.rc, tg.err.msg);
        char key[128];
        snprintf(key, sizeof(key), "%sm:barrier:rpm", prefix);
        redisReply *ex = redis_sync(port3, "s3cret", 2, "EXISTS %s", key);
        CHECKF(ex && ex->type == REDIS_REPLY_INTEGER && ex->integer == 1, "the count is not in database 2");
        freeReplyObject(ex);
        admit_wait(sb, &tb, &free_model);
        CHECKF(tb.rc == -1 && tb.err.status == 503 && (strstr(tb.err.msg, "AUTH") || strstr(tb.err.msg, "WRONGPASS") ||
                                                       strstr(tb.err.msg, "NOAUTH")),
               "wrong password: %d %s", tb.rc, tb.err.msg);
        infergate_plugin.fini(sg);
        infergate_plugin.fini(sb);
        redis_stop(pw, SIGTERM);
    }
out:
    if (s1)
        infergate_plugin.fini(s1);
    CHECKF(worker_end() == 0, "a handle was left on the loop");
}

static void test_redis(void)
{
    if (!redis_bin()) {
        printf("SKIP redis tests: /usr/bin/redis-server is not installed\n");
        return;
    }
    int port = free_port(), port2 = free_port();
    pid_t a = redis_start(port, NULL), b = redis_start(port2, NULL);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "unit-%d:", (int)getpid());
    void *proc = NULL;
    ig_error_t err = {0};
    if (CHECKF(a > 0 && b > 0, "redis-server did not start") &&
        CHECKF(infergate_plugin.load(&host, &proc, &err) == 0, "load: %s", err.msg)) {
        test_redis_calls(port, prefix);
        test_redis_eight_workers(proc, port, prefix);
        test_redis_plugin_worker(proc, port, port2, &b, prefix);
        infergate_plugin.unload(proc);
    }
    redis_stop(a, SIGTERM);
    redis_stop(b, SIGTERM); /* (killed and started again by the test) */
}

int main(void)
{
    test_window();
    test_gcra();
    test_duration();
    test_scopes_and_report();
    test_memory_exact_under_threads();
    test_memory_concurrency_and_tokens();
    test_memory_sweep();
    test_redis_url();
    test_redis();
    while (blocks) {
        blk_t *n = blocks->next;
        free(blocks);
        blocks = n;
    }
    return ig_test_summary();
}
