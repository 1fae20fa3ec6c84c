/* buf.c — see util/buf.h. */
#include "util/buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int ig_buf_grow(ig_buf_t *b, size_t n)
{
    if (b->failed)
        return -1;
    if (n >= SIZE_MAX - b->len) {
        b->failed = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : IG_BUF_FIRST_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

int ig_buf_printf(ig_buf_t *b, const char *fmt, ...)
{
    /* into the room there is first: one pass when it fits, which it mostly does */
    for (int pass = 0; pass < 2; pass++) {
        if (b->failed)
            return -1;
        size_t room = b->cap - b->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            if (room)
                b->p[b->len] = '\0';
            b->failed = 1;
            return -1;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        if (room)
            b->p[b->len] = '\0'; /* drop the cut-off attempt */
        if (ig_buf_grow(b, (size_t)n) != 0)
            return -1;
    }
    return -1; /* not reached: the second pass has the room the first one measured */
}

int ig_buf_put_u64(ig_buf_t *b, uint64_t v)
{
    char tmp[20];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return ig_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void ig_buf_reset(ig_buf_t *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

char *ig_buf_take(ig_buf_t *b, size_t *len)
{
    char *p = b->p;
    size_t n = b->len;
    if (b->failed) {
        free(p);
        p = NULL;
    } else if (p == NULL) {
        p = calloc(1, 1);
    }
    if (len != NULL)
        *len = p != NULL ? n : 0;
    *b = (ig_buf_t){0};
    return p;
}

void ig_buf_free(ig_buf_t *b)
{
    free(b->p);
    *b = (ig_buf_t){0};
}
