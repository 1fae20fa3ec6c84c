/*
 * prefixhash — load-balancing strategy: Consistent Hashing with Bounded Loads
 * (CHWBL), as KubeAI's PrefixHash defines it.
 *
 * Key:  adapter + the first prefixCharLength characters of the prompt prefix,
 *       or adapter + the Routing-Key header when the client sent one.
 *       No prefix and no routing key: least load (like leastload).
 * Ring: `replication` virtual nodes per endpoint, each at hash(url + decimal i).
 *       The request goes to the first endpoint met walking clockwise from
 *       hash(key) whose load stays within the bound, KubeAI's check:
 *           total == 0  ||  in_flight + 1 <= meanLoadFactor/100 * (total + 1) / n
 *       (n and total over the candidates offered to pick). If every endpoint
 *       fails the bound, the least loaded one wins, ties going to the earliest
 *       one on the walk (so affinity survives when all loads are equal).
 *
 * The ring of a candidate set is never materialised. Walking a ring clockwise
 * from a point h meets the endpoints in the order of their *own* first virtual
 * node at or after h. So each endpoint keeps its `replication` points sorted
 * (computed once per endpoint URL), and a pick does one binary search per
 * candidate: the clockwise distance from h to that endpoint's next point. The
 * walk is the candidates sorted by that distance. This is exactly the ring of
 * the candidate set, for any subset of the model's endpoints, with nothing to
 * rebuild or invalidate when the set changes: a key moves only when its nearest
 * point belonged to the endpoint that left (or the one that joined now has a
 * nearer point).
 *
 * Threads: pick runs concurrently on every worker thread. The only shared
 * mutable state is a per-model, insert-only, open-addressing table of
 * per-endpoint point arrays, keyed by endpoint (address and URL). An entry is immutable once published (CAS with
 * release, loads with acquire) and freed only in model_free, when no pick of
 * that configuration generation can run any more: no locks, no reference
 * counts, no deferred reclamation. The table holds PH_SLOTS endpoint URLs; a
 * model that has seen more (replicas churning for a long time) computes the
 * missing arrays per pick into a temporary buffer instead of growing.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"
#include "util/hash.h"

#define PH_SLOTS 1024       /* endpoint URLs whose points a model caches; a power of two */
#define PH_STACK_CANDS 64   /* candidates handled without malloc */

/* ---- hashing: FNV-1a 64 over the bytes, then a 64-bit avalanche finaliser (util/hash.h) ------ */

/* A point of endpoint `url` on the ring: hash(url + decimal replica), KubeAI's "%s%d". */
static uint64_t point_hash(const char *url, size_t url_len, uint32_t replica)
{
    char digits[12];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + replica % 10);
        replica /= 10;
    } while (replica);
    uint64_t h = ig_fnv1a64(IG_FNV64_OFFSET, url, url_len);
    while (nd)
        h = ig_fnv1a64_step(h, (unsigned char)digits[--nd]);
    return ig_fmix64(h);
}

/* ---- the request's key --------------------------------------------------------------------- */

/*
 * Feeds the first `limit` characters of the prompt prefix into h. The core hands the prefix as text
 * (JSON escapes decoded, valid UTF-8): a character is one Unicode code point, as Go's runes in KubeAI,
 * and hashes as its UTF-8 bytes, so the bytes of a multi-byte sequence belong to the character their
 * lead byte started. Arbitrary bytes (not expected) are hashed as they come, never read past n.
 */
static uint64_t hash_prefix(uint64_t h, const unsigned char *s, size_t n, uint64_t limit)
{
    uint64_t chars = 0;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80 && chars++ == limit) /* ASCII or a lead byte: a new character */
            break;
        h = ig_fnv1a64_step(h, s[i]);
    }
    return h;
}

/* Adapter, a separator no UTF-8 text contains, then the routing key or the prompt prefix. */
static uint64_t request_key(const ig_lb_request_t *req, uint64_t prefix_chars)
{
    uint64_t h = ig_fnv1a64(IG_FNV64_OFFSET, req->adapter.ptr, req->adapter.len);
    h = ig_fnv1a64_step(h, 0xFF);
    if (req->routing_key.len > 0)
        h = ig_fnv1a64(h, req->routing_key.ptr, req->routing_key.len);
    else
        h = hash_prefix(h, (const unsigned char *)req->prefix.ptr, req->prefix.len, prefix_chars);
    return ig_fmix64(h);
}

/* ---- per-endpoint points, cached per model ------------------------------------------------- */

