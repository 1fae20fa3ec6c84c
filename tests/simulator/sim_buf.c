#include "sim_buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void sim_buf_reserve(sim_buf_t *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return;
    size_t need = b->len + extra;
    if (need < b->len) {
        fputs("ig-sim: buffer size overflow\n", stderr);
        abort();
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *p = realloc(b->base, cap);
    if (p == NULL) {
        fputs("ig-sim: out of memory\n", stderr);
        abort();
    }
    b->base = p;
    b->cap = cap;
}

void sim_buf_free(sim_buf_t *b)
{
    free(b->base);
    b->base = NULL;
    b->len = b->cap = 0;
}

void sim_buf_put_u64(sim_buf_t *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    sim_buf_put(b, tmp + i, sizeof(tmp) - i);
}

void sim_buf_put_double(sim_buf_t *b, double v)
{
    char tmp[40];
    if (!isfinite(v))
        v = 0;
    int n = snprintf(tmp, sizeof(tmp), "%.9g", v);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        n = snprintf(tmp, sizeof(tmp), "0");
    /* JSON needs a digit where C may print e.g. "1e-05": that is valid JSON already. */
    sim_buf_put(b, tmp, (size_t)n);
}

void sim_buf_put_json_str(sim_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sim_buf_reserve(b, n + 2);
    sim_buf_putc(b, '"');
    size_t run = 0; /* start of the current run of bytes that need no escaping */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        sim_buf_put(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': sim_buf_lit(b, "\\\""); break;
        case '\\': sim_buf_lit(b, "\\\\"); break;
        case '\n': sim_buf_lit(b, "\\n"); break;
        case '\r': sim_buf_lit(b, "\\r"); break;
        case '\t': sim_buf_lit(b, "\\t"); break;
        case '\b': sim_buf_lit(b, "\\b"); break;
        case '\f': sim_buf_lit(b, "\\f"); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sim_buf_put(b, u, sizeof(u));
        }
        }
    }
    sim_buf_put(b, s + run, n - run);
    sim_buf_putc(b, '"');
}

void sim_buf_put_hex_rand(sim_buf_t *b, uint64_t *rng_state, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    sim_buf_reserve(b, n);
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 16 == 0)
            r = sim_rand_next(rng_state);
        b->base[b->len++] = hex[r & 15];
        r >>= 4;
    }
}
