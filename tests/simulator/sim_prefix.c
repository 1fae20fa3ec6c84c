#include "sim_prefix.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "sim_config.h"
#include "sim_stats.h"
#include "sim_buf.h"
#include "util/hash.h"

#define NIL (-1)

typedef struct node {
    uint64_t key;
    int32_t prev, next; /* LRU list: head = most recently used */
    int32_t hnext;      /* hash bucket chain */
} node_t;

static struct {
    pthread_mutex_t mu;
    node_t *nodes;
    int32_t *buckets;
    uint32_t bmask;
    uint32_t cap, used;
    int32_t head, tail;
} cache = {.mu = PTHREAD_MUTEX_INITIALIZER, .head = NIL, .tail = NIL};

int sim_prefix_enabled(void) { return sim_cfg.prefix_cache_blocks > 0; }

int sim_prefix_init(void)
{
    if (!sim_prefix_enabled())
        return 0;
    uint32_t nb = 1;
    while (nb < sim_cfg.prefix_cache_blocks * 2u && nb < (1u << 30))
        nb <<= 1;
    cache.nodes = calloc(sim_cfg.prefix_cache_blocks, sizeof(node_t));
    cache.buckets = malloc(sizeof(int32_t) * nb);
    if (cache.nodes == NULL || cache.buckets == NULL)
        return -1;
    cache.bmask = nb - 1;
    cache.cap = sim_cfg.prefix_cache_blocks;
    sim_prefix_clear();
    return 0;
}

void sim_prefix_clear(void)
{
    if (!sim_prefix_enabled())
        return;
    pthread_mutex_lock(&cache.mu);
    memset(cache.buckets, 0xFF, sizeof(int32_t) * (cache.bmask + 1)); /* all NIL */
    cache.used = 0;
    cache.head = cache.tail = NIL;
    pthread_mutex_unlock(&cache.mu);
}

uint64_t sim_prefix_cached_blocks(void)
{
    if (!sim_prefix_enabled())
        return 0;
    pthread_mutex_lock(&cache.mu);
    uint64_t n = cache.used;
    pthread_mutex_unlock(&cache.mu);
    return n;
}

/* ---- the LRU (cache.mu held) ----------------------------------------------------------------- */

static int32_t find(uint64_t key)
{
    for (int32_t i = cache.buckets[key & cache.bmask]; i != NIL; i = cache.nodes[i].hnext)
        if (cache.nodes[i].key == key)
            return i;
    return NIL;
}

static void lru_unlink(int32_t i)
{
    node_t *n = &cache.nodes[i];
    if (n->prev != NIL)
        cache.nodes[n->prev].next = n->next;
    else
        cache.head = n->next;
    if (n->next != NIL)
        cache.nodes[n->next].prev = n->prev;
    else
        cache.tail = n->prev;
}

static void lru_push_front(int32_t i)
{
    node_t *n = &cache.nodes[i];
    n->prev = NIL;
    n->next = cache.head;
    if (cache.head != NIL)
        cache.nodes[cache.head].prev = i;
    cache.head = i;
    if (cache.tail == NIL)
        cache.tail = i;
}

static void hash_unlink(int32_t i)
{
    int32_t *link = &cache.buckets[cache.nodes[i].key & cache.bmask];
    while (*link != i)
        link = &cache.nodes[*link].hnext;
    *link = cache.nodes[i].hnext;
}

static void touch_or_insert(uint64_t key)
{
    int32_t i = find(key);
    if (i != NIL) {
        lru_unlink(i);
        lru_push_front(i);
        return;
    }
    if (cache.used < cache.cap) {
        i = (int32_t)cache.used++;
    } else { /* evict the least recently used block */
        i = cache.tail;
        lru_unlink(i);
        hash_unlink(i);
    }
    node_t *n = &cache.nodes[i];
    n->key = key;
    uint32_t b = (uint32_t)(key & cache.bmask);
    n->hnext = cache.buckets[b];
    cache.buckets[b] = i;
    lru_push_front(i);
}

/* ---- hashing a prompt ------------------------------------------------------------------------ */

void sim_prefix_begin(sim_prefix_hasher_t *h, const char *model, size_t model_len, uint64_t *blocks, size_t cap)
{
    uint64_t seed = ig_fnv1a64(SIM_HASH_SEED, model, model_len);
    *h = (sim_prefix_hasher_t){.parent = ig_fmix64(seed), .block_size = sim_cfg.block_size, .blocks = blocks, .cap = cap};
    h->state = h->parent;
}

void sim_prefix_token(sim_prefix_hasher_t *h, uint64_t token_hash)
{
    h->tokens++;
    h->state = ig_fnv1a64_step(h->state, token_hash);
    h->state ^= h->state >> 29;
    if (++h->in_block < h->block_size)
        return;
    uint64_t block = ig_fmix64(h->state ^ h->parent * UINT64_C(0x9e3779b97f4a7c15));
    if (h->nblocks == h->cap && !h->oom) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        uint64_t *grown = realloc(h->blocks, cap * sizeof(uint64_t));
        if (grown == NULL) {
            h->oom = 1;
        } else {
            h->blocks = grown;
            h->cap = cap;
        }
    }
    if (!h->oom)
        h->blocks[h->nblocks++] = block;
    h->parent = block;
    h->state = block;
    h->in_block = 0;
}

void sim_prefix_message(sim_prefix_hasher_t *h, const char *role, size_t role_len)
{
    uint64_t r = ig_fnv1a64(IG_FNV64_OFFSET, role, role_len);
    for (uint64_t k = 0; k < 4; k++) /* <|im_start|> role \n ... <|im_end|>: 4 template tokens */
        sim_prefix_token(h, ig_fmix64(r + k));
}

uint64_t sim_prefix_lookup(sim_prefix_hasher_t *h, uint64_t prompt_tokens)
{
    if (!sim_prefix_enabled())
        return 0;
    SIM_STAT_ADD(prefix_cache_queries, prompt_tokens);
    if (h->nblocks == 0 || prompt_tokens == 0)
        return 0;
    /* the last prompt token is always computed (its logits start the completion) */
    size_t max_hit = (size_t)((prompt_tokens - 1) / h->block_size);
    if (max_hit > h->nblocks)
        max_hit = h->nblocks;
    pthread_mutex_lock(&cache.mu);
    size_t hits = 0;
    while (hits < max_hit && find(h->blocks[hits]) != NIL)
        hits++;
    for (size_t i = h->nblocks; i-- > 0;) /* reverse: the first blocks end up most recent */
        touch_or_insert(h->blocks[i]);
    pthread_mutex_unlock(&cache.mu);
    uint64_t cached = (uint64_t)hits * h->block_size;
    SIM_STAT_ADD(prefix_cache_hits, cached);
    return cached;
}
