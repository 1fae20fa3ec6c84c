/*
 * test_engine.c — an engine plugin for the core's unit tests. Declares one
 * option of every type, serves TextGeneration and Reranking, refuses models
 * whose url starts with "fail:" (to test all-or-nothing generations), and
 * counts its calls in test_engine_counters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"
#include "test_counters.h"

IG_PLUGIN_EXPORT ig_test_counters_t test_engine_counters;

typedef struct {
    char greeting[64];
    int64_t retries;
} engine_state_t;

static int te_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    const test_engine_options_t *opt = ctx->options;
    if (opt->greeting && strcmp(opt->greeting, "fail-init") == 0)
        return host->error(err, "greeting \"fail-init\" makes init fail");
    engine_state_t *s = calloc(1, sizeof(*s));
    if (!s)
        return host->error(err, "out of memory");
    snprintf(s->greeting, sizeof(s->greeting), "%s", opt->greeting);
    s->retries = opt->retries;
    *state = s;
    test_engine_counters.init++;
    test_engine_counters.live_instances++;
    return 0;
}

static void te_fini(void *state)
{
    free(state);
    test_engine_counters.fini++;
    test_engine_counters.live_instances--;
}

static int te_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    if (model->url && strncmp(model->url, "fail:", 5) == 0)
        return host->error(err, "url %s is refused by the test engine", model->url);
    model->engine_model_state = malloc(16); /* something to leak if model_free is not called */
    test_engine_counters.model_init++;
    test_engine_counters.live_models++;
    return 0;
}

static void te_model_free(void *state, ig_model_t *model)
{
    free(model->engine_model_state);
    model->engine_model_state = NULL;
    test_engine_counters.model_free++;
    test_engine_counters.live_models--;
}

static int te_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    return 0;
}

static void te_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    sink->write(sink, data, len);
}

static void te_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
}

static const ig_engine_vtable_t vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_RERANKING,
    .health_path = "/health",
    .model_init = te_model_init,
    .model_free = te_model_free,
    .prepare = te_prepare,
    .on_response_data = te_data,
    .on_response_end = te_end,
};

#define TE_OPT(field) offsetof(test_engine_options_t, field)
static const ig_option_decl_t options[] = {
    {"greeting", IG_OPT_STRING, "hello", "a string option", 0, 0, TE_OPT(greeting)},
    {"retries", IG_OPT_INT, "3", "an integer option", 0, 10, TE_OPT(retries)},
    {"verbose", IG_OPT_BOOL, "false", "a boolean option", 0, 0, TE_OPT(verbose)},
    {"timeout", IG_OPT_DURATION, "5s", "a duration option", 1, 60000, TE_OPT(timeout_ms)},
    {"tags", IG_OPT_STRING_LIST, "[a, b]", "a list option", 0, 0, TE_OPT(tags)},
    {NULL}};

static const char *const aliases[] = {"TestEngine", "TE", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "test_engine",
    .kind = IG_PLUGIN_ENGINE,
    .version = "1.0",
    .description = "engine for unit tests",
    .aliases = aliases,
    .options = options,
    .options_size = sizeof(test_engine_options_t),
    .init = te_init,
    .fini = te_fini,
    .vtable = &vtable,
};
