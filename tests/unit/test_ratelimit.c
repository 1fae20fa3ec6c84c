/*
 * test_ratelimit.c — the rate limiter's arithmetic, compiled in from plugins/ratelimit: sliding
 * windows in slots (nothing leaves early, retry and reset times), GCRA bursts, OpenAI's duration
 * format, which scope the headers describe, refusal messages, the in-process table's exactness
 * under threads, concurrency slots given back, and Redis URLs.
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

static const ig_host_t host = {.size = sizeof(ig_host_t), .abi_version = IG_PLUGIN_ABI_VERSION,
                               .palloc = fake_palloc,
                               .error = test_host_error,
                               .now_ms = test_host_now_ms,
                               .log = test_host_log};

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

/* ---- the Redis scripts against a real redis-server, when one is installed ---- */
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

typedef struct {
    rl_redis_t *rd;
    ig_model_t *m;
    atomic_int admitted;
    atomic_int seq;
    atomic_int failed;
    int attempts;
} redis_hammer_t;

static void *redis_hammer(void *arg)
{
    redis_hammer_t *h = arg;
    char err[300];
    for (int i = 0; i < h->attempts; i++) {
        ig_rl_request_t r = {.model = h->m};
        rl_view_t v;
        char ticket[32];
        snprintf(ticket, sizeof(ticket), "t%d", atomic_fetch_add(&h->seq, 1));
        rl_scopes_build(&host, &r, &v);
        int a = rl_redis_admit(h->rd, &v, ticket, err, sizeof(err));
        if (a < 0)
            atomic_fetch_add(&h->failed, 1); /* counted, not CHECKed: the test counters are not thread-safe */
        if (a == 1)
            atomic_fetch_add(&h->admitted, 1);
    }
    return NULL;
}

static void test_redis_scripts(void)
{
    const char *bin = access("/usr/bin/redis-server", X_OK) == 0 ? "/usr/bin/redis-server" : NULL;
    if (!bin) {
        printf("SKIP redis script tests: /usr/bin/redis-server is not installed\n");
        return;
    }
    int port = free_port();
    char ports[16];
    snprintf(ports, sizeof(ports), "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            dup2(null, 2);
        }
        execl(bin, bin, "--port", ports, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp",
              "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    char url_s[64], err[300];
    snprintf(url_s, sizeof(url_s), "redis://127.0.0.1:%d", port);
    rl_redis_url_t url;
    CHECK(rl_redis_parse_url(url_s, &url, err, sizeof(err)) == 0);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "unit-%d:", (int)getpid());
    rl_redis_config_t cfg = {.url = &url, .key_prefix = prefix, .timeout_ms = 500, .lease_ms = 60000, .threads = 8};
    rl_redis_t *rd = rl_redis_new(&host, &cfg);
    /* wait for the server: the connection retries once a second */
    ig_limits_t l = IG_LIMITS_NONE;
    l.requests_per_minute = 100;
    ig_model_t m = model_with(l);
    int up = 0;
    for (int i = 0; i < 50 && !up; i++) {
        ig_rl_request_t r = {.model = &m};
        rl_view_t v;
        rl_scopes_build(&host, &r, &v);
        v.scopes[0].id = "m:probe"; /* not the counted scope */
        v.scopes[0].idlen = 7;
        up = rl_redis_admit(rd, &v, "probe", err, sizeof(err)) >= 0;
        if (!up)
            usleep(100000);
    }
    if (!CHECKF(up, "redis-server on %d never answered: %s", port, err))
        goto out;
    /* 8 threads, one connection each, 1600 attempts at a limit of 100: exactly 100 */
    redis_hammer_t h = {.rd = rd, .m = &m, .attempts = 200};
    pthread_t th[8];
    for (int i = 0; i < 8; i++)
        pthread_create(&th[i], NULL, redis_hammer, &h);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    CHECK(atomic_load(&h.failed) == 0);
    CHECKF(atomic_load(&h.admitted) == 100, "redis admitted %d of 1600 with a limit of 100", atomic_load(&h.admitted));

    /* refused: the observation says why, with a wait within the window */
    ig_rl_request_t r = {.model = &m};
    rl_view_t v;
    rl_scopes_build(&host, &r, &v);
    CHECK(rl_redis_admit(rd, &v, "x", err, sizeof(err)) == 0);
    CHECK(v.obs[0][RL_RPM].used == 100 && v.obs[0][RL_RPM].retry_ms > 58000 && v.obs[0][RL_RPM].retry_ms <= 61000);
    CHECK(v.obs[0][RL_RPM].reset_ms >= v.obs[0][RL_RPM].retry_ms && v.now_ms > 0);

    /* burst 3 at 60/min, concurrency 2 and tokens on another model */
    ig_limits_t l2 = IG_LIMITS_NONE;
    l2.requests_per_minute = 60;
    l2.burst = 3;
    ig_model_t m2 = {.name = "bursty", .limits = l2};
    int ok = 0;
    for (int i = 0; i < 5; i++) {
        ig_rl_request_t r2 = {.model = &m2};
        rl_scopes_build(&host, &r2, &v);
        char t[16];
        snprintf(t, sizeof(t), "b%d", i);
        ok += rl_redis_admit(rd, &v, t, err, sizeof(err)) == 1;
    }
    CHECKF(ok == 3, "burst of 3: %d admitted", ok);
    CHECK(v.obs[0][RL_BURST].used == 3 && v.obs[0][RL_BURST].retry_ms > 0 && v.obs[0][RL_BURST].retry_ms <= 1000);

    ig_limits_t l3 = IG_LIMITS_NONE;
    l3.max_concurrent = 2;
    l3.tokens_per_hour = 100;
    ig_model_t m3 = {.name = "conc", .limits = l3};
    ig_rl_request_t r3 = {.model = &m3};
    rl_scopes_build(&host, &r3, &v);
    CHECK(rl_redis_admit(rd, &v, "c1", err, sizeof(err)) == 1);
    CHECK(rl_redis_admit(rd, &v, "c2", err, sizeof(err)) == 1);
    CHECK(rl_redis_admit(rd, &v, "c3", err, sizeof(err)) == 0 && v.obs[0][RL_CONC].used == 2);
    const char *ids[] = {v.scopes[0].id};
    size_t idlens[] = {v.scopes[0].idlen};
    unsigned flags[] = {RL_CHARGE_TPH | RL_HOLD_CONC};
    CHECKF(rl_redis_complete(rd, ids, idlens, flags, 1, "c1", 120, err, sizeof(err)) == 0, "complete: %s", err);
    /* a slot is free again, but 120 tokens >= 100 this hour */
    CHECK(rl_redis_admit(rd, &v, "c4", err, sizeof(err)) == 0);
    CHECK(v.obs[0][RL_CONC].used == 1 && v.obs[0][RL_TPH].used == 120);
    CHECK(v.obs[0][RL_TPH].retry_ms > 3540000 && v.obs[0][RL_TPH].retry_ms <= 3660000);

    /* Redis gone: a clear error, no hang beyond the timeout */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    pid = -1;
    rl_scopes_build(&host, &r3, &v);
    CHECK(rl_redis_admit(rd, &v, "c5", err, sizeof(err)) == -1 && strstr(err, "redis 127.0.0.1"));
out:
    rl_redis_free(rd);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
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
    test_redis_scripts();
    while (blocks) {
        blk_t *n = blocks->next;
        free(blocks);
        blocks = n;
    }
    return ig_test_summary();
}
