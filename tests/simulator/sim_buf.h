/* sim_buf: a growable byte buffer with JSON-friendly appenders.
 *
 * Memory comes from malloc and is reused across requests by its owner (each worker keeps a scratch
 * buffer, each stream keeps its own).  Allocation failure aborts: the simulator is a test tool and
 * has nothing sensible to do without memory. */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct sim_buf {
    char *base;
    size_t len;
    size_t cap;
} sim_buf_t;

/* Make room for `extra` more bytes. */
void sim_buf_reserve(sim_buf_t *b, size_t extra);
void sim_buf_free(sim_buf_t *b);

static inline void sim_buf_reset(sim_buf_t *b) { b->len = 0; }

static inline void sim_buf_put(sim_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return;
    if (b->cap - b->len < n)
        sim_buf_reserve(b, n);
    memcpy(b->base + b->len, p, n);
    b->len += n;
}

static inline void sim_buf_putc(sim_buf_t *b, char c)
{
    if (b->cap == b->len)
        sim_buf_reserve(b, 1);
    b->base[b->len++] = c;
}

/* string literals only ("" s refuses anything else at compile time) */
#define sim_buf_lit(b, s) sim_buf_put((b), "" s, sizeof(s) - 1)

static inline void sim_buf_puts(sim_buf_t *b, const char *s) { sim_buf_put(b, s, strlen(s)); }

void sim_buf_put_u64(sim_buf_t *b, uint64_t v);
/* Shortest-ish decimal for a double (%.9g); non-finite values become 0. */
void sim_buf_put_double(sim_buf_t *b, double v);
/* Appends `s` as a JSON string literal, quotes included, escaping as needed. */
void sim_buf_put_json_str(sim_buf_t *b, const char *s, size_t n);
/* Appends `n` random lowercase hex digits from the caller's generator state. */
void sim_buf_put_hex_rand(sim_buf_t *b, uint64_t *rng_state, size_t n);

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
