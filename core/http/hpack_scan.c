/*
 * hpack_scan.c — the decoded size of an HPACK header block, without decoding it (hpack_scan.h).
 *
 * The dynamic table is followed as sizes only: the entries the block inserts (upper bounds when
 * Huffman-coded) in a ring, the entries that were there before read through the view. Sizes that
 * are upper bounds evict at least as much as the real table does, so the newest entries the scan
 * still holds are the same entries the decoder holds at the same indices.
 */
#include "http/hpack_scan.h"
#include <string.h>

#define RING 512               /* inserted entries followed; each is at least 32 bytes, so 16 KiB of table */
#define ENTRY_OVERHEAD 32      /* RFC 7541 §4.1 */
#define INT_MAX_VALUE (1u << 30) /* larger integers are nonsense in a header block */

/* RFC 7541 Appendix A: only the lengths matter here */
static const char *const static_table[61][2] = {
    {":authority", ""}, {":method", "GET"}, {":method", "POST"}, {":path", "/"}, {":path", "/index.html"},
    {":scheme", "http"}, {":scheme", "https"}, {":status", "200"}, {":status", "204"}, {":status", "206"},
    {":status", "304"}, {":status", "400"}, {":status", "404"}, {":status", "500"}, {"accept-charset", ""},
    {"accept-encoding", "gzip, deflate"}, {"accept-language", ""}, {"accept-ranges", ""}, {"accept", ""},
    {"access-control-allow-origin", ""}, {"age", ""}, {"allow", ""}, {"authorization", ""}, {"cache-control", ""},
    {"content-disposition", ""}, {"content-encoding", ""}, {"content-language", ""}, {"content-length", ""},
    {"content-location", ""}, {"content-range", ""}, {"content-type", ""}, {"cookie", ""}, {"date", ""},
    {"etag", ""}, {"expect", ""}, {"expires", ""}, {"from", ""}, {"host", ""}, {"if-match", ""},
    {"if-modified-since", ""}, {"if-none-match", ""}, {"if-range", ""}, {"if-unmodified-since", ""},
    {"last-modified", ""}, {"link", ""}, {"location", ""}, {"max-forwards", ""}, {"proxy-authenticate", ""},
    {"proxy-authorization", ""}, {"range", ""}, {"referer", ""}, {"refresh", ""}, {"retry-after", ""},
    {"server", ""}, {"set-cookie", ""}, {"strict-transport-security", ""}, {"transfer-encoding", ""},
    {"user-agent", ""}, {"vary", ""}, {"via", ""}, {"www-authenticate", ""},
};

typedef struct {
    const ig_hpack_table_view_t *view;
    size_t base_alive;             /* entries from before the block still in the table (the newest ones) */
    uint32_t ring_name[RING], ring_value[RING];
    size_t ring_head, ring_count;  /* ring_head: where the next insertion goes */
    size_t size, capacity;
    size_t inserted;               /* insertions so far: bounds the indices the real table can hold */
} table_t;

static void base_entry(table_t *t, size_t i, size_t *name, size_t *value)
{
    t->view->entry(t->view->ctx, i, name, value);
}

static void evict_oldest(table_t *t)
{
    if (t->base_alive != 0) {
        size_t n, v;
        base_entry(t, --t->base_alive, &n, &v);
        t->size -= ENTRY_OVERHEAD + n + v;
    } else if (t->ring_count != 0) {
        size_t oldest = (t->ring_head + RING - t->ring_count) % RING;
        t->size -= ENTRY_OVERHEAD + (size_t)t->ring_name[oldest] + t->ring_value[oldest];
        t->ring_count--;
    }
}

static void evict_to(table_t *t, size_t capacity)
{
    while (t->size > capacity && (t->base_alive != 0 || t->ring_count != 0))
        evict_oldest(t);
}

static void insert(table_t *t, size_t name, size_t value)
{
    size_t esize = ENTRY_OVERHEAD + name + value;
    t->inserted++;
    if (esize > t->capacity) { /* RFC 7541 §4.4: the table ends up empty */
        evict_to(t, 0);
        return;
    }
    evict_to(t, t->capacity - esize);
    t->ring_name[t->ring_head] = (uint32_t)name;
    t->ring_value[t->ring_head] = (uint32_t)value;
    t->ring_head = (t->ring_head + 1) % RING;
    t->ring_count++;
    t->size += esize;
}

