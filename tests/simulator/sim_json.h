/* sim_json: a small, strict, bounds-checked JSON reader for request bodies.
 *
 * sj_parse() validates the whole text (RFC 8259 grammar, no NaN/Infinity, no trailing data) and
 * records every value as a node in a flat array, in document order.  A container's children follow
 * it; nodes[i].end is the index just past its subtree, so siblings are walked with i = nodes[i].end.
 * Object members are stored as a key node (a string) immediately followed by the value's subtree.
 * Strings are not decoded during parsing; sj_str_decode() does that on demand.
 *
 * Strings must be well-formed UTF-8 (else "Invalid UTF-8"), so decoded text is always valid UTF-8.
 * The input is never written and need not be NUL-terminated. */
#ifndef SIM_JSON_H
#define SIM_JSON_H

#include <stddef.h>
#include <stdint.h>

typedef enum sj_type { SJ_NULL = 1, SJ_FALSE, SJ_TRUE, SJ_NUMBER, SJ_STRING, SJ_ARRAY, SJ_OBJECT } sj_type_t;

typedef struct sj_node {
    uint32_t start; /* offset of the value; for strings, just past the opening quote */
    uint32_t len;   /* raw length; for strings, the bytes between the quotes (escapes undecoded) */
    uint32_t count; /* arrays: number of elements, objects: number of members */
    uint32_t end;   /* index of the first node after this value's subtree */
    uint8_t type;   /* sj_type_t */
    uint8_t escaped; /* strings: contains at least one escape sequence */
} sj_node_t;

typedef struct sj_doc {
    const char *src;
    size_t len;
    sj_node_t *nodes;
    uint32_t n;
    uint32_t cap;
    /* on failure: a Python-json-style reason ("Expecting value", ...) and the byte offset */
    const char *err;
    size_t err_pos;
} sj_doc_t;

#define SJ_MAX_DEPTH 128
#define SJ_MAX_NODES (UINT32_C(1) << 22)  /* values per document (about 80 MB of nodes) */
#define SJ_KEEP_NODES (UINT32_C(1) << 16) /* node storage above this is not kept for the next parse */
#define SJ_MAX_INPUT (UINT32_MAX - 1)

void sj_init(sj_doc_t *d);
/* Releases node storage (the document may be reused after sj_init or a further sj_parse). */
void sj_free(sj_doc_t *d);
/* Parses src[0..len).  Node storage is kept and reused across calls (unless a previous document
 * needed more than SJ_KEEP_NODES).  Returns 0 or -1 (see err). */
int sj_parse(sj_doc_t *d, const char *src, size_t len);

static inline const sj_node_t *sj_at(const sj_doc_t *d, uint32_t i) { return &d->nodes[i]; }
static inline sj_type_t sj_type(const sj_doc_t *d, uint32_t i) { return (sj_type_t)d->nodes[i].type; }

/* Index of the value of member `key` in object `obj`, or -1 (also -1 if obj is not an object).
 * With duplicate keys the last one wins, as in Python. */
int64_t sj_obj_get(const sj_doc_t *d, uint32_t obj, const char *key);

/* Decodes string node `i` into out, which must hold at least nodes[i].len bytes (decoding never
 * grows a string).  Returns the decoded length in bytes (UTF-8; lone surrogates become U+FFFD). */
size_t sj_str_decode(const sj_doc_t *d, uint32_t i, char *out);

/* Whitespace-separated words in string node `i`, like len(s.split()) in Python. */
uint64_t sj_str_count_words(const sj_doc_t *d, uint32_t i);

/* Like sj_str_count_words, and calls cb (if not NULL) once per word, in order, with a hash of the
 * word's decoded code points (equal words, however escaped, hash alike). */
typedef void (*sj_word_cb)(void *ctx, uint64_t word_hash);
uint64_t sj_str_words(const sj_doc_t *d, uint32_t idx, sj_word_cb cb, void *ctx);

/* Number node `i` as an integer: accepts integral values (16, 16.0, 1.6e1) in [-2^53, 2^53].
 * Returns 0 or -1. */
int sj_get_int(const sj_doc_t *d, uint32_t i, int64_t *out);
/* Number node `i` as a double.  Returns 0 or -1. */
int sj_get_double(const sj_doc_t *d, uint32_t i, double *out);

/* Convenience: true if node is a string equal to the NUL-terminated s (after decoding). */
int sj_str_eq(const sj_doc_t *d, uint32_t i, const char *s);

#endif
