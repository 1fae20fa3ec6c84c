/*
 * random — load-balancing strategy: a uniformly random candidate. The baseline
 * the other strategies are measured against (what a Kubernetes Service gives).
 *
 * The generator is SplitMix64 with its state in the model (not global): a pick
 * advances the state by the golden-ratio gamma with one atomic add and mixes
 * the value it got, so threads picking concurrently each draw a distinct
 * element of one SplitMix64 sequence (the construction of Java's
 * SplittableRandom; passes BigCrush). The state is seeded from the monotonic
 * clock and the model's address.
 *
 * Why not a thread-local xorshift: in a dlopen'ed module a _Thread_local is
 * dynamic TLS, which made LeakSanitizer's tracer crash at the gateway's exit
 * (so sanitizer builds could not check for leaks), and the initial-exec model
 * that avoids it takes static TLS surplus that is never given back if plugins
 * are one day unloaded and reloaded. One atomic add per pick costs what
 * leastload's tie rotation already costs.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include "infergate/plugin.h"

#define GOLDEN_GAMMA UINT64_C(0x9e3779b97f4a7c15)

typedef struct {
    _Atomic uint64_t state;
} random_model_t;

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static int rnd_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = (void *)host;
    return 0;
}

static void rnd_fini(void *state)
{
}

static int rnd_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    random_model_t *m = malloc(sizeof(*m));
    if (m == NULL)
        return host->error(err, "out of memory");
    atomic_init(&m->state, mix64(host->now_ms() ^ (uint64_t)(uintptr_t)m));
    model->lb_model_state = m;
    return 0;
}

static void rnd_model_free(void *state, ig_model_t *model)
{
    free(model->lb_model_state);
    model->lb_model_state = NULL;
}

static int rnd_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c,
                    size_t n)
{
    random_model_t *m = model->lb_model_state;
    if (n == 0)
        return -1;
    uint64_t x = mix64(atomic_fetch_add_explicit(&m->state, GOLDEN_GAMMA, memory_order_relaxed) + GOLDEN_GAMMA);
    /* the high 32 bits scaled to [0, n) (Lemire): no modulo, bias below n / 2^32 */
    return (int)(((x >> 32) * (uint64_t)n) >> 32);
}

static const ig_lb_vtable_t rnd_vtable = {
    .size = sizeof(ig_lb_vtable_t),
    .model_init = rnd_model_init,
    .model_free = rnd_model_free,
    .pick = rnd_pick,
};

static const char *const rnd_aliases[] = {"Random", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "random",
    .kind = IG_PLUGIN_LB,
    .version = "0.1.0",
    .description = "a uniformly random endpoint (benchmark baseline)",
    .aliases = rnd_aliases,
    .init = rnd_init,
    .fini = rnd_fini,
    .vtable = &rnd_vtable,
};
