/*
 * test_hpack_scan.c — the header block scanner (core/http/hpack_scan.c) and the HTTP/2 guard's
 * policy (core/http/h2_guard.c): decoded sizes of each representation, the dynamic table followed
 * through insertions, evictions and size updates, malformed blocks, the limit, the reset budget.
 */
#include <string.h>
#include "http/h2_guard.h"
#include "http/hpack_scan.h"
#include "ig_test.h"

/* a dynamic table from before the block: entry i has name_len[i], value_len[i] (0 = newest) */
typedef struct {
    size_t n;
    size_t name_len[8], value_len[8];
} fake_table_t;

static void fake_entry(void *ctx, size_t i, size_t *name, size_t *value)
{
    fake_table_t *t = ctx;
    *name = t->name_len[i];
    *value = t->value_len[i];
}

static ig_hpack_table_view_t view_of(fake_table_t *t, size_t capacity)
{
    size_t size = 0;
    for (size_t i = 0; i < t->n; i++)
        size += 32 + t->name_len[i] + t->value_len[i];
    return (ig_hpack_table_view_t){t->n, size, capacity, 4096, fake_entry, t};
}

static size_t put_string(uint8_t *p, const char *s, int huffman)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)((huffman ? 0x80 : 0) | n); /* short strings only */
    memcpy(p + 1, s, n);
    return 1 + n;
}

static size_t literal(uint8_t *p, uint8_t kind, const char *name, const char *value, int huffman)
{
    size_t n = 0;
    p[n++] = kind;
    n += put_string(p + n, name, 0);
    n += put_string(p + n, value, huffman);
    return n;
}

static ig_hpack_scan_result_t scan(const uint8_t *b, size_t len, fake_table_t *t, size_t cap, size_t limit,
                                   ig_hpack_scan_t *out)
{
    ig_hpack_table_view_t v = view_of(t, cap);
    return ig_hpack_scan(b, len, &v, limit, out);
}

static void test_representations(void)
{
    fake_table_t empty = {0};
    ig_hpack_scan_t s;
    uint8_t b[256];
    b[0] = 0x82; /* static 2: :method GET */
    CHECK(scan(b, 1, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK);
    CHECK(s.fields == 1 && s.list_bytes == 32 + 7 + 3);
    b[0] = 0x90; /* static 16: accept-encoding "gzip, deflate" */
    CHECK(scan(b, 1, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 15 + 13);
    size_t n = literal(b, 0x00, "a", "bc", 0); /* without indexing, new name */
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 1 + 2);
    n = literal(b, 0x10, "a", "bc", 0); /* never indexed */
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 3);
    /* a Huffman value of 10 bytes counts as the 16 it could at most decode to */
    n = literal(b, 0x00, "a", "0123456789", 1);
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 1 + 16);
    /* literal with an indexed name: static 4 (:path), value "/x" */
    b[0] = 0x04;
    n = 1 + put_string(b + 1, "/x", 0);
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 5 + 2);
    b[0] = 0x44; /* the same, with incremental indexing */
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 5 + 2);
    CHECK(scan(b, 0, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.fields == 0);
}

