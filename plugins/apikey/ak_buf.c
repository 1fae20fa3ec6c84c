/*
 * ak_buf.c — JSON output for the apikey plugin.
 */
#include "ak_buf.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(ak_buf_t *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + extra + 1)
        nc *= 2;
    char *p = realloc(b->p, nc);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = nc;
    return 0;
}

void ak_buf_put(ak_buf_t *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void ak_buf_puts(ak_buf_t *b, const char *s)
{
    ak_buf_put(b, s, strlen(s));
}

void ak_buf_printf(ak_buf_t *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = 1; /* only short fragments are printed here */
        return;
    }
    ak_buf_put(b, tmp, (size_t)n);
}

void ak_buf_str(ak_buf_t *b, const char *s)
{
    if (!s) {
        ak_buf_puts(b, "null");
        return;
    }
    size_t n = strlen(s);
    size_t need = b->j->escape(s, n, NULL, 0);
    if (grow(b, need) != 0)
        return;
    b->j->escape(s, n, b->p + b->len, need + 1);
    b->len += need;
    b->p[b->len] = '\0';
}

static void limit(ak_buf_t *b, const char *name, int64_t v, int first)
{
    if (v < 0)
        ak_buf_printf(b, "%s\"%s\":null", first ? "" : ",", name);
    else
        ak_buf_printf(b, "%s\"%s\":%lld", first ? "" : ",", name, (long long)v);
}

void ak_buf_limits(ak_buf_t *b, const ig_limits_t *l)
{
    ak_buf_puts(b, "{");
    limit(b, "requestsPerMinute", l->requests_per_minute, 1);
    limit(b, "requestsPerHour", l->requests_per_hour, 0);
    limit(b, "tokensPerMinute", l->tokens_per_minute, 0);
    limit(b, "tokensPerHour", l->tokens_per_hour, 0);
    limit(b, "burst", l->burst, 0);
    limit(b, "maxConcurrent", l->max_concurrent, 0);
    ak_buf_puts(b, "}");
}

void ak_buf_time(ak_buf_t *b, int64_t t)
{
    if (t)
        ak_buf_printf(b, "%lld", (long long)t);
    else
        ak_buf_puts(b, "null");
}

void ak_buf_models(ak_buf_t *b, const char *const *models, size_t n)
{
    if (!models) {
        ak_buf_puts(b, "null");
        return;
    }
    ak_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ak_buf_puts(b, ",");
        ak_buf_str(b, models[i]);
    }
    ak_buf_puts(b, "]");
}

void ak_buf_free(ak_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
