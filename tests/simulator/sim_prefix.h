/* sim_prefix: a model of vLLM's automatic prefix caching.
 *
 * A prompt is a sequence of tokens (the simulator's tokens: words, plus 4 chat-template tokens per
 * message).  It is cut into blocks of --block-size tokens; each full block is named by a hash
 * chained from the previous block's (and seeded by the model name, as vLLM's include the LoRA), so
 * a block hash stands for the whole prefix up to the end of that block.  The cache is one LRU of
 * --prefix-cache-blocks block hashes for the process, behind a mutex (one short critical section
 * per request).  A request's cached tokens are its leading blocks found in the cache, at most
 * prompt_tokens - 1 of them (vLLM always recomputes the last prompt token); then all its full
 * blocks become most recently used, earlier blocks more recent than later ones, so that eviction
 * takes the tails of prefixes first, as vLLM's free-block queue does. */
#ifndef SIM_PREFIX_H
#define SIM_PREFIX_H

#include <stddef.h>
#include <stdint.h>

/* Builds a prompt's block hashes token by token.  The block array is the worker's, reused. */
typedef struct sim_prefix_hasher {
    uint64_t parent; /* hash of the previous full block (or the model seed) */
    uint64_t state;  /* running hash of the current block */
    uint32_t in_block;
    uint32_t block_size;
    uint64_t tokens;
    uint64_t *blocks;
    size_t nblocks, cap;
    int oom;
} sim_prefix_hasher_t;

/* 1 when --prefix-cache-blocks > 0. */
int sim_prefix_enabled(void);
/* Allocates the cache (main thread, before the workers start).  0 or -1. */
int sim_prefix_init(void);
/* Empties the cache (POST /sim/reset-prefix-cache). */
void sim_prefix_clear(void);

/* Starts a prompt for `model` (decoded name).  `blocks` / `cap` is reusable storage (may be NULL/0). */
void sim_prefix_begin(sim_prefix_hasher_t *h, const char *model, size_t model_len, uint64_t *blocks, size_t cap);
void sim_prefix_token(sim_prefix_hasher_t *h, uint64_t token_hash);
/* The 4 template tokens of a chat message with this role. */
void sim_prefix_message(sim_prefix_hasher_t *h, const char *role, size_t role_len);

/* Looks the prompt up and inserts its blocks; returns the cached tokens and counts the query in
 * sim_stats (prefix_cache_queries += prompt_tokens, prefix_cache_hits += cached). */
uint64_t sim_prefix_lookup(sim_prefix_hasher_t *h, uint64_t prompt_tokens);

/* Blocks in the cache now (gauge). */
uint64_t sim_prefix_cached_blocks(void);

#endif
