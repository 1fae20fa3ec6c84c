/*
 * test_engine2.c — a second engine for unit tests: embeddings only, with a
 * required option (apiKey), no init/fini and no model hooks (all optional).
 */
#include "infergate/plugin.h"

static int prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    return 0;
}

static void data(void *state, ig_engine_req_t *r, const char *d, size_t len, ig_sink_t *sink)
{
}

static void end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
}

static const ig_engine_vtable_t vtable = {
    .features = IG_FEATURE_TEXT_EMBEDDING,
    .prepare = prepare,
    .on_response_data = data,
    .on_response_end = end,
};

static const ig_option_decl_t options[] = {{"apiKey", IG_OPT_STRING, NULL, "required by the test"}, {NULL}};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .name = "test_engine2",
    .kind = IG_PLUGIN_ENGINE,
    .options = options,
    .vtable = &vtable,
};
