/* sim_buf: the simulator's appenders on top of util's text buffer (util/buf.h, util/json_write.h),
 * and its deterministic randomness.
 *
 * Buffers are reused across requests by their owner (each worker keeps a scratch buffer, each stream
 * keeps its own). */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/json_write.h"

/* Shortest-ish decimal for a double (%.9g); non-finite values become 0. */
void sim_buf_put_double(ig_buf_t *b, double v);
/* Appends `n` random lowercase hex digits from the caller's generator state. */
void sim_buf_put_hex_rand(ig_buf_t *b, uint64_t *rng_state, size_t n);

/* The start value of the simulator's FNV-1a hashes (util/hash.h) of names, prompts and inputs. It is
 * not FNV's offset basis (IG_FNV64_OFFSET has one more digit); kept so fake embeddings, digests and
 * prefix-cache blocks stay what they were. */
#define SIM_HASH_SEED UINT64_C(1469598103934665603)

/* splitmix64: small, fast, good enough for ids and fake embeddings. */
static inline uint64_t sim_rand_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

#endif
