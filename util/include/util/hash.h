/*
 * util/hash.h — FNV-1a (32 and 64 bit) and MurmurHash3's 64-bit finaliser.
 *
 * Header-only on purpose: these run per request on the hot path (model lookup, metrics series,
 * connection reuse, prefix routing) and per byte inside loops, where the compiler must inline them.
 * Not for hostile-input hash tables that need seeding (none of ours is keyed by client input alone).
 */
#ifndef IG_UTIL_HASH_H
#define IG_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define IG_FNV32_OFFSET UINT32_C(2166136261)
#define IG_FNV32_PRIME UINT32_C(16777619)
#define IG_FNV64_OFFSET UINT64_C(0xcbf29ce484222325)
#define IG_FNV64_PRIME UINT64_C(0x100000001b3)

/* FNV-1a 32 of p[0..n) continuing from h (IG_FNV32_OFFSET to start). */
static inline uint32_t ig_fnv1a32(uint32_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * IG_FNV32_PRIME;
    return h;
}

/* One FNV-1a 64 step: a byte, or any value folded in whole (a code point, another hash). */
static inline uint64_t ig_fnv1a64_step(uint64_t h, uint64_t v)
{
    return (h ^ v) * IG_FNV64_PRIME;
}

/* FNV-1a 64 of p[0..n) continuing from h (IG_FNV64_OFFSET to start). */
static inline uint64_t ig_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = ig_fnv1a64_step(h, s[i]);
    return h;
}

/* MurmurHash3's fmix64: a bijection in which every input bit affects every output bit. FNV-1a
 * alone leaves the high bits poorly mixed for short inputs differing at the end ("url0", "url1"). */
static inline uint64_t ig_fmix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

#endif
