/*
 * test_hash.c — util/hash.h: FNV-1a 32 and 64 against the published test vectors, hashing in
 * pieces equals hashing whole, the one-step form, and MurmurHash3's fmix64 (fixed values, a
 * bijection on a sample).
 */
#include <stdint.h>
#include <string.h>

#include "ig_test.h"
#include "util/hash.h"

static void test_fnv32(void)
{
    CHECK(ig_fnv1a32(IG_FNV32_OFFSET, "", 0) == UINT32_C(0x811c9dc5));
    CHECK(ig_fnv1a32(IG_FNV32_OFFSET, "a", 1) == UINT32_C(0xe40c292c));
    CHECK(ig_fnv1a32(IG_FNV32_OFFSET, "foobar", 6) == UINT32_C(0xbf9cf968));
    CHECK(ig_fnv1a32(ig_fnv1a32(IG_FNV32_OFFSET, "foo", 3), "bar", 3) == UINT32_C(0xbf9cf968));
    /* bytes, not chars: 0xff is 255 whatever char's signedness */
    const char hi[] = "\xff";
    CHECK(ig_fnv1a32(IG_FNV32_OFFSET, hi, 1) == ((IG_FNV32_OFFSET ^ 0xffu) * IG_FNV32_PRIME));
}

static void test_fnv64(void)
{
    CHECK(ig_fnv1a64(IG_FNV64_OFFSET, "", 0) == UINT64_C(0xcbf29ce484222325));
    CHECK(ig_fnv1a64(IG_FNV64_OFFSET, "a", 1) == UINT64_C(0xaf63dc4c8601ec8c));
    CHECK(ig_fnv1a64(IG_FNV64_OFFSET, "foobar", 6) == UINT64_C(0x85944171f73967e8));
    CHECK(ig_fnv1a64(ig_fnv1a64(IG_FNV64_OFFSET, "foo", 3), "bar", 3) == UINT64_C(0x85944171f73967e8));
    uint64_t h = IG_FNV64_OFFSET;
    for (const char *p = "foobar"; *p; p++)
        h = ig_fnv1a64_step(h, (unsigned char)*p);
    CHECK(h == UINT64_C(0x85944171f73967e8));
    /* a wide value is folded in whole (code points, other hashes) */
    CHECK(ig_fnv1a64_step(0, UINT64_C(0x10000)) == UINT64_C(0x10000) * IG_FNV64_PRIME);
}

static void test_fmix64(void)
{
    CHECK(ig_fmix64(0) == 0);
    CHECK(ig_fmix64(1) == UINT64_C(0xb456bcfc34c2cb2c));
    CHECK(ig_fmix64(IG_FNV64_OFFSET) == UINT64_C(0xefd01f60ba992926));
    /* neighbours land far apart and never collide on a sample */
    uint64_t seen[1024];
    int distinct = 1;
    for (uint64_t i = 0; i < 1024; i++) {
        seen[i] = ig_fmix64(i);
        for (uint64_t j = 0; j < i; j++)
            if (seen[j] == seen[i])
                distinct = 0;
    }
    CHECK(distinct);
    CHECK((ig_fmix64(2) ^ ig_fmix64(3)) >> 32 != 0);
}

int main(void)
{
    test_fnv32();
    test_fnv64();
    test_fmix64();
    return ig_test_summary();
}
