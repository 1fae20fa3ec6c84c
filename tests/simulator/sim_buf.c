#include "sim_buf.h"

#include <math.h>
#include <stdio.h>

void sim_buf_put_double(ig_buf_t *b, double v)
{
    char tmp[40];
    if (!isfinite(v))
        v = 0;
    int n = snprintf(tmp, sizeof(tmp), "%.9g", v);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        n = snprintf(tmp, sizeof(tmp), "0");
    /* JSON needs a digit where C may print e.g. "1e-05": that is valid JSON already. */
    ig_buf_put(b, tmp, (size_t)n);
}

void sim_buf_put_hex_rand(ig_buf_t *b, uint64_t *rng_state, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (ig_buf_reserve(b, n) != 0)
        return;
    uint64_t r = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % 16 == 0)
            r = sim_rand_next(rng_state);
        b->p[b->len++] = hex[r & 15];
        r >>= 4;
    }
    b->p[b->len] = '\0';
}
