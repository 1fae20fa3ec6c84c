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
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_EMBEDDING,
    .prepare = prepare,
    .on_response_data = data,
    .on_response_end = end,
};

/* the options struct is this one string: plugins.options.test_engine2.apiKey */
static const ig_option_decl_t options[] = {{"apiKey", IG_OPT_STRING, NULL, "required by the test", 0, 0, 0}, {NULL}};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "test_engine2",
    .kind = IG_PLUGIN_ENGINE,
    .options = options,
    .options_size = sizeof(const char *),
    .vtable = &vtable,
};
