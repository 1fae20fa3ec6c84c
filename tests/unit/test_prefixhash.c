/*
 * test_prefixhash.c — the PrefixHash strategy (plugins/prefixhash) as the gateway
 * loads it: the built prefixhash.so is dlopen'ed and driven through its
 * descriptor with a fake host whose endpoints (URL, in-flight count) the test
 * controls. Also a few checks of the Random baseline (random.so).
 *
 * Properties checked: the descriptor (options, key, alias); same key → same
 * endpoint, whatever the candidates' order; an even spread over 4 endpoints;
 * removing one of 4 endpoints moves only its own keys (about a quarter) and
 * adding it back restores every key; the load bound, and that skipping an
 * overloaded endpoint is the same as walking the ring without it; Routing-Key
 * replaces the prefix; no key → least load with rotated ties; the adapter is
 * part of the key; the prefix is cut after prefixCharLength characters (code
 * points of the text the core decoded; every key is the one the plugin gave
 * when it decoded JSON escapes itself); more candidates than the plugin's stack
 * buffer; more endpoint URLs than its per-model table; concurrent picks.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include "infergate/plugin.h"
#include "util/hex.h"
#include "util/json.h"
#include "ig_test.h"
#include "test_host.h"

/* The plugin's source is also compiled in (its descriptor renamed), only so that the reference
 * ring below can use the plugin's own hash functions; every pick goes through the dlopen'ed .so. */
#define infergate_plugin prefixhash_source_descriptor
#include "../../plugins/prefixhash/prefixhash.c"
#undef infergate_plugin

/* The fake endpoint: the plugin only ever sees it through the host table. */
struct ig_endpoint_s {
    char url[64];
    uint32_t in_flight;
};

static const char *fake_url(const ig_endpoint_t *ep) { return ep->url; }
static uint32_t fake_in_flight(const ig_endpoint_t *ep) { return ep->in_flight; }
static int fake_healthy(const ig_endpoint_t *ep) { return 1; }
static const ig_host_t host = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_host_t),
    .log = test_host_log,
    .error = test_host_error,
    .now_ms = test_host_now_ms,
    .endpoint_url = fake_url,
    .endpoint_in_flight = fake_in_flight,
    .endpoint_healthy = fake_healthy,
};

typedef struct {
    void *dl;
    const ig_plugin_t *d;
    const ig_lb_vtable_t *vt;
    void *state;
} plugin_t;

static int plugin_load(plugin_t *p, const char *path)
{
    memset(p, 0, sizeof(*p));
    p->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!CHECKF(p->dl != NULL, "dlopen %s: %s", path, dlerror()))
        return -1;
    p->d = dlsym(p->dl, IG_PLUGIN_SYMBOL);
    if (!CHECK(p->d != NULL) || !CHECK(p->d->abi_version == IG_PLUGIN_ABI_VERSION) || !CHECK(p->d->kind == IG_PLUGIN_LB))
        return -1;
    p->vt = p->d->vtable;
    ig_error_t err = {{0}};
    return CHECKF(p->d->init(&host, NULL, &p->state, &err) == 0, "init: %s", err.msg) ? 0 : -1;
}

static void plugin_unload(plugin_t *p)
{
    if (p->d)
        p->d->fini(p->state);
    if (p->dl)
        dlclose(p->dl);
}

/* A model with the given prefixHash options (0 = the declared default). */
typedef struct {
    ig_model_t model;
    _Alignas(max_align_t) unsigned char opts[256]; /* the plugin's model_options struct */
} model_t;

/* Writes v where the plugin declares option name (as the core's config map would). */
static void set_option(plugin_t *p, model_t *m, const char *name, int64_t v)
{
    for (const ig_option_decl_t *o = p->d->model_options; o && o->name; o++)
        if (strcmp(o->name, name) == 0 && CHECK(o->offset + sizeof(v) <= sizeof(m->opts)))
            memcpy(m->opts + o->offset, &v, sizeof(v));
}

static void set_options(plugin_t *p, model_t *m, int64_t factor, int64_t replication, int64_t chars)
{
    CHECK(p->d->model_options_size <= sizeof(m->opts));
    set_option(p, m, "meanLoadFactor", factor);
    set_option(p, m, "replication", replication);
    set_option(p, m, "prefixCharLength", chars);
    m->model.lb_options = m->opts;
}

static int model_init(plugin_t *p, model_t *m, int64_t factor, int64_t replication, int64_t chars)
{
    memset(m, 0, sizeof(*m));
    m->model.name = "m";
    set_options(p, m, factor ? factor : 125, replication ? replication : 256, chars ? chars : 100);
    ig_error_t err = {{0}};
    return CHECKF(p->vt->model_init(&host, p->state, &m->model, &err) == 0, "model_init: %s", err.msg) ? 0 : -1;
}

static void model_free(plugin_t *p, model_t *m)
{
    p->vt->model_free(p->state, &m->model);
}

