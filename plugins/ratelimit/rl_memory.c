/*
 * rl_memory.c — the in-process backend (see rl_memory.h for the locking).
 */
#include "rl_memory.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

#define RL_SHARDS 64
#define RL_SWEEP_EVERY_MS INT64_C(60000)
/* an entry untouched this long has nothing left in any window (the hour's last slot is gone) */
#define RL_IDLE_MS ((RL_SLOTS + 1) * RL_HOUR_SLOT_MS)

enum { W_RPM = 0, W_RPH, W_TPM, W_TPH, W_COUNT };

struct rl_entry_s {
    rl_entry_t *next;      /* hash chain, under the shard lock */
    uint32_t hash;
    atomic_int refs;       /* admissions and tickets using it; 0 lets the sweep free it */
    pthread_mutex_t mu;    /* everything below */
    int64_t last_ms;
    rl_window_t *w[W_COUNT]; /* made on first use: most scopes have one or two limits */
    int64_t tat_us;        /* GCRA state for burst */
    int64_t in_flight;
    size_t idlen;
    char id[];
};

typedef struct {
    pthread_mutex_t mu;
    rl_entry_t **buckets;
    size_t nbuckets, n;
    int64_t last_sweep_ms;
} __attribute__((aligned(64))) rl_shard_t;

struct rl_table_s {
    rl_shard_t shards[RL_SHARDS];
};

static const int64_t window_slot_ms[W_COUNT] = {RL_MINUTE_SLOT_MS, RL_HOUR_SLOT_MS, RL_MINUTE_SLOT_MS,
                                                RL_HOUR_SLOT_MS};
static const int window_limit[W_COUNT] = {RL_RPM, RL_RPH, RL_TPM, RL_TPH};

rl_table_t *rl_table_new(void)
{
    rl_table_t *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    for (int i = 0; i < RL_SHARDS; i++)
        pthread_mutex_init(&t->shards[i].mu, NULL);
    return t;
}

static void entry_free(rl_entry_t *e)
{
    for (int i = 0; i < W_COUNT; i++)
        free(e->w[i]);
    pthread_mutex_destroy(&e->mu);
    free(e);
}

void rl_table_free(rl_table_t *t)
{
    if (!t)
        return;
    for (int i = 0; i < RL_SHARDS; i++) {
        rl_shard_t *sh = &t->shards[i];
        for (size_t b = 0; b < sh->nbuckets; b++)
            for (rl_entry_t *e = sh->buckets[b], *next; e; e = next) {
                next = e->next;
                entry_free(e);
            }
        free(sh->buckets);
        pthread_mutex_destroy(&sh->mu);
    }
    free(t);
}

size_t rl_table_size(rl_table_t *t)
{
    size_t n = 0;
    for (int i = 0; i < RL_SHARDS; i++) {
        pthread_mutex_lock(&t->shards[i].mu);
        n += t->shards[i].n;
        pthread_mutex_unlock(&t->shards[i].mu);
    }
    return n;
}

/* Under the shard lock. Nobody else can hold an entry whose refs is 0: new references are only
 * taken under this lock, so it can be freed. */
static void shard_sweep(rl_shard_t *sh, int64_t now_ms)
{
    sh->last_sweep_ms = now_ms;
    for (size_t b = 0; b < sh->nbuckets; b++) {
        rl_entry_t **pp = &sh->buckets[b];
        while (*pp) {
            rl_entry_t *e = *pp;
            if (atomic_load_explicit(&e->refs, memory_order_acquire) == 0 && now_ms - e->last_ms > RL_IDLE_MS) {
                *pp = e->next;
                sh->n--;
                entry_free(e);
            } else {
                pp = &e->next;
            }
        }
    }
}

static int shard_grow(rl_shard_t *sh)
{
    size_t nb = sh->nbuckets ? sh->nbuckets * 2 : 16;
    rl_entry_t **b = calloc(nb, sizeof(*b));
    if (!b)
        return -1;
    for (size_t i = 0; i < sh->nbuckets; i++)
        for (rl_entry_t *e = sh->buckets[i], *next; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (nb - 1)];
            b[e->hash & (nb - 1)] = e;
        }
    free(sh->buckets);
    sh->buckets = b;
    sh->nbuckets = nb;
    return 0;
}

