/*
 * util/buf.h — a growable, NUL-terminated byte buffer (malloc'd) for text built piece by piece:
 * admin and usage answers, CSV and JSONL exports, the Prometheus exposition, command lines, an
 * engine answer waiting to be rewritten, the simulator's bodies and streams.
 *
 * Out of memory is sticky: `failed` is set, later appends do nothing, the text is incomplete, so a
 * writer may check once at the end; every append also returns 0 or -1 for writers that check at
 * once. A zeroed ig_buf_t is an empty buffer. The core hands bytes to h2o in an h2o_buffer_t
 * instead; this one is for everything h2o does not see.
 */
#ifndef IG_UTIL_BUF_H
#define IG_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *p;    /* the text, p[len] == '\0' once anything was appended; NULL before */
    size_t len; /* bytes of text, the NUL not counted */
    size_t cap; /* bytes allocated */
    int failed; /* an append ran out of memory: the text is incomplete */
} ig_buf_t;

/* The first allocation: most texts are one answer or one event of a few hundred bytes. */
#define IG_BUF_FIRST_CAP 1024

/* Room for n more bytes and the NUL (grows by doubling). 0, or -1 when out of memory (failed). */
int ig_buf_grow(ig_buf_t *b, size_t n);

static inline int ig_buf_reserve(ig_buf_t *b, size_t n)
{
    return !b->failed && b->cap - b->len > n ? 0 : ig_buf_grow(b, n);
}

/* Appends s[0..n) (s valid even when n is 0). */
static inline int ig_buf_put(ig_buf_t *b, const void *s, size_t n)
{
    if (ig_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

static inline int ig_buf_putc(ig_buf_t *b, char c)
{
    return ig_buf_put(b, &c, 1);
}

static inline int ig_buf_puts(ig_buf_t *b, const char *s)
{
    return ig_buf_put(b, s, strlen(s));
}

/* A string literal ("" s refuses anything else at compile time), its length known there. */
#define ig_buf_lit(b, s) ig_buf_put((b), "" s, sizeof(s) - 1)

int ig_buf_printf(ig_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* v in decimal. */
int ig_buf_put_u64(ig_buf_t *b, uint64_t v);

/* Empties the text and forgets a failure; the memory is kept for reuse. */
void ig_buf_reset(ig_buf_t *b);

/*
 * Hands the text over (the caller frees it) and leaves b empty: "" (allocated) when nothing was
 * appended, NULL when an append failed (the text is freed) or out of memory. *len (may be NULL)
 * gets its length.
 */
char *ig_buf_take(ig_buf_t *b, size_t *len);

void ig_buf_free(ig_buf_t *b);

#endif