/* Dynamic entry i (0: the newest). 0, or -1 when no decoder could hold it. */
static int lookup(table_t *t, size_t i, size_t *name, size_t *value)
{
    if (i < t->ring_count) {
        size_t at = (t->ring_head + RING - 1 - i) % RING;
        *name = t->ring_name[at];
        *value = t->ring_value[at];
        return 0;
    }
    i -= t->ring_count;
    if (i < t->base_alive) {
        base_entry(t, i, name, value);
        return 0;
    }
    /* evicted here by an upper bound, maybe still held by the decoder: as large as an entry can be */
    if (i + t->ring_count < t->view->num_entries + t->inserted) {
        *name = *value = t->view->max_capacity;
        return 0;
    }
    return -1;
}

/* RFC 7541 §5.1; 0, or -1 when truncated or absurd */
static int read_int(const uint8_t **p, const uint8_t *end, unsigned prefix_bits, size_t *out)
{
    if (*p >= end)
        return -1;
    unsigned mask = (1u << prefix_bits) - 1;
    size_t v = **p & mask;
    (*p)++;
    if (v < mask) {
        *out = v;
        return 0;
    }
    for (unsigned shift = 0;; shift += 7) {
        if (*p >= end || shift > 28)
            return -1;
        uint8_t b = *(*p)++;
        v += (size_t)(b & 0x7f) << shift;
        if (v > INT_MAX_VALUE)
            return -1;
        if ((b & 0x80) == 0)
            break;
    }
    *out = v;
    return 0;
}

/* RFC 7541 §5.2: skips the string, its decoded length (an upper bound when Huffman-coded) in *len */
static int read_string(const uint8_t **p, const uint8_t *end, size_t *len)
{
    if (*p >= end)
        return -1;
    int huffman = (**p & 0x80) != 0;
    size_t n;
    if (read_int(p, end, 7, &n) != 0 || n > (size_t)(end - *p))
        return -1;
    *p += n;
    *len = huffman ? n * 8 / 5 : n; /* the shortest Huffman code is 5 bits */
    return 0;
}

/* The name (and value) an index stands for: static 1..61, then the dynamic table. */
static int indexed(table_t *t, size_t index, size_t *name, size_t *value)
{
    if (index == 0)
        return -1;
    if (index <= 61) {
        *name = strlen(static_table[index - 1][0]);
        *value = strlen(static_table[index - 1][1]);
        return 0;
    }
    return lookup(t, index - 62, name, value);
}

ig_hpack_scan_result_t ig_hpack_scan(const uint8_t *src, size_t len, const ig_hpack_table_view_t *view,
                                     size_t limit_bytes, ig_hpack_scan_t *out)
{
    memset(out, 0, sizeof(*out));
    if (view->max_capacity > (RING - 1) * ENTRY_OVERHEAD || view->capacity > view->max_capacity)
        return IG_HPACK_SCAN_BAD;
    static _Thread_local table_t tl; /* 4 KiB, kept off the stack; the scan never re-enters */
    table_t *tab = &tl;
    tab->view = view;
    tab->base_alive = view->num_entries;
    tab->ring_head = tab->ring_count = 0;
    tab->size = view->size;
    tab->capacity = view->capacity;
    tab->inserted = 0;

    const uint8_t *p = src, *end = src + len;
    while (p < end) {
        uint8_t b = *p;
        size_t index, name = 0, value = 0;
        if (b & 0x80) { /* §6.1 indexed field */
            if (read_int(&p, end, 7, &index) != 0 || indexed(tab, index, &name, &value) != 0)
                return IG_HPACK_SCAN_BAD;
        } else if ((b & 0xe0) == 0x20) { /* §6.3 dynamic table size update */
            size_t cap;
            if (read_int(&p, end, 5, &cap) != 0 || cap > view->max_capacity)
                return IG_HPACK_SCAN_BAD;
            tab->capacity = cap;
            evict_to(tab, cap);
            continue;
        } else { /* §6.2 literals: with indexing (01), without (0000), never indexed (0001) */
            int with_indexing = (b & 0xc0) == 0x40;
            size_t unused;
            if (read_int(&p, end, with_indexing ? 6 : 4, &index) != 0)
                return IG_HPACK_SCAN_BAD;
            if (index == 0) {
                if (read_string(&p, end, &name) != 0)
                    return IG_HPACK_SCAN_BAD;
            } else if (indexed(tab, index, &name, &unused) != 0) {
                return IG_HPACK_SCAN_BAD;
            }
            if (read_string(&p, end, &value) != 0)
                return IG_HPACK_SCAN_BAD;
            if (with_indexing)
                insert(tab, name, value);
        }
        out->fields++;
        out->list_bytes += ENTRY_OVERHEAD + name + value;
        if (limit_bytes != 0 && out->list_bytes > limit_bytes)
            return IG_HPACK_SCAN_OVER;
    }
    return IG_HPACK_SCAN_OK;
}