/* The entry for id, created if new, with one more reference. NULL when out of memory. */
static rl_entry_t *table_acquire(rl_table_t *t, const char *id, size_t idlen, int64_t now_ms)
{
    uint32_t h = ig_fnv1a32(IG_FNV32_OFFSET, id, idlen);
    rl_shard_t *sh = &t->shards[h % RL_SHARDS];
    pthread_mutex_lock(&sh->mu);
    if (sh->nbuckets)
        for (rl_entry_t *e = sh->buckets[(h / RL_SHARDS) & (sh->nbuckets - 1)]; e; e = e->next)
            if (e->hash == h / RL_SHARDS && e->idlen == idlen && memcmp(e->id, id, idlen) == 0) {
                atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
                pthread_mutex_unlock(&sh->mu);
                return e;
            }
    if (now_ms - sh->last_sweep_ms > RL_SWEEP_EVERY_MS)
        shard_sweep(sh, now_ms);
    rl_entry_t *e = NULL;
    if ((sh->n < sh->nbuckets * 2 || shard_grow(sh) == 0) && (e = calloc(1, sizeof(*e) + idlen)) != NULL) {
        e->hash = h / RL_SHARDS; /* the shard took the low bits; buckets use the rest */
        atomic_init(&e->refs, 1);
        pthread_mutex_init(&e->mu, NULL);
        e->last_ms = now_ms;
        e->idlen = idlen;
        memcpy(e->id, id, idlen);
        size_t b = e->hash & (sh->nbuckets - 1);
        e->next = sh->buckets[b];
        sh->buckets[b] = e;
        sh->n++;
    }
    pthread_mutex_unlock(&sh->mu);
    return e;
}

static void entry_release(rl_entry_t *e)
{
    atomic_fetch_sub_explicit(&e->refs, 1, memory_order_release);
}

/* Under e->mu. The window for w, made on first use; NULL when out of memory. */
static rl_window_t *entry_window(rl_entry_t *e, int w)
{
    if (!e->w[w] && (e->w[w] = malloc(sizeof(rl_window_t))) != NULL)
        rl_window_init(e->w[w]);
    return e->w[w];
}

/* Under e->mu: what every limit of the scope looks like at now_ms. */
static void entry_observe(rl_entry_t *e, rl_obs_t *obs, int64_t now_ms)
{
    for (int w = 0; w < W_COUNT; w++) {
        rl_obs_t *o = &obs[window_limit[w]];
        if (o->limit < 0)
            continue;
        if (e->w[w])
            rl_window_observe(e->w[w], now_ms, window_slot_ms[w], o);
        else
            o->used = o->reset_ms = o->retry_ms = 0;
    }
    rl_obs_t *b = &obs[RL_BURST];
    if (b->limit >= 0)
        rl_gcra_observe(e->tat_us, now_ms * 1000, rl_gcra_interval_us(obs[RL_RPM].limit), b);
    rl_obs_t *c = &obs[RL_CONC];
    if (c->limit >= 0) {
        c->used = e->in_flight;
        c->reset_ms = 0;
        c->retry_ms = c->used >= c->limit ? 1000 : 0; /* a slot frees when a request ends: unknown */
    }
}

/* Under e->mu: count one admitted request. 0, or -1 when a window could not be made. */
static int entry_take(rl_entry_t *e, const rl_obs_t *obs, int64_t now_ms, unsigned *flags)
{
    *flags = 0;
    for (int w = W_RPM; w <= W_RPH; w++) {
        if (obs[window_limit[w]].limit < 0)
            continue;
        rl_window_t *win = entry_window(e, w);
        if (!win)
            return -1;
        rl_window_add(win, now_ms, window_slot_ms[w], 1);
    }
    if (obs[RL_TPM].limit >= 0)
        *flags |= RL_CHARGE_TPM;
    if (obs[RL_TPH].limit >= 0)
        *flags |= RL_CHARGE_TPH;
    if (obs[RL_BURST].limit >= 0)
        e->tat_us = rl_gcra_take(e->tat_us, now_ms * 1000, rl_gcra_interval_us(obs[RL_RPM].limit));
    if (obs[RL_CONC].limit >= 0) {
        e->in_flight++;
        *flags |= RL_HOLD_CONC;
    }
    e->last_ms = now_ms;
    return 0;
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(rl_entry_t *const *)a, y = (uintptr_t)*(rl_entry_t *const *)b;
    return x < y ? -1 : x > y;
}