static void test_dynamic_table(void)
{
    fake_table_t base = {2, {5, 3}, {100, 7}}; /* 62 → 5+100, 63 → 3+7 */
    ig_hpack_scan_t s;
    uint8_t b[4096];
    b[0] = 0xbe; /* 62 */
    b[1] = 0xbf; /* 63 */
    CHECK(scan(b, 2, &base, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 105 + 32 + 10);
    b[0] = 0xc0; /* 64: beyond the table */
    CHECK(scan(b, 1, &base, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    b[0] = 0x80; /* index 0 */
    CHECK(scan(b, 1, &base, 4096, 0, &s) == IG_HPACK_SCAN_BAD);

    /* an insertion shifts the older entries: 62 is the new one, 63 and 64 the base ones */
    size_t n = literal(b, 0x40, "xy", "z", 0);
    b[n++] = 0xbe;
    b[n++] = 0xbf;
    b[n++] = 0xc0;
    CHECK(scan(b, n, &base, 4096, 0, &s) == IG_HPACK_SCAN_OK);
    CHECK(s.fields == 4 && s.list_bytes == (32 + 3) * 2 + 32 + 105 + 32 + 10);

    /* the amplification: one 4,000-byte value referenced many times stops at the limit */
    fake_table_t empty = {0};
    n = 0;
    b[n++] = 0x40;
    n += put_string(b + n, "x", 0);
    b[n++] = 0x7f; /* value length 4000: 127 + 3873 */
    b[n++] = (uint8_t)(0x80 | (3873 & 0x7f));
    b[n++] = (uint8_t)(3873 >> 7);
    memset(b + n, 'a', 4000);
    n += 4000;
    size_t refs_at = n;
    memset(b + n, 0xbe, 50);
    n += 50;
    CHECK(scan(b, n, &empty, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.fields == 51 && s.list_bytes == 51 * 4033);
    CHECK(scan(b, n, &empty, 4096, 32 * 1024, &s) == IG_HPACK_SCAN_OVER);
    CHECKF(s.fields == 9, "stops at the first field over the limit (%zu)", s.fields);
    CHECK(scan(b, refs_at, &empty, 4096, 32 * 1024, &s) == IG_HPACK_SCAN_OK);
}

static void test_eviction_and_size_updates(void)
{
    fake_table_t empty = {0};
    ig_hpack_scan_t s;
    uint8_t b[256];
    /* capacity 100: each 32+2+30 = 64-byte insertion evicts the previous one */
    char v30[31];
    memset(v30, 'v', 30);
    v30[30] = 0;
    size_t n = literal(b, 0x40, "k1", v30, 0);
    n += literal(b + n, 0x40, "k2", v30, 0);
    b[n++] = 0xbe; /* the second insertion */
    CHECK(scan(b, n, &empty, 100, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 3 * 64);
    b[n++] = 0xbf; /* evicted: no decoder holds it any more, yet within what was inserted: the worst case */
    CHECK(scan(b, n, &empty, 100, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 3 * 64 + 32 + 2 * 4096);
    b[n++] = 0xc0; /* never inserted */
    CHECK(scan(b, n, &empty, 100, 0, &s) == IG_HPACK_SCAN_BAD);

    /* a size update to 0 empties the table; above our SETTINGS it is an error */
    fake_table_t base = {1, {1}, {1}};
    b[0] = 0x20; /* size update 0 */
    b[1] = 0xbe;
    CHECK(scan(b, 2, &base, 4096, 0, &s) == IG_HPACK_SCAN_OK && s.list_bytes == 32 + 2 * 4096);
    b[0] = 0x3f; /* 31 + ... = 5000 > 4096 */
    b[1] = (uint8_t)(0x80 | ((5000 - 31) & 0x7f));
    b[2] = (uint8_t)((5000 - 31) >> 7);
    CHECK(scan(b, 3, &base, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    /* an entry larger than the table empties it (RFC 7541 §4.4) */
    n = literal(b, 0x40, "kk", v30, 0);
    b[n++] = 0xbe;
    CHECK(scan(b, n, &empty, 50, 0, &s) == IG_HPACK_SCAN_OK); /* worst case counted, not an error */
    CHECK(s.list_bytes == 64 + 32 + 2 * 4096);
}

static void test_malformed(void)
{
    fake_table_t empty = {0};
    ig_hpack_scan_t s;
    const uint8_t truncated_int[] = {0xff, 0x80, 0x80};
    CHECK(scan(truncated_int, sizeof(truncated_int), &empty, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    const uint8_t huge_int[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    CHECK(scan(huge_int, sizeof(huge_int), &empty, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    const uint8_t short_string[] = {0x00, 0x05, 'a'};
    CHECK(scan(short_string, sizeof(short_string), &empty, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    const uint8_t no_value[] = {0x00, 0x01, 'a'};
    CHECK(scan(no_value, sizeof(no_value), &empty, 4096, 0, &s) == IG_HPACK_SCAN_BAD);
    /* a table larger than the scanner follows: h2o decides */
    ig_hpack_table_view_t big = {0, 0, 65536, 65536, fake_entry, &empty};
    CHECK(ig_hpack_scan((const uint8_t *)"\x82", 1, &big, 0, &s) == IG_HPACK_SCAN_BAD);
}

static void test_reset_budget(void)
{
    ig_h2_reset_budget_t b;
    ig_h2_reset_budget_init(&b, 3);
    CHECK(!ig_h2_reset_budget_charge(&b) && !ig_h2_reset_budget_charge(&b) && !ig_h2_reset_budget_charge(&b));
    CHECK(ig_h2_reset_budget_charge(&b) == 1);
    ig_h2_reset_budget_init(&b, 3);
    for (int i = 0; i < 1000; i++) { /* resets as often as streams finish: never over */
        CHECK(!ig_h2_reset_budget_charge(&b));
        ig_h2_reset_budget_refund(&b);
    }
    for (int i = 0; i < 10; i++) /* refunds never raise it above the budget */
        ig_h2_reset_budget_refund(&b);
    CHECK(!ig_h2_reset_budget_charge(&b) && !ig_h2_reset_budget_charge(&b) && !ig_h2_reset_budget_charge(&b));
    CHECK(ig_h2_reset_budget_charge(&b) == 1);
    CHECK(b.completed == 1010 && b.resets == 1004);
    ig_h2_reset_budget_init(&b, 0); /* off */
    for (int i = 0; i < 1000; i++)
        CHECK(!ig_h2_reset_budget_charge(&b));
}

static void test_header_check(void)
{
    fake_table_t empty = {0};
    ig_hpack_table_view_t v = view_of(&empty, 4096);
    uint8_t b[64];
    memset(b, 0x82, sizeof(b)); /* 64 × 42 bytes */
    const char *why = NULL;
    ig_h2_guard_configure(100, 1000);
    CHECK(ig_h2_guard_check_headers(b, 23, &v, &why) == 0);
    CHECK(ig_h2_guard_check_headers(b, 24, &v, &why) == -1 && why != NULL && strstr(why, "maxHeaderListBytes"));
    ig_h2_guard_configure(100, 0); /* off */
    CHECK(ig_h2_guard_check_headers(b, sizeof(b), &v, &why) == 0);
    ig_h2_guard_stats_t st;
    ig_h2_guard_stats(&st);
    CHECK(st.header_blocks_refused == 1);
}

int main(void)
{
    test_representations();
    test_dynamic_table();
    test_eviction_and_size_updates();
    test_malformed();
    test_reset_budget();
    test_header_check();
    return ig_test_summary();
}