static ig_str_t S(const char *s)
{
    return (ig_str_t){s, strlen(s)};
}

/* Picks among cands and returns the chosen endpoint (NULL on a bad index). */
static ig_endpoint_t *pick(plugin_t *p, model_t *m, const char *adapter, const char *prefix, const char *rk,
                           ig_endpoint_t *const *cands, size_t n)
{
    ig_lb_request_t req = {.api = IG_API_CHAT_COMPLETIONS, .adapter = S(adapter), .prefix = S(prefix),
                           .routing_key = S(rk)};
    int i = p->vt->pick(p->state, &m->model, &req, cands, n);
    return i >= 0 && (size_t)i < n ? cands[i] : NULL;
}

static void key_text(char *buf, size_t size, int i)
{
    snprintf(buf, size, "conversation %d: You are a helpful assistant. Tell me about topic #%d.", i, i * 7919);
}

static ig_endpoint_t eps[8];

static void reset_endpoints(void)
{
    for (int i = 0; i < 8; i++) {
        snprintf(eps[i].url, sizeof(eps[i].url), "http://10.0.0.%d:8000", i + 1);
        eps[i].in_flight = 0;
    }
}

#define NKEYS 20000

static int index_of(ig_endpoint_t *e)
{
    return e ? (int)(e - eps) : -1;
}

/* ---- descriptor -------------------------------------------------------------------------- */

static void test_descriptor(plugin_t *p)
{
    const ig_plugin_t *d = p->d;
    CHECK(strcmp(d->name, "prefixhash") == 0);
    CHECK(d->aliases && d->aliases[0] && strcmp(d->aliases[0], "PrefixHash") == 0);
    CHECK(d->model_options_key && strcmp(d->model_options_key, "prefixHash") == 0);
    const ig_option_decl_t *o = d->model_options;
    if (!CHECK(o != NULL))
        return;
    const char *names[] = {"meanLoadFactor", "replication", "prefixCharLength"};
    const char *defaults[] = {"125", "256", "100"};
    for (int i = 0; i < 3; i++) {
        CHECKF(o[i].name && strcmp(o[i].name, names[i]) == 0, "option %d is %s", i, o[i].name);
        CHECKF(o[i].type == IG_OPT_INT && o[i].default_value && strcmp(o[i].default_value, defaults[i]) == 0,
               "option %s default", names[i]);
    }
    CHECK(o[0].min == 100); /* KubeAI: Minimum=100 */
    CHECK(o[3].name == NULL);
}

/* ---- stability and spread ----------------------------------------------------------------- */

static void test_stable_and_even(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 0, 0, 0) != 0)
        return;
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    ig_endpoint_t *rev[4] = {&eps[3], &eps[2], &eps[1], &eps[0]};
    int counts[4] = {0};
    int unstable = 0, order_dependent = 0;
    char k[160];
    for (int i = 0; i < NKEYS; i++) {
        key_text(k, sizeof(k), i);
        ig_endpoint_t *a = pick(p, &m, "", k, "", c4, 4);
        ig_endpoint_t *b = pick(p, &m, "", k, "", c4, 4);
        ig_endpoint_t *r = pick(p, &m, "", k, "", rev, 4);
        unstable += a != b;
        order_dependent += a != r;
        if (index_of(a) >= 0 && index_of(a) < 4)
            counts[index_of(a)]++;
    }
    CHECKF(unstable == 0, "%d keys changed endpoint between two picks", unstable);
    CHECKF(order_dependent == 0, "%d keys depend on the candidates' order", order_dependent);
    /*
     * Bound: with R = 256 virtual nodes per endpoint, an endpoint's share of the ring has a relative
     * standard deviation of about 1/sqrt(R) = 6.25% (the sum of R arc lengths, each roughly
     * exponential); sampling 20000 keys adds sqrt(p(1-p)/N)/p = 1.2%. ±25% of the mean is about
     * four standard deviations: a correct ring passes, a broken hash (everything on one or two
     * endpoints, or modulo-like clustering) fails.
     */
    for (int e = 0; e < 4; e++)
        CHECKF(counts[e] > NKEYS / 4 * 3 / 4 && counts[e] < NKEYS / 4 * 5 / 4, "endpoint %d got %d of %d keys", e,
               counts[e], NKEYS);
    printf("spread over 4 endpoints (R=256, %d keys): %d %d %d %d\n", NKEYS, counts[0], counts[1], counts[2],
           counts[3]);
    model_free(p, &m);
}