int rl_memory_admit(rl_table_t *t, rl_view_t *v, int64_t now_ms, rl_mem_ticket_t *tk)
{
    memset(tk, 0, sizeof(*tk));
    rl_entry_t *locked[RL_MAX_SCOPES];
    for (size_t s = 0; s < v->n; s++) {
        tk->entry[s] = table_acquire(t, v->scopes[s].id, v->scopes[s].idlen, now_ms);
        if (!tk->entry[s]) {
            for (size_t j = 0; j < s; j++)
                entry_release(tk->entry[j]);
            return -1;
        }
        locked[s] = tk->entry[s];
    }
    tk->n = v->n;
    qsort(locked, v->n, sizeof(locked[0]), by_address);
    for (size_t s = 0; s < v->n; s++)
        pthread_mutex_lock(&locked[s]->mu);
    for (size_t s = 0; s < v->n; s++)
        entry_observe(tk->entry[s], v->obs[s], now_ms);
    v->now_ms = now_ms;
    int admitted = !rl_view_over(v);
    if (admitted)
        for (size_t s = 0; s < v->n; s++)
            if (entry_take(tk->entry[s], v->obs[s], now_ms, &tk->flags[s]) != 0)
                admitted = -1; /* out of memory half-way: counted where it could, admitted anyway below */
    for (size_t s = v->n; s-- > 0;)
        pthread_mutex_unlock(&locked[s]->mu);
    if (admitted == 0) {
        for (size_t s = 0; s < v->n; s++)
            entry_release(tk->entry[s]);
        tk->n = 0;
        return 0;
    }
    return 1;
}

void rl_memory_complete(rl_table_t *t, rl_mem_ticket_t *tk, int64_t now_ms, int64_t tokens)
{
    (void)t;
    for (size_t s = 0; s < tk->n; s++) {
        rl_entry_t *e = tk->entry[s];
        unsigned f = tk->flags[s];
        if (f) {
            pthread_mutex_lock(&e->mu);
            for (int w = W_TPM; w <= W_TPH; w++) {
                if (!(f & (w == W_TPM ? RL_CHARGE_TPM : RL_CHARGE_TPH)) || tokens <= 0)
                    continue;
                rl_window_t *win = entry_window(e, w);
                if (win)
                    rl_window_add(win, now_ms, window_slot_ms[w], tokens);
            }
            if (f & RL_HOLD_CONC)
                e->in_flight--;
            e->last_ms = now_ms;
            pthread_mutex_unlock(&e->mu);
        }
        entry_release(e);
    }
    tk->n = 0;
}

/* The entry for id with one more reference, or NULL when there is none (nothing is made). */
static rl_entry_t *table_find(rl_table_t *t, const char *id, size_t idlen)
{
    uint32_t h = ig_fnv1a32(IG_FNV32_OFFSET, id, idlen);
    rl_shard_t *sh = &t->shards[h % RL_SHARDS];
    rl_entry_t *found = NULL;
    pthread_mutex_lock(&sh->mu);
    if (sh->nbuckets)
        for (rl_entry_t *e = sh->buckets[(h / RL_SHARDS) & (sh->nbuckets - 1)]; e && !found; e = e->next)
            if (e->hash == h / RL_SHARDS && e->idlen == idlen && memcmp(e->id, id, idlen) == 0) {
                atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
                found = e;
            }
    pthread_mutex_unlock(&sh->mu);
    return found;
}

void rl_memory_peek(rl_table_t *t, rl_view_t *v, int64_t now_ms)
{
    for (size_t s = 0; s < v->n; s++) {
        rl_entry_t *e = table_find(t, v->scopes[s].id, v->scopes[s].idlen);
        if (!e) {
            for (int k = 0; k < RL_NLIMITS; k++)
                v->obs[s][k].used = v->obs[s][k].reset_ms = v->obs[s][k].retry_ms = 0;
            continue;
        }
        pthread_mutex_lock(&e->mu);
        entry_observe(e, v->obs[s], now_ms);
        pthread_mutex_unlock(&e->mu);
        entry_release(e);
    }
    v->now_ms = now_ms;
}