typedef struct {
    const ig_endpoint_t *ep; /* the endpoint this was built for (with url: the table's key) */
    uint64_t url_hash;       /* orders endpoints that share a point, the same on every thread */
    char *url;
    uint32_t n;
    uint64_t pts[]; /* sorted ascending */
} ph_points_t;

typedef struct {
    uint32_t load_factor;  /* meanLoadFactor, percent */
    uint32_t replication;
    uint32_t prefix_chars; /* prefixCharLength */
    atomic_uint next;      /* least-load tie rotation */
    _Atomic(ph_points_t *) slots[PH_SLOTS];
} ph_model_t;

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static ph_points_t *points_build(const ig_endpoint_t *ep, const char *url, uint32_t replication)
{
    size_t len = strlen(url);
    ph_points_t *p = malloc(sizeof(*p) + sizeof(uint64_t) * replication + len + 1);
    if (p == NULL)
        return NULL;
    p->ep = ep;
    p->url_hash = ig_fmix64(ig_fnv1a64(IG_FNV64_OFFSET, url, len));
    p->n = replication;
    p->url = (char *)(p->pts + replication);
    memcpy(p->url, url, len + 1);
    for (uint32_t i = 0; i < replication; i++)
        p->pts[i] = point_hash(url, len, i);
    qsort(p->pts, replication, sizeof(uint64_t), cmp_u64);
    return p;
}

/*
 * The points of endpoint ep (whose URL is url): from the table, or built and published there.
 * The table is probed from a hash of the endpoint's address (no need to hash the URL on every
 * pick) and an entry matches when both the address and the URL are equal, so an address reused
 * for another URL gets its own entry. When the table is full the array is built for this pick
 * only and *tmp is set, to be freed by the caller. NULL = no memory.
 */
static const ph_points_t *points_get(ph_model_t *m, const ig_endpoint_t *ep, const char *url, ph_points_t **tmp)
{
    uint64_t slot0 = ig_fmix64((uint64_t)(uintptr_t)ep);
    size_t mask = PH_SLOTS - 1;
    ph_points_t *built = NULL;
    for (size_t probe = 0; probe < PH_SLOTS; probe++) {
        _Atomic(ph_points_t *) *slot = &m->slots[(slot0 + probe) & mask];
        ph_points_t *cur = atomic_load_explicit(slot, memory_order_acquire);
        while (cur == NULL) {
            if (built == NULL && (built = points_build(ep, url, m->replication)) == NULL)
                return NULL;
            if (atomic_compare_exchange_strong_explicit(slot, &cur, built, memory_order_acq_rel,
                                                        memory_order_acquire))
                return built;
            /* another thread filled the slot first: cur is its entry, check it below */
        }
        if (cur->ep == ep && strcmp(cur->url, url) == 0) {
            if (built != NULL)
                free(built); /* lost a race for the same endpoint */
            return cur;
        }
    }
    if (built == NULL)
        built = points_build(ep, url, m->replication);
    *tmp = built;
    return built;
}

/* Clockwise distance from h to the endpoint's first point at or after h (wrapping). */
static uint64_t ring_distance(const ph_points_t *p, uint64_t h)
{
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->pts[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    uint64_t pt = lo < p->n ? p->pts[lo] : p->pts[0];
    return pt - h; /* mod 2^64: past the top it wraps to the lowest point */
}

/* ---- picking ------------------------------------------------------------------------------- */

static int least_loaded(const ig_host_t *host, ph_model_t *m, ig_endpoint_t *const *c, size_t n)
{
    size_t start = atomic_fetch_add_explicit(&m->next, 1, memory_order_relaxed) % n;
    size_t best = start;
    uint32_t best_load = UINT32_MAX;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        uint32_t load = host->endpoint_in_flight(c[i]);
        if (load < best_load) {
            best_load = load;
            best = i;
        }
    }
    return (int)best;
}

typedef struct {
    uint64_t dist;
    uint64_t tie; /* url hash: orders endpoints sharing a point the same way on every thread */
    uint32_t load;
    uint32_t index;
} ph_cand_t;

static int cand_before(const ph_cand_t *a, const ph_cand_t *b)
{
    if (a->dist != b->dist)
        return a->dist < b->dist;
    if (a->tie != b->tie)
        return a->tie < b->tie;
    return a->index < b->index;
}