static void test_membership_change(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 0, 0, 0) != 0)
        return;
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    ig_endpoint_t *c3[3] = {&eps[0], &eps[1], &eps[3]}; /* eps[2] leaves */
    ig_endpoint_t *c5[5] = {&eps[0], &eps[1], &eps[2], &eps[3], &eps[4]}; /* eps[4] joins */
    static signed char before[NKEYS];
    int moved = 0, wrongly_moved = 0, on_leaver = 0, restored = 0, joined = 0, joined_wrong = 0;
    char k[160];
    for (int i = 0; i < NKEYS; i++) {
        key_text(k, sizeof(k), i);
        before[i] = (signed char)index_of(pick(p, &m, "", k, "", c4, 4));
    }
    for (int i = 0; i < NKEYS; i++) {
        key_text(k, sizeof(k), i);
        int now = index_of(pick(p, &m, "", k, "", c3, 3));
        if (before[i] == 2) {
            on_leaver++;
            moved++;
        } else if (now != before[i]) {
            wrongly_moved++;
        }
    }
    CHECKF(wrongly_moved == 0, "%d keys of the staying endpoints moved when one endpoint left", wrongly_moved);
    /* the leaver held about a quarter (same bound as the spread test) */
    CHECKF(moved > NKEYS / 4 * 3 / 4 && moved < NKEYS / 4 * 5 / 4, "%d of %d keys moved", moved, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        key_text(k, sizeof(k), i);
        restored += index_of(pick(p, &m, "", k, "", c4, 4)) == before[i];
    }
    CHECKF(restored == NKEYS, "%d of %d keys back on their endpoint after it rejoined", restored, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        key_text(k, sizeof(k), i);
        int now = index_of(pick(p, &m, "", k, "", c5, 5));
        if (now == 4)
            joined++;
        else if (now != before[i])
            joined_wrong++;
    }
    CHECKF(joined_wrong == 0, "%d keys moved between old endpoints when a fifth joined", joined_wrong);
    CHECKF(joined > NKEYS / 5 * 3 / 4 && joined < NKEYS / 5 * 5 / 4, "the new endpoint took %d of %d keys", joined,
           NKEYS);
    printf("one of 4 leaves: %d keys moved (all from the leaver); a 5th joins: it takes %d\n", moved, joined);
    model_free(p, &m);
}

/* ---- against an explicit ring --------------------------------------------------------------- */

typedef struct {
    uint64_t point;
    int owner;
} ref_node_t;

static int ref_cmp(const void *a, const void *b)
{
    const ref_node_t *x = a, *y = b;
    return x->point < y->point ? -1 : x->point > y->point;
}

/* The textbook ring: every virtual node of every endpoint in one sorted array, binary search for
 * the first node at or after the key, wrap at the end. Without load, the plugin's per-endpoint
 * search must agree with it for every key and every subset of endpoints. */
static void test_reference_ring(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 0, 0, 0) != 0)
        return;
    reset_endpoints();
    static ref_node_t ring[4 * 256];
    const int subsets[][4] = {{0, 1, 2, 3}, {0, 1, 3, -1}, {1, 2, -1, -1}, {3, 0, 2, -1}};
    char k[160];
    int disagree = 0, wrapped = 0;
    for (size_t s = 0; s < sizeof(subsets) / sizeof(subsets[0]); s++) {
        ig_endpoint_t *c[4];
        size_t n = 0, nodes = 0;
        for (int j = 0; j < 4 && subsets[s][j] >= 0; j++) {
            ig_endpoint_t *e = &eps[subsets[s][j]];
            c[n++] = e;
            for (uint32_t r = 0; r < 256; r++)
                ring[nodes++] = (ref_node_t){point_hash(e->url, strlen(e->url), r), subsets[s][j]};
        }
        qsort(ring, nodes, sizeof(ring[0]), ref_cmp);
        for (int i = 0; i < NKEYS; i++) {
            key_text(k, sizeof(k), i);
            ig_lb_request_t req = {.prefix = S(k)};
            uint64_t h = request_key(&req, 100);
            size_t lo = 0, hi = nodes;
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (ring[mid].point < h)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            wrapped += lo == nodes;
            int owner = ring[lo == nodes ? 0 : lo].owner;
            disagree += index_of(pick(p, &m, "", k, "", c, n)) != owner;
        }
        /* keys past the last node wrap to the first: make sure that case is exercised */
        uint64_t top = ring[nodes - 1].point + 1;
        if (top != 0) {
            /* find a key hashing above the last node by brute force over a few thousand keys */
            for (int i = NKEYS; i < NKEYS + 200000; i++) {
                key_text(k, sizeof(k), i);
                ig_lb_request_t req = {.prefix = S(k)};
                if (request_key(&req, 100) >= top) {
                    wrapped++;
                    disagree += index_of(pick(p, &m, "", k, "", c, n)) != ring[0].owner;
                    break;
                }
            }
        }
    }
    CHECKF(disagree == 0, "%d keys disagree with the explicit ring", disagree);
    CHECKF(wrapped > 0, "no key wrapped past the top of the ring");
    model_free(p, &m);
}

/* ---- bounded load ------------------------------------------------------------------------- */

static uint32_t rnd32(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}

