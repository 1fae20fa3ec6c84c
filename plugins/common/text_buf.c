/* text_buf.c — see text_buf.h. */
#include "text_buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(ig_text_buf_t *b, size_t need)
{
    if (b->failed)
        return -1;
    if (b->len + need + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void ig_text_buf_put(ig_text_buf_t *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ig_text_buf_puts(ig_text_buf_t *b, const char *s)
{
    ig_text_buf_put(b, s, strlen(s));
}

void ig_text_buf_printf(ig_text_buf_t *b, const char *fmt, ...)
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

void ig_text_buf_json_str(ig_text_buf_t *b, const ig_json_api_t *json, const char *s, size_t n)
{
    size_t need = json->escape(s, n, NULL, 0);
    if (grow(b, need) != 0)
        return;
    b->len += json->escape(s, n, b->p + b->len, need + 1);
    b->p[b->len] = '\0';
}

void ig_text_buf_csv_str(ig_text_buf_t *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        ig_text_buf_puts(b, s);
        return;
    }
    ig_text_buf_put(b, "\"", 1);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            ig_text_buf_put(b, "\"", 1);
        ig_text_buf_put(b, p, 1);
    }
    ig_text_buf_put(b, "\"", 1);
}

void ig_text_buf_free(ig_text_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
