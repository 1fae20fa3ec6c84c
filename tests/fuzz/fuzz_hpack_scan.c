/*
 * fuzz_hpack_scan.c — libFuzzer target for the header block scanner (core/http/hpack_scan.c), which
 * reads every HTTP/2 client's header blocks before h2o does (core/http/conn_guard.c).
 *
 * Input: byte 0 picks the table capacity, then a first block (length in bytes 1-2) that h2o's own
 * decoder runs to fill its dynamic table, then the block under test. Invariants:
 *  - the scan's totals are what decides: a limit equal to the total passes, one byte less is over;
 *  - each field counts at least its 32 bytes of overhead;
 *  - differential: when the scan passes the block and h2o's decoder accepts it, h2o decoded no more
 *    fields and no more bytes (RFC 7541 sizes) than the scan's upper bound — the bound the guard
 *    relies on to refuse a block before h2o allocates for it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include "http/h2o_layout.h"
#include "http/hpack_scan.h"

#define MUST(x) do { if (!(x)) abort(); } while (0) /* also in builds with NDEBUG */

/* h2o 2.2's decoder, declared with the layout mirror (h2o/http2_internal.h needs a khash.h Debian lacks) */
int h2o_hpack_parse_headers(h2o_req_t *req, ig_h2o_hpack_table_t *table, const uint8_t *src, size_t len,
                            int *pseudo_header_exists_map, size_t *content_length, void **digests,
                            const char **err_desc);
void h2o_hpack_dispose_header_table(ig_h2o_hpack_table_t *table);

static void table_entry(void *ctx, size_t index, size_t *name_len, size_t *value_len)
{
    ig_h2o_hpack_table_t *t = ctx;
    ig_h2o_hpack_entry_t *e = t->entries + (index + t->entry_start_index) % t->entry_capacity;
    *name_len = e->name->len;
    *value_len = e->value->len;
}

/* h2o's decode of one block: 0 and the decoded fields and RFC 7541 size, or -1 when h2o refused it */
static int h2o_decode(ig_h2o_hpack_table_t *t, const uint8_t *src, size_t len, size_t *fields, size_t *bytes)
{
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    int exists = 0;
    size_t content_length = SIZE_MAX;
    void *digests = NULL;
    const char *err = NULL;
    int rc = h2o_hpack_parse_headers(&req, t, src, len, &exists, &content_length, &digests, &err);
    *fields = req.headers.size;
    *bytes = 0;
    for (size_t i = 0; i < req.headers.size; i++)
        *bytes += 32 + req.headers.entries[i].name->len + req.headers.entries[i].value.len;
    /* pseudo-headers land in req.input, not in the list */
    /* h2o maps :scheme to one of its static schemes (any value): counted as its name only */
    h2o_iovec_t pseudo[] = {req.input.method, req.input.scheme ? h2o_iovec_init("", 0) : h2o_iovec_init(NULL, 0),
                            req.input.authority, req.input.path};
    size_t names[] = {7, 7, 10, 5};
    for (size_t i = 0; i < 4; i++)
        if (pseudo[i].base != NULL) {
            (*fields)++;
            *bytes += 32 + names[i] + pseudo[i].len;
        }
    h2o_mem_clear_pool(&req.pool);
    return rc == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t capacity = (size_t)data[0] * 16; /* 0..4080, under h2o's 4096 */
    size_t first_len = ((size_t)data[1] << 8 | data[2]);
    data += 3;
    size -= 3;
    if (first_len > size)
        first_len = size;
    ig_h2o_hpack_table_t t;
    memset(&t, 0, sizeof(t));
    t.hpack_capacity = t.hpack_max_capacity = 4096;
    size_t f, b;
    int ok = 1;
    if (first_len != 0) {
        /* a size update to the chosen capacity first, the way a client lowers it */
        uint8_t *first = malloc(first_len + 3);
        size_t n = 0;
        if (capacity < 31) {
            first[n++] = (uint8_t)(0x20 | capacity);
        } else {
            first[n++] = 0x3f;
            size_t v = capacity - 31;
            while (v >= 128) {
                first[n++] = (uint8_t)(0x80 | (v & 0x7f));
                v >>= 7;
            }
            first[n++] = (uint8_t)v;
        }
        memcpy(first + n, data, first_len);
        ok = h2o_decode(&t, first, n + first_len, &f, &b) == 0;
        free(first);
    }
    if (ok) {
        const uint8_t *block = data + first_len;
        size_t len = size - first_len;
        ig_hpack_table_view_t view = {t.num_entries, t.hpack_size, t.hpack_capacity, t.hpack_max_capacity,
                                      table_entry, &t};
        ig_hpack_scan_t s, s2;
        ig_hpack_scan_result_t r = ig_hpack_scan(block, len, &view, 0, &s);
        MUST(s.list_bytes >= 32 * s.fields);
        if (r == IG_HPACK_SCAN_OK) {
            if (s.list_bytes != 0) {
                MUST(ig_hpack_scan(block, len, &view, s.list_bytes, &s2) == IG_HPACK_SCAN_OK);
                MUST(s2.fields == s.fields && s2.list_bytes == s.list_bytes);
                MUST(s.list_bytes == 1 || ig_hpack_scan(block, len, &view, s.list_bytes - 1, &s2) == IG_HPACK_SCAN_OVER);
            }
            if (h2o_decode(&t, block, len, &f, &b) == 0) {
                MUST(f <= s.fields);
                MUST(b <= s.list_bytes);
            }
        } else if (r == IG_HPACK_SCAN_OVER) {
            abort(); /* no limit was given */
        }
    }
    h2o_hpack_dispose_header_table(&t);
    return 0;
}