static void test_bounded_load(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 125, 0, 0) != 0)
        return;
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    char k[160];

    /* Every pick respects load + 1 <= 1.25 * (total + 1) / n when some endpoint can; otherwise it
     * is a least-loaded endpoint. Loads are random and skewed. */
    uint64_t s = 88172645463325252ull;
    int violations = 0, not_least = 0, skipped = 0;
    for (int round = 0; round < 4000; round++) {
        uint32_t total = 0, min = UINT32_MAX;
        for (int e = 0; e < 4; e++) {
            eps[e].in_flight = rnd32(&s) % (e == 0 ? 40 : 8); /* endpoint 0 is the hot one */
            total += eps[e].in_flight;
            if (eps[e].in_flight < min)
                min = eps[e].in_flight;
        }
        key_text(k, sizeof(k), round);
        ig_endpoint_t *got = pick(p, &m, "", k, "", c4, 4);
        if (!got) {
            violations++;
            continue;
        }
        int any_ok = 0;
        for (int e = 0; e < 4; e++)
            any_ok |= total == 0 || (eps[e].in_flight + 1) * 100 * 4 <= 125 * (total + 1);
        int ok = total == 0 || (got->in_flight + 1) * 100 * 4 <= 125 * (total + 1);
        if (any_ok && !ok)
            violations++;
        if (!any_ok && got->in_flight != min)
            not_least++;
        skipped += !ok;
    }
    CHECKF(violations == 0, "%d picks broke the load bound while another endpoint was within it", violations);
    CHECKF(not_least == 0, "%d picks with every endpoint over the bound were not the least loaded", not_least);

    /* Skipping an overloaded endpoint continues the ring walk: the result equals the pick among the
     * other endpoints (the ring without it) when those are within the bound. */
    int mismatch = 0, tested = 0;
    for (int i = 0; i < 2000; i++) {
        for (int e = 0; e < 4; e++)
            eps[e].in_flight = 0;
        key_text(k, sizeof(k), i);
        ig_endpoint_t *owner = pick(p, &m, "", k, "", c4, 4);
        if (!owner)
            continue;
        owner->in_flight = 9; /* total 9: bound is 1.25 * 10 / 4 = 3.1; 10 > 3.1, the others' 1 passes */
        ig_endpoint_t *got = pick(p, &m, "", k, "", c4, 4);
        ig_endpoint_t *rest[3];
        int r = 0;
        for (int e = 0; e < 4; e++)
            if (&eps[e] != owner)
                rest[r++] = &eps[e];
        owner->in_flight = 0;
        ig_endpoint_t *without = pick(p, &m, "", k, "", rest, 3);
        mismatch += got != without || got == owner;
        tested++;
    }
    CHECKF(tested == 2000 && mismatch == 0, "%d of %d overloaded owners were not replaced by the ring's next endpoint",
           mismatch, tested);

    /* Equal loads everywhere: all over the bound at low load (1+1 > 1.25*5/4); the fallback is
     * least loaded with ties to the first on the walk, so the key keeps its endpoint. */
    int kept = 0;
    for (int i = 0; i < 1000; i++) {
        for (int e = 0; e < 4; e++)
            eps[e].in_flight = 0;
        key_text(k, sizeof(k), i);
        ig_endpoint_t *owner = pick(p, &m, "", k, "", c4, 4);
        for (int e = 0; e < 4; e++)
            eps[e].in_flight = 1;
        kept += pick(p, &m, "", k, "", c4, 4) == owner;
    }
    CHECKF(kept == 1000, "%d of 1000 keys kept their endpoint under equal load", kept);

    /* Loads {2,1,1,1}: total 5, bound 1.25 * 6 / 4 = 1.875, so every endpoint fails (2 and 3 > 1.875)
     * and the least loaded win: endpoint 0 never, whatever the key. */
    int hot_picked = 0;
    for (int i = 0; i < 1000; i++) {
        eps[0].in_flight = 2, eps[1].in_flight = 1, eps[2].in_flight = 1, eps[3].in_flight = 1;
        key_text(k, sizeof(k), i);
        hot_picked += pick(p, &m, "", k, "", c4, 4) == &eps[0];
    }
    CHECKF(hot_picked == 0, "the most loaded endpoint was the fallback for %d of 1000 keys", hot_picked);
    printf("bounded load: %d of 4000 skewed picks found every endpoint over the bound (least-loaded fallback)\n", skipped);
    reset_endpoints();
    model_free(p, &m);
}

/* ---- what the key is made of -------------------------------------------------------------- */

