/*
 * test_lb.c — a load-balancing plugin for unit tests. Answers to "TestLB" and
 * "LeastLoad" (so configs relying on the default strategy resolve), declares
 * plugin options and per-model options under loadBalancing.testLb, refuses
 * models named "lbfail*", and counts its calls in test_lb_counters.
 */
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"
#include "test_counters.h"

IG_PLUGIN_EXPORT ig_test_counters_t test_lb_counters;

static int lb_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = malloc(8);
    test_lb_counters.init++;
    test_lb_counters.live_instances++;
    return 0;
}

static void lb_fini(void *state)
{
    free(state);
    test_lb_counters.fini++;
    test_lb_counters.live_instances--;
}

static int lb_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    if (strncmp(model->name, "lbfail", 6) == 0)
        return host->error(err, "model %s is refused by the test strategy", model->name);
    if (!model->lb_options)
        return host->error(err, "lb_options missing");
    model->lb_model_state = malloc(8);
    test_lb_counters.model_init++;
    test_lb_counters.live_models++;
    return 0;
}

static void lb_model_free(void *state, ig_model_t *model)
{
    free(model->lb_model_state);
    test_lb_counters.model_free++;
    test_lb_counters.live_models--;
}

static int lb_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c,
                   size_t n)
{
    return n ? 0 : -1;
}

static const ig_lb_vtable_t vtable = {
    .size = sizeof(ig_lb_vtable_t),
    .model_init = lb_model_init,
    .model_free = lb_model_free,
    .pick = lb_pick,
};

static const ig_option_decl_t options[] = {
    {"seed", IG_OPT_INT, "42", "hash seed", 0, 1000, offsetof(test_lb_options_t, seed)}, {NULL}};

static const ig_option_decl_t model_options[] = {
    {"meanLoadFactor", IG_OPT_INT, "125", "percent", 100, 1000, offsetof(test_lb_model_options_t, mean_load_factor)},
    {"prefixCharLength", IG_OPT_INT, "100", "chars", 1, 10000, offsetof(test_lb_model_options_t, prefix_char_length)},
    {"window", IG_OPT_DURATION, "1s", "a duration", 0, 0, offsetof(test_lb_model_options_t, window_ms)},
    {NULL}};

static const char *const aliases[] = {"TestLB", "LeastLoad", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "test_lb",
    .kind = IG_PLUGIN_LB,
    .aliases = aliases,
    .options = options,
    .options_size = sizeof(test_lb_options_t),
    .model_options = model_options,
    .model_options_size = sizeof(test_lb_model_options_t),
    .model_options_key = "testLb",
    .init = lb_init,
    .fini = lb_fini,
    .vtable = &vtable,
};
