#include "bl_decimal.h"

int bl_dec_parse(const char *s, int64_t *units)
{
    *units = 0;
    if (s == NULL || *s == '\0')
        return 0;
    bl_i128_t whole = 0, frac = 0;
    int frac_digits = 0, seen_dot = 0, digits = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (seen_dot)
                return -1;
            seen_dot = 1;
            continue;
        }
        if (*p < '0' || *p > '9')
            return -1;
        digits++;
        if (!seen_dot) {
            whole = whole * 10 + (*p - '0');
            if (whole > INT64_MAX / BL_DEC_SCALE)
                return -1;
        } else if (frac_digits < BL_DEC_SCALE_DIGITS) {
            frac = frac * 10 + (*p - '0');
            frac_digits++;
        } else if (*p != '0') {
            return -1; /* finer than the ledger's unit: refuse rather than round a price */
        }
    }
    if (digits == 0)
        return -1;
    for (; frac_digits < BL_DEC_SCALE_DIGITS; frac_digits++)
        frac *= 10;
    bl_i128_t v = whole * BL_DEC_SCALE + frac;
    if (v > INT64_MAX)
        return -1;
    *units = (int64_t)v;
    return 0;
}

bl_i128_t bl_dec_cost(const bl_prices_t *p, const bl_quantities_t *q)
{
    int64_t cached = q->cached_tokens < q->prompt_tokens ? q->cached_tokens : q->prompt_tokens;
    int64_t cache_price = p->has_cache_read ? p->input_cache_read : p->prompt;
    bl_i128_t c = (bl_i128_t)(q->prompt_tokens - cached) * p->prompt;
    c += (bl_i128_t)cached * cache_price;
    c += (bl_i128_t)q->completion_tokens * p->completion;
    c += (bl_i128_t)q->requests * p->request;
    c += ((bl_i128_t)q->audio_ms * p->audio_per_second + 500) / 1000;
    return c;
}

size_t bl_dec_format(bl_i128_t v, char *buf, size_t cap)
{
    char tmp[64];
    size_t n = 0;
    if (v < 0)
        v = 0;
    /* digits from the least significant, then reversed */
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v > 0 || n <= BL_DEC_SCALE_DIGITS);
    char out[64];
    size_t len = 0;
    for (size_t i = n; i-- > BL_DEC_SCALE_DIGITS;)
        out[len++] = tmp[i];
    size_t last = 0; /* last non-zero fractional digit (1-based), 0 if none */
    for (size_t i = 0; i < BL_DEC_SCALE_DIGITS; i++)
        if (tmp[BL_DEC_SCALE_DIGITS - 1 - i] != '0')
            last = i + 1;
    if (last > 0) {
        out[len++] = '.';
        for (size_t i = 0; i < last; i++)
            out[len++] = tmp[BL_DEC_SCALE_DIGITS - 1 - i];
    }
    if (len + 1 > cap)
        return 0;
    for (size_t i = 0; i < len; i++)
        buf[i] = out[i];
    buf[len] = '\0';
    return len;
}