static void test_key_parts(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 0, 0, 0) != 0)
        return;
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    char k[160], k2[160], rk[64];

    /* Routing-Key replaces the prefix: same routing key, different prompts → same endpoint; and the
     * routing keys themselves spread. */
    int rk_diff = 0, rk_counts[4] = {0};
    for (int i = 0; i < 2000; i++) {
        snprintf(rk, sizeof(rk), "session-%d", i);
        key_text(k, sizeof(k), i);
        key_text(k2, sizeof(k2), i + 100000);
        ig_endpoint_t *a = pick(p, &m, "", k, rk, c4, 4);
        ig_endpoint_t *b = pick(p, &m, "", k2, rk, c4, 4);
        ig_endpoint_t *c = pick(p, &m, "", "", rk, c4, 4);
        rk_diff += a != b || a != c;
        if (index_of(a) >= 0 && index_of(a) < 4)
            rk_counts[index_of(a)]++;
    }
    CHECKF(rk_diff == 0, "%d routing keys did not override the prompt prefix", rk_diff);
    for (int e = 0; e < 4; e++)
        CHECKF(rk_counts[e] > 300, "routing keys: endpoint %d got only %d of 2000", e, rk_counts[e]);

    /* The adapter is part of the key: with 4 endpoints about 3/4 of keys land elsewhere. */
    int adapter_moved = 0, adapter_stable = 0;
    for (int i = 0; i < 2000; i++) {
        key_text(k, sizeof(k), i);
        ig_endpoint_t *base = pick(p, &m, "", k, "", c4, 4);
        ig_endpoint_t *sql = pick(p, &m, "sql", k, "", c4, 4);
        adapter_moved += base != sql;
        adapter_stable += sql == pick(p, &m, "sql", k, "", c4, 4);
    }
    CHECKF(adapter_moved > 1200 && adapter_moved < 1800, "adapter changed the endpoint of %d of 2000 keys",
           adapter_moved);
    CHECK(adapter_stable == 2000);
    /* also with a routing key */
    int rk_adapter_moved = 0;
    for (int i = 0; i < 2000; i++) {
        snprintf(rk, sizeof(rk), "session-%d", i);
        rk_adapter_moved += pick(p, &m, "", "", rk, c4, 4) != pick(p, &m, "sql", "", rk, c4, 4);
    }
    CHECKF(rk_adapter_moved > 1200, "adapter changed %d of 2000 routing-key endpoints", rk_adapter_moved);

    /* No key (no prefix, no routing key) → least loaded; equal loads rotate. */
    eps[0].in_flight = 3, eps[1].in_flight = 1, eps[2].in_flight = 2, eps[3].in_flight = 5;
    int least = 0;
    for (int i = 0; i < 8; i++)
        least += pick(p, &m, "", "", "", c4, 4) == &eps[1];
    CHECK(least == 8);
    least = 0;
    for (int i = 0; i < 8; i++)
        least += pick(p, &m, "sql", "", "", c4, 4) == &eps[1];
    CHECKF(least == 8, "an adapter alone is no key: %d of 8 picks least loaded", least);
    reset_endpoints();
    int seen[4] = {0};
    for (int i = 0; i < 400; i++) {
        int e = index_of(pick(p, &m, "", "", "", c4, 4));
        if (e >= 0 && e < 4)
            seen[e]++;
    }
    CHECKF(seen[0] == 100 && seen[1] == 100 && seen[2] == 100 && seen[3] == 100,
           "ties are rotated: %d %d %d %d of 400", seen[0], seen[1], seen[2], seen[3]);
    model_free(p, &m);
}

static void test_prefix_length(plugin_t *p)
{
    model_t m3, m100;
    if (model_init(p, &m3, 0, 0, 3) != 0 || model_init(p, &m100, 0, 0, 0) != 0)
        return;
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    char a[400], b[400];

    /* Only the first prefixCharLength characters count. */
    int same = 0, differs = 0;
    for (int i = 0; i < 500; i++) {
        char head[120];
        memset(head, 'x', 100);
        snprintf(head + 90, sizeof(head) - 90, "%010d", i); /* 100 chars, unique per i */
        snprintf(a, sizeof(a), "%s tail one %d", head, i);
        snprintf(b, sizeof(b), "%s different tail %d", head, i * 31);
        same += pick(p, &m100, "", a, "", c4, 4) == pick(p, &m100, "", b, "", c4, 4);
        /* one changed character inside the first 100 */
        snprintf(b, sizeof(b), "%s", a);
        b[50] = 'y';
        differs += pick(p, &m100, "", a, "", c4, 4) != pick(p, &m100, "", b, "", c4, 4);
    }
    CHECKF(same == 500, "%d of 500 prompts equal in their first 100 characters shared an endpoint", same);
    CHECKF(differs > 250, "a change inside the first 100 characters moved only %d of 500", differs);

    /* Characters, not bytes: "é" is 2 bytes; with prefixCharLength 3, "ééé" + anything is one key,
     * while "éé" + a varying third character is not (a byte count would stop after "é" + half). */
    const char *tails[] = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"};
    ig_endpoint_t *first = NULL;
    int utf8_same = 1, third_varies = 0;
    for (int i = 0; i < 16; i++) {
        snprintf(a, sizeof(a), "\xc3\xa9\xc3\xa9\xc3\xa9%s", tails[i]);
        ig_endpoint_t *e = pick(p, &m3, "", a, "", c4, 4);
        if (!first)
            first = e;
        utf8_same &= e == first;
        snprintf(b, sizeof(b), "\xc3\xa9\xc3\xa9%s-rest", tails[i]);
        third_varies |= pick(p, &m3, "", b, "", c4, 4) != pick(p, &m3, "", "\xc3\xa9\xc3\xa9" "a-rest", "", c4, 4);
    }
    CHECK(utf8_same);
    CHECK(third_varies);

    /* The core hands the text decoded; the plugin hashes what it gets: a backslash is a character
     * like any other, so an escape spelled out is not the text it stands for. */
    int escaped_differ = 0;
    for (int j = 0; j < 64; j++) {
        snprintf(a, sizeof(a), "%d caf\\u00e9 au lait", j);
        snprintf(b, sizeof(b), "%d caf\xc3\xa9 au lait", j);
        escaped_differ += pick(p, &m100, "", a, "", c4, 4) != pick(p, &m100, "", b, "", c4, 4);
    }
    CHECKF(escaped_differ > 16, "only %d of 64 spelled-out escapes moved", escaped_differ);
    /* arbitrary bytes (the core never hands them: its text is valid UTF-8) stay in bounds */
    const char *bad[] = {"\\", "abc\\", "\xff", "\x80\x80", "\xc3", "ab\xe2\x82", "\xf0\x9f\x98"};
    int bad_ok = 0;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        bad_ok += pick(p, &m100, "", bad[i], "", c4, 4) != NULL;
    CHECK(bad_ok == (int)(sizeof(bad) / sizeof(bad[0])));
    model_free(p, &m3);
    model_free(p, &m100);
}

