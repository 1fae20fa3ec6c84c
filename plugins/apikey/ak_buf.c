/*
 * ak_buf.c — JSON the apikey plugin writes: limits, times, model lists.
 */
#include "ak_buf.h"
#include <string.h>

static void limit(ak_buf_t *b, const char *name, int64_t v, int first)
{
    if (v < 0)
        ig_buf_printf(b, "%s\"%s\":null", first ? "" : ",", name);
    else
        ig_buf_printf(b, "%s\"%s\":%lld", first ? "" : ",", name, (long long)v);
}

void ak_buf_limits(ak_buf_t *b, const ig_limits_t *l)
{
    ig_buf_puts(b, "{");
    limit(b, "requestsPerMinute", l->requests_per_minute, 1);
    limit(b, "requestsPerHour", l->requests_per_hour, 0);
    limit(b, "tokensPerMinute", l->tokens_per_minute, 0);
    limit(b, "tokensPerHour", l->tokens_per_hour, 0);
    limit(b, "burst", l->burst, 0);
    limit(b, "maxConcurrent", l->max_concurrent, 0);
    ig_buf_puts(b, "}");
}

void ak_buf_time(ak_buf_t *b, int64_t t)
{
    if (t)
        ig_buf_printf(b, "%lld", (long long)t);
    else
        ig_buf_puts(b, "null");
}

void ak_buf_models(ak_buf_t *b, const char *const *models, size_t n)
{
    if (!models) {
        ig_buf_puts(b, "null");
        return;
    }
    ig_buf_puts(b, "[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ig_buf_puts(b, ",");
        ig_json_write_cstr(b, models[i]);
    }
    ig_buf_puts(b, "]");
}
