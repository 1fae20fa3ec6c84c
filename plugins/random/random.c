/*
 * random — load-balancing strategy: a uniformly random candidate. The baseline
 * the other strategies are measured against (what a Kubernetes Service gives).
 *
 * Each worker thread has its own xorshift64* generator (a thread-local), seeded
 * on first use from the monotonic clock and the address of the thread's own
 * state, mixed through splitmix64: no global mutable state, no atomics.
 */
#include <stdint.h>
#include "infergate/plugin.h"

static _Thread_local uint64_t rng_state;

static uint64_t splitmix64(uint64_t x)
{
    x += UINT64_C(0x9e3779b97f4a7c15);
    x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
    return x ^ (x >> 31);
}

static uint64_t next_random(const ig_host_t *host)
{
    uint64_t x = rng_state;
    if (x == 0) {
        x = splitmix64(host->now_ms() ^ (uint64_t)(uintptr_t)&rng_state);
        if (x == 0)
            x = 1; /* xorshift's one forbidden state */
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

static int rnd_init(const ig_host_t *host, const ig_option_value_t *options, void **state, ig_error_t *err)
{
    *state = (void *)host;
    return 0;
}

static void rnd_fini(void *state)
{
}

static int rnd_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    return 0;
}

static void rnd_model_free(void *state, ig_model_t *model)
{
}

static int rnd_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c,
                    size_t n)
{
    if (n == 0)
        return -1;
    /* the high 32 bits scaled to [0, n) (Lemire): no modulo, bias below n / 2^32 */
    return (int)(((next_random(state) >> 32) * (uint64_t)n) >> 32);
}

static const ig_lb_vtable_t rnd_vtable = {
    .model_init = rnd_model_init,
    .model_free = rnd_model_free,
    .pick = rnd_pick,
};

static const char *const rnd_aliases[] = {"Random", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .name = "random",
    .kind = IG_PLUGIN_LB,
    .version = "0.1.0",
    .description = "a uniformly random endpoint (benchmark baseline)",
    .aliases = rnd_aliases,
    .init = rnd_init,
    .fini = rnd_fini,
    .vtable = &rnd_vtable,
};