/* ---- the key is the one the plugin gave before the core decoded the prefix ------------------ */

/*
 * How the plugin hashed before ABI 3 (it was handed the JSON text undecoded and decoded escapes
 * while hashing), kept here as the reference, as it last was (on util's hex digit and FNV-1a step):
 * for plain-ASCII and UTF-8 prefixes the key is the same bytes, and for escaped ones the core's
 * decoding (ig_json_unescape_prefix) gives the text the old plugin decoded to, so every key of a
 * validated body is unchanged.
 */
static int32_t old_u_escape(const unsigned char *s, size_t n, size_t i)
{
    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    int32_t v = 0;
    for (size_t k = 2; k < 6; k++) {
        int d = ig_hex_digit(s[i + k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static uint64_t old_fnv_utf8(uint64_t h, uint32_t cp)
{
    if (cp < 0x80)
        return ig_fnv1a64_step(h, (unsigned char)cp);
    if (cp < 0x800) {
        h = ig_fnv1a64_step(h, (unsigned char)(0xC0 | (cp >> 6)));
    } else if (cp < 0x10000) {
        h = ig_fnv1a64_step(h, (unsigned char)(0xE0 | (cp >> 12)));
        h = ig_fnv1a64_step(h, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
    } else {
        h = ig_fnv1a64_step(h, (unsigned char)(0xF0 | (cp >> 18)));
        h = ig_fnv1a64_step(h, (unsigned char)(0x80 | ((cp >> 12) & 0x3F)));
        h = ig_fnv1a64_step(h, (unsigned char)(0x80 | ((cp >> 6) & 0x3F)));
    }
    return ig_fnv1a64_step(h, (unsigned char)(0x80 | (cp & 0x3F)));
}

static uint64_t old_hash_prefix(uint64_t h, const unsigned char *s, size_t n, uint64_t limit)
{
    uint64_t chars = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '\\' && i + 1 < n) {
            if (chars == limit)
                break;
            chars++;
            unsigned char e = s[i + 1];
            int32_t u;
            switch (e) {
            case 'n': h = ig_fnv1a64_step(h, '\n'); i += 2; continue;
            case 't': h = ig_fnv1a64_step(h, '\t'); i += 2; continue;
            case 'r': h = ig_fnv1a64_step(h, '\r'); i += 2; continue;
            case 'b': h = ig_fnv1a64_step(h, '\b'); i += 2; continue;
            case 'f': h = ig_fnv1a64_step(h, '\f'); i += 2; continue;
            case 'u':
                u = old_u_escape(s, n, i);
                if (u < 0)
                    break;
                i += 6;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    int32_t lo = old_u_escape(s, n, i);
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        h = old_fnv_utf8(h, 0x10000 + (((uint32_t)u - 0xD800) << 10) + ((uint32_t)lo - 0xDC00));
                        i += 6;
                        continue;
                    }
                    u = 0xFFFD;
                } else if (u >= 0xDC00 && u <= 0xDFFF) {
                    u = 0xFFFD;
                }
                h = old_fnv_utf8(h, (uint32_t)u);
                continue;
            default:
                h = ig_fnv1a64_step(h, e);
                i += 2;
                continue;
            }
            h = ig_fnv1a64_step(h, c);
            i++;
            continue;
        }
        if ((c & 0xC0) != 0x80) {
            if (chars == limit)
                break;
            chars++;
        }
        h = ig_fnv1a64_step(h, c);
        i++;
    }
    return h;
}

static void test_same_keys_as_before(void)
{
    /* JSON string bodies (between the quotes) as a validated request carries them */
    const char *bodies[] = {
        "Hello, how are you today?",
        "Conversation 17: tell me about gateways and their load balancing",
        "",
        "x",
        "caf\xc3\xa9 au lait \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e and \xf0\x9f\x98\x80",
        "caf\\u00e9 au lait",
        "line\\nbreak\\ttab\\rret\\bback\\fform",
        "say \\\"hi\\\" \\/ \\\\",
        "smile \\ud83d\\ude00 now \\uD83D\\uDE00",
        "\\u00C9T\\u00c9 \\u65e5\\u672c",
        "mixed \xc3\xa9\\u00e9\xc3\xa9\\u00e9 end",
    };
    uint64_t limits[] = {1, 3, 7, 100, 1024};
    int same = 0, total = 0;
    char text[IG_LB_PREFIX_MAX];
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        size_t n = strlen(bodies[i]), len = 0;
        CHECK(ig_json_unescape_prefix(bodies[i], n, text, sizeof(text), &len) == 0);
        for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++) {
            uint64_t was = old_hash_prefix(IG_FNV64_OFFSET, (const unsigned char *)bodies[i], n, limits[l]);
            uint64_t now = hash_prefix(IG_FNV64_OFFSET, (const unsigned char *)text, len, limits[l]);
            CHECKF(was == now, "body %zu, %llu characters: key changed", i, (unsigned long long)limits[l]);
            same += was == now;
            total++;
        }
    }
    /* 2,000 generated ASCII prompts, byte for byte the same as before */
    char k[160];
    for (int i = 0; i < 2000; i++) {
        key_text(k, sizeof(k), i);
        same += old_hash_prefix(IG_FNV64_OFFSET, (const unsigned char *)k, strlen(k), 100) ==
                hash_prefix(IG_FNV64_OFFSET, (const unsigned char *)k, strlen(k), 100);
        total++;
    }
    CHECKF(same == total, "%d of %d keys unchanged", same, total);
}