static int ph_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c,
                   size_t n)
{
    const ig_host_t *host = state;
    ph_model_t *m = model->lb_model_state;
    if (n == 0)
        return -1;
    if (n == 1)
        return 0;
    if (req->prefix.len == 0 && req->routing_key.len == 0)
        return least_loaded(host, m, c, n);

    ph_cand_t stack[PH_STACK_CANDS], *cand = stack;
    if (n > PH_STACK_CANDS && (cand = malloc(n * sizeof(*cand))) == NULL)
        return least_loaded(host, m, c, n);

    uint64_t h = request_key(req, m->prefix_chars);
    uint64_t total = 0;
    int ok = 1;
    for (size_t i = 0; i < n && ok; i++) {
        ph_points_t *tmp = NULL;
        const ph_points_t *p = points_get(m, c[i], host->endpoint_url(c[i]), &tmp);
        if (p == NULL) {
            ok = 0;
            break;
        }
        /* insertion sort by clockwise distance: n is small */
        ph_cand_t x = {ring_distance(p, h), p->url_hash, host->endpoint_in_flight(c[i]), (uint32_t)i};
        if (tmp != NULL)
            free(tmp);
        size_t j = i;
        while (j > 0 && cand_before(&x, &cand[j - 1])) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = x;
        total += x.load;
    }
    int pick = -1;
    if (!ok) {
        pick = least_loaded(host, m, c, n);
    } else {
        /* KubeAI's chwblLoadOK in integers: load + 1 <= factor/100 * (total + 1) / n */
        uint64_t bound = (uint64_t)m->load_factor * (total + 1);
        size_t fallback = 0;
        for (size_t k = 0; k < n; k++) {
            if (total == 0 || ((uint64_t)cand[k].load + 1) * 100 * n <= bound) {
                pick = (int)cand[k].index;
                break;
            }
            if (cand[k].load < cand[fallback].load)
                fallback = k;
        }
        if (pick < 0)
            pick = (int)cand[fallback].index;
    }
    if (cand != stack)
        free(cand);
    return pick;
}

/* ---- plugin and model life cycle ----------------------------------------------------------- */

static int ph_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = (void *)host;
    return 0;
}

static void ph_fini(void *state)
{
}

/* loadBalancing.prefixHash */
typedef struct {
    int64_t mean_load_factor, replication, prefix_char_length;
} ph_options_t;

static const ig_option_decl_t ph_model_options[] = {
    {"meanLoadFactor", IG_OPT_INT, "125", "percent of the mean load an endpoint may carry before the ring walk skips it",
     100, 100000, offsetof(ph_options_t, mean_load_factor)},
    {"replication", IG_OPT_INT, "256", "virtual nodes per endpoint on the hash ring", 1, 65536,
     offsetof(ph_options_t, replication)},
    /* the core hands at most IG_LB_PREFIX_MAX bytes of prefix: 1024 characters fit whatever their width */
    {"prefixCharLength", IG_OPT_INT, "100", "characters of the prompt prefix hashed (Unicode code points)", 1,
     IG_LB_PREFIX_MAX / 4, offsetof(ph_options_t, prefix_char_length)},
    {NULL},
};

static int ph_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    const ph_options_t *o = model->lb_options;
    ph_model_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return host->error(err, "out of memory");
    m->load_factor = o ? (uint32_t)o->mean_load_factor : 125;
    m->replication = o ? (uint32_t)o->replication : 256;
    m->prefix_chars = o ? (uint32_t)o->prefix_char_length : 100;
    if (m->load_factor < 100 || m->replication < 1 || m->prefix_chars < 1) {
        free(m);
        return host->error(err, "loadBalancing.prefixHash: meanLoadFactor must be >= 100, replication and "
                                "prefixCharLength >= 1");
    }
    model->lb_model_state = m;
    return 0;
}

static void ph_model_free(void *state, ig_model_t *model)
{
    ph_model_t *m = model->lb_model_state;
    if (m == NULL)
        return;
    for (size_t i = 0; i < PH_SLOTS; i++)
        free(atomic_load_explicit(&m->slots[i], memory_order_relaxed));
    free(m);
    model->lb_model_state = NULL;
}

static const ig_lb_vtable_t ph_vtable = {
    .size = sizeof(ig_lb_vtable_t),
    .model_init = ph_model_init,
    .model_free = ph_model_free,
    .pick = ph_pick,
};

static const char *const ph_aliases[] = {"PrefixHash", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "prefixhash",
    .kind = IG_PLUGIN_LB,
    .version = "0.1.0",
    .description = "consistent hashing with bounded loads on adapter + prompt prefix (or Routing-Key)",
    .aliases = ph_aliases,
    .model_options = ph_model_options,
    .model_options_size = sizeof(ph_options_t),
    .model_options_key = "prefixHash",
    .init = ph_init,
    .fini = ph_fini,
    .vtable = &ph_vtable,
};
