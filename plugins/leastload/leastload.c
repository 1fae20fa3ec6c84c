/*
 * leastload — load-balancing strategy: the endpoint with the fewest requests
 * in flight across all worker threads. Ties are broken by a per-model
 * rotating start, so equal endpoints share the load evenly.
 *
 * An endpoint's load is max(in_flight, engine_load). in_flight is this
 * gateway's own view, exact and current, but blind to other clients of the
 * same engine (another gateway replica, a batch job calling it directly).
 * engine_load is what the engine itself reports (vLLM: running + waiting
 * requests from /metrics), which counts everyone but is up to one health
 * check interval old. The larger of the two is the better estimate of how
 * busy the engine is now; without a load report engine_load is 0 and this
 * is plain least-in-flight.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include "infergate/plugin.h"

typedef struct {
    atomic_uint next; /* where the next scan starts */
} leastload_model_t;

static int ll_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = (void *)host;
    return 0;
}

static void ll_fini(void *state)
{
}

static int ll_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    leastload_model_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return host->error(err, "out of memory");
    model->lb_model_state = m;
    return 0;
}

static void ll_model_free(void *state, ig_model_t *model)
{
    free(model->lb_model_state);
    model->lb_model_state = NULL;
}

static int ll_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *candidates,
                   size_t n)
{
    const ig_host_t *host = state;
    leastload_model_t *m = model->lb_model_state;
    size_t start = atomic_fetch_add_explicit(&m->next, 1, memory_order_relaxed) % n;
    size_t best = start;
    uint32_t best_load = UINT32_MAX;
    for (size_t k = 0; k < n; k++) {
        size_t i = (start + k) % n;
        uint32_t load = host->endpoint_in_flight(candidates[i]);
        uint32_t reported = host->endpoint_engine_load(candidates[i]);
        if (reported > load)
            load = reported;
        if (load < best_load) {
            best_load = load;
            best = i;
        }
    }
    return (int)best;
}

static const ig_lb_vtable_t ll_vtable = {
    .size = sizeof(ig_lb_vtable_t),
    .model_init = ll_model_init,
    .model_free = ll_model_free,
    .pick = ll_pick,
};

static const char *const ll_aliases[] = {"LeastLoad", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "leastload",
    .kind = IG_PLUGIN_LB,
    .version = "0.1.0",
    .description = "fewest requests in flight (or reported by the engine, if more) across all workers, ties rotated",
    .aliases = ll_aliases,
    .init = ll_init,
    .fini = ll_fini,
    .vtable = &ll_vtable,
};