/* ---- sizes beyond the plugin's fixed buffers ---------------------------------------------- */

static void test_many(plugin_t *p)
{
    model_t m;
    if (model_init(p, &m, 0, 16, 0) != 0)
        return;
    enum { N = 100 };
    static ig_endpoint_t many[N];
    ig_endpoint_t *c[N];
    for (int i = 0; i < N; i++) {
        snprintf(many[i].url, sizeof(many[i].url), "http://10.1.%d.%d:8000", i / 200, i % 200);
        c[i] = &many[i];
    }
    char k[160];
    int counts[N] = {0}, stable = 0;
    for (int i = 0; i < 5000; i++) {
        key_text(k, sizeof(k), i);
        ig_endpoint_t *e = pick(p, &m, "", k, "", c, N);
        if (e)
            counts[e - many]++;
        stable += e == pick(p, &m, "", k, "", c, N);
    }
    int used = 0;
    for (int i = 0; i < N; i++)
        used += counts[i] > 0;
    CHECKF(stable == 5000, "%d of 5000 stable with %d candidates", stable, N);
    CHECKF(used > N * 9 / 10, "%d of %d endpoints used", used, N);

    /* More distinct endpoint URLs than the model's table (1024): still consistent. */
    static ig_endpoint_t churn[1200];
    int churn_ok = 0;
    for (int i = 0; i < 1200; i++)
        snprintf(churn[i].url, sizeof(churn[i].url), "http://10.2.%d.%d:9000", i / 200, i % 200);
    for (int i = 0; i + 1 < 1200; i += 2) {
        ig_endpoint_t *pair[2] = {&churn[i], &churn[i + 1]};
        key_text(k, sizeof(k), i);
        ig_endpoint_t *e = pick(p, &m, "", k, "", pair, 2);
        churn_ok += e != NULL && e == pick(p, &m, "", k, "", pair, 2);
    }
    CHECKF(churn_ok == 600, "%d of 600 picks consistent past the table's capacity", churn_ok);
    /* the first 1024 URLs are cached, later ones are computed per pick: the same answer */
    ig_endpoint_t *late[2] = {&churn[1198], &churn[1199]};
    key_text(k, sizeof(k), 1);
    CHECK(pick(p, &m, "", k, "", late, 2) == pick(p, &m, "", k, "", late, 2));
    model_free(p, &m);
}

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct {
    plugin_t *p;
    model_t *m;
    int first, mismatches;
    const signed char *expect;
} thread_arg_t;

static ig_endpoint_t teps[6];

static void *thread_main(void *v)
{
    thread_arg_t *t = v;
    ig_endpoint_t *c[6];
    char k[160];
    for (int i = 0; i < 6; i++)
        c[i] = &teps[i];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 3000; i++) {
            int key = (i + t->first) % 3000;
            key_text(k, sizeof(k), key);
            ig_endpoint_t *e = pick(t->p, t->m, "", k, "", c, 6);
            t->mismatches += !e || (e - teps) != t->expect[key];
        }
    return NULL;
}

