#include "bl_buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(bl_buf_t *b, size_t need)
{
    if (b->oom)
        return -1;
    if (b->len + need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void bl_buf_put(bl_buf_t *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void bl_buf_puts(bl_buf_t *b, const char *s) { bl_buf_put(b, s, strlen(s)); }

void bl_buf_printf(bl_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || grow(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void bl_buf_json_str(bl_buf_t *b, const ig_json_api_t *json, const char *s, size_t n)
{
    size_t need = json->escape(s, n, NULL, 0);
    if (grow(b, need) != 0)
        return;
    b->len += json->escape(s, n, b->p + b->len, need);
    b->p[b->len] = '\0';
}

void bl_buf_csv_str(bl_buf_t *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        bl_buf_puts(b, s);
        return;
    }
    bl_buf_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            bl_buf_put(b, "\"", 1);
        bl_buf_put(b, p, 1);
    }
    bl_buf_put(b, "\"", 1);
}

void bl_buf_free(bl_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
