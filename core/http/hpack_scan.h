/*
 * hpack_scan.h — how large a header block decodes to, measured before h2o decodes it (h2_guard.c).
 *
 * h2o 2.2 decodes a block into the request whatever its decoded size, so a 4 KB header put in the
 * dynamic table once and referenced 400,000 times costs hundreds of MB. The scanner walks the block's
 * representations (RFC 7541 §6) without allocating, following the dynamic table's insertions and
 * evictions, and adds up the decoded header list size of RFC 7540 §6.5.2 (name + value + 32 per field).
 * Huffman strings count at 8/5 of their encoded length (the longest they can decode to), so the total
 * is an upper bound; a reference the upper bound already evicted counts as the table's capacity.
 */
#ifndef IG_HTTP_HPACK_SCAN_H
#define IG_HTTP_HPACK_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* The dynamic table as it is before the block: entry 0 is the newest. */
typedef struct {
    size_t num_entries;
    size_t size;         /* sum of 32 + name + value over the entries */
    size_t capacity;     /* the current maximum size (SETTINGS, then the peer's size updates) */
    size_t max_capacity; /* what our SETTINGS_HEADER_TABLE_SIZE allows a size update to raise it to */
    void (*entry)(void *ctx, size_t index, size_t *name_len, size_t *value_len);
    void *ctx;
} ig_hpack_table_view_t;

typedef struct {
    size_t fields;     /* header fields in the block */
    size_t list_bytes; /* decoded header list size, an upper bound */
} ig_hpack_scan_t;

typedef enum {
    IG_HPACK_SCAN_OK = 0,    /* within the limit: out holds the block's totals */
    IG_HPACK_SCAN_OVER = 1,  /* over the limit: the scan stopped there */
    IG_HPACK_SCAN_BAD = -1,  /* malformed, or a table larger than the scanner follows: h2o's decoder decides */
} ig_hpack_scan_result_t;

/* Scans a complete header block; limit_bytes 0 means no limit (the totals are still measured). */
ig_hpack_scan_result_t ig_hpack_scan(const uint8_t *src, size_t len, const ig_hpack_table_view_t *table,
                                     size_t limit_bytes, ig_hpack_scan_t *out);

#endif