static void test_threads(plugin_t *p)
{
    model_t ref, m;
    if (model_init(p, &ref, 0, 0, 0) != 0 || model_init(p, &m, 0, 0, 0) != 0)
        return;
    for (int i = 0; i < 6; i++)
        snprintf(teps[i].url, sizeof(teps[i].url), "http://192.168.1.%d:8000", i + 10);
    ig_endpoint_t *c[6];
    for (int i = 0; i < 6; i++)
        c[i] = &teps[i];
    static signed char expect[3000];
    char k[160];
    for (int i = 0; i < 3000; i++) {
        key_text(k, sizeof(k), i);
        ig_endpoint_t *e = pick(p, &ref, "", k, "", c, 6);
        expect[i] = (signed char)(e ? e - teps : -1);
    }
    /* a fresh model: its point table is filled by the threads racing each other */
    thread_arg_t args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){p, &m, i * 750, 0, expect};
        pthread_create(&th[i], NULL, thread_main, &args[i]);
    }
    int mismatches = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        mismatches += args[i].mismatches;
    }
    CHECKF(mismatches == 0, "%d concurrent picks differed from the single-threaded ones", mismatches);
    model_free(p, &ref);
    model_free(p, &m);
}

/* ---- the Random baseline ------------------------------------------------------------------ */

typedef struct {
    plugin_t *p;
    model_t *m;
    int counts[4];
} random_arg_t;

static void *random_thread(void *v)
{
    random_arg_t *a = v;
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    for (int i = 0; i < 20000; i++) {
        int e = index_of(pick(a->p, a->m, "", "x", "", c4, 4));
        if (e >= 0 && e < 4)
            a->counts[e]++;
    }
    return NULL;
}

static void test_random(const char *path)
{
    plugin_t r;
    if (plugin_load(&r, path) != 0)
        return;
    CHECK(strcmp(r.d->name, "random") == 0);
    CHECK(r.d->aliases && strcmp(r.d->aliases[0], "Random") == 0);
    model_t m;
    memset(&m, 0, sizeof(m));
    ig_error_t err = {{0}};
    CHECK(r.vt->model_init(&host, r.state, &m.model, &err) == 0);
    reset_endpoints();
    ig_endpoint_t *c4[4] = {&eps[0], &eps[1], &eps[2], &eps[3]};
    int counts[4] = {0};
    for (int i = 0; i < 40000; i++) {
        int e = index_of(pick(&r, &m, "", "same prompt", "", c4, 4));
        if (e >= 0 && e < 4)
            counts[e]++;
    }
    /* uniform: each near 10000; sd = sqrt(40000 * 1/4 * 3/4) ≈ 87, so ±600 is about 7 sd */
    for (int e = 0; e < 4; e++)
        CHECKF(counts[e] > 9400 && counts[e] < 10600, "random: endpoint %d got %d of 40000", e, counts[e]);
    ig_lb_request_t req = {0};
    CHECK(r.vt->pick(r.state, &m.model, &req, c4, 0) == -1);
    CHECK(r.vt->pick(r.state, &m.model, &req, c4, 1) == 0);
    /* concurrent picks share the model's generator: still every pick valid and uniform */
    pthread_t th[3];
    random_arg_t args[3];
    for (int i = 0; i < 3; i++) {
        args[i] = (random_arg_t){&r, &m, {0}};
        pthread_create(&th[i], NULL, random_thread, &args[i]);
    }
    int sum[4] = {0};
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        for (int e = 0; e < 4; e++)
            sum[e] += args[i].counts[e];
    }
    /* 60000 picks: each near 15000, sd ≈ 106 */
    for (int e = 0; e < 4; e++)
        CHECKF(sum[e] > 14200 && sum[e] < 15800, "random, 3 threads: endpoint %d got %d of 60000", e, sum[e]);
    r.vt->model_free(r.state, &m.model);
    plugin_unload(&r);
}

int main(int argc, char **argv)
{
    const char *ph = argc > 1 ? argv[1] : PREFIXHASH_SO;
    const char *rnd = argc > 2 ? argv[2] : RANDOM_SO;
    plugin_t p;
    if (plugin_load(&p, ph) == 0) {
        test_descriptor(&p);
        test_stable_and_even(&p);
        test_membership_change(&p);
        test_reference_ring(&p);
        test_bounded_load(&p);
        test_key_parts(&p);
        test_prefix_length(&p);
        test_same_keys_as_before();
        test_many(&p);
        test_threads(&p);
        /* model_init refuses values below the bounds even if the core let them through */
        model_t bad;
        memset(&bad, 0, sizeof(bad));
        set_options(&p, &bad, 99, 256, 100);
        ig_error_t err = {{0}};
        CHECK(p.vt->model_init(&host, p.state, &bad.model, &err) == -1 && err.msg[0] != '\0');
    }
    plugin_unload(&p);
    test_random(rnd);
    return ig_test_summary();
}
