/*
 * device_pool.h — which replica holds which device (GPU index), across every resource profile.
 *
 * Profiles list device numbers; two profiles may list the same device (one GPU reachable through a
 * "1 GPU" and a "2 GPU" profile), so ownership is kept per device number, not per profile: a device
 * is held by at most one replica at a time, whatever profile it was taken through. Main thread only.
 */
#ifndef IG_DEVICE_POOL_H
#define IG_DEVICE_POOL_H

#include <stddef.h>
#include <stdint.h>

#define IG_DEVICE_MAX 4096 /* device numbers are 0..4095 (config_profiles.c) */

typedef struct {
    uint32_t owner[IG_DEVICE_MAX]; /* replica id holding the device; 0 = free */
} ig_device_pool_t;

void ig_device_pool_init(ig_device_pool_t *pool);

/*
 * Gives owner (non-zero) count devices among candidates[0..n) that nobody holds, in the order
 * listed, writing them to out. 0, or -1 when fewer than count are free (then nothing is taken).
 */
int ig_device_pool_take(ig_device_pool_t *pool, const int *candidates, size_t n, size_t count, uint32_t owner,
                        int *out);
/* Frees every device owner holds; returns how many. */
size_t ig_device_pool_release(ig_device_pool_t *pool, uint32_t owner);
/* How many of candidates[0..n) are free now. */
size_t ig_device_pool_free_among(const ig_device_pool_t *pool, const int *candidates, size_t n);
/* The replica holding dev, or 0. */
uint32_t ig_device_pool_owner(const ig_device_pool_t *pool, int dev);

#endif
