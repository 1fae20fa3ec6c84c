#include "sched/device_pool.h"
#include <string.h>

void ig_device_pool_init(ig_device_pool_t *pool)
{
    memset(pool, 0, sizeof(*pool));
}

static int valid(int dev)
{
    return dev >= 0 && dev < IG_DEVICE_MAX;
}

size_t ig_device_pool_free_among(const ig_device_pool_t *pool, const int *candidates, size_t n)
{
    size_t free_n = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid(candidates[i]) || pool->owner[candidates[i]] != 0)
            continue;
        /* a device listed twice counts once */
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = candidates[j] == candidates[i];
        free_n += !seen;
    }
    return free_n;
}

int ig_device_pool_take(ig_device_pool_t *pool, const int *candidates, size_t n, size_t count, uint32_t owner,
                        int *out)
{
    if (owner == 0 || ig_device_pool_free_among(pool, candidates, n) < count)
        return -1;
    size_t got = 0;
    for (size_t i = 0; i < n && got < count; i++) {
        int dev = candidates[i];
        if (!valid(dev) || pool->owner[dev] != 0)
            continue;
        pool->owner[dev] = owner;
        out[got++] = dev;
    }
    return 0;
}

size_t ig_device_pool_release(ig_device_pool_t *pool, uint32_t owner)
{
    size_t n = 0;
    if (owner == 0)
        return 0;
    for (int d = 0; d < IG_DEVICE_MAX; d++) {
        if (pool->owner[d] == owner) {
            pool->owner[d] = 0;
            n++;
        }
    }
    return n;
}

uint32_t ig_device_pool_owner(const ig_device_pool_t *pool, int dev)
{
    return valid(dev) ? pool->owner[dev] : 0;
}
