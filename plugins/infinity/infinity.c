/*
 * infinity — engine plugin for Infinity (michaelfeil/infinity, `infinity_emb v2`), the embedding
 * and reranking server.
 *
 * Embeddings go to Infinity's OpenAI-shaped {urlPrefix}/embeddings (float or base64), reranks to
 * its Cohere-shaped {urlPrefix}/rerank; "model" becomes the served name, answers get the client's
 * model back, usage is what Infinity reports (prompt_tokens = total_tokens), and Infinity's
 * errors ({"error":{...,"type":null}}, FastAPI's 422 {"detail":[...]}) become OpenAI's shape.
 * The JSON work is plugins/common's (openai_compat.c, oac_rerank.c).
 */
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"
#include "oac_rerank.h"
#include "openai_compat.h"

/* Per configuration generation: the engine paths under plugins.options.infinity.urlPrefix. */
typedef struct {
    char embeddings_path[160];
    char rerank_path[160];
} infinity_state_t;

/* plugins.options.infinity */
typedef struct {
    const char *url_prefix;
} infinity_options_t;

static const ig_option_decl_t infinity_options[] = {
    {"urlPrefix", IG_OPT_STRING, "",
     "Infinity's --url-prefix: the prefix of its /embeddings and /rerank routes (\"\" or e.g. \"/v1\")", 0, 0,
     offsetof(infinity_options_t, url_prefix)},
    {NULL},
};

/* KubeAI's URL schemes for Infinity models. */
static const char *const url_schemes[] = {"hf://", "s3://", "gs://", "pvc://", "file:///", NULL};

static int infinity_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    const char *prefix = ((const infinity_options_t *)ctx->options)->url_prefix;
    size_t n = strlen(prefix);
    /* Infinity's own rule for --url-prefix: empty, or starting with '/' and not ending with one */
    if (n > 0 && (prefix[0] != '/' || prefix[n - 1] == '/'))
        return host->error(err, "urlPrefix \"%s\": must be empty or start with '/' and not end with '/' (as Infinity's --url-prefix)", prefix);
    if (n > 100)
        return host->error(err, "urlPrefix: at most 100 characters, got %zu", n);
    infinity_state_t *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return host->error(err, "out of memory");
    memcpy(st->embeddings_path, prefix, n);
    memcpy(st->embeddings_path + n, "/embeddings", sizeof("/embeddings"));
    memcpy(st->rerank_path, prefix, n);
    memcpy(st->rerank_path + n, "/rerank", sizeof("/rerank"));
    *state = st;
    return 0;
}

static void infinity_fini(void *state)
{
    free(state);
}

static int infinity_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    if (model->nadapters != 0)
        return host->error(err, "Infinity serves no LoRA adapters: remove adapters from model `%s`", model->name);
    if (model->url == NULL)
        return 0;
    for (const char *const *s = url_schemes; *s != NULL; s++)
        if (strncmp(model->url, *s, strlen(*s)) == 0)
            return 0;
    return host->error(err, "url \"%s\": Infinity serves hf://, s3://, gs://, pvc:// or file:///path models", model->url);
}

static void infinity_model_free(void *state, ig_model_t *model)
{
}

static int infinity_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    const infinity_state_t *st = state;
    if (r->api == IG_API_EMBEDDINGS)
        return oac_prepare(r, st->embeddings_path, oac_upstream_model(r), err);
    if (r->api == IG_API_RERANK)
        return oac_rerank_prepare(r, st->rerank_path, oac_upstream_model(r), err);
    return r->host->error(err, "model `%s`: Infinity serves embeddings and rerank only, not this API", r->model->name);
}

static void infinity_on_response_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    oac_on_response_data(r, data, len, sink);
}

static void infinity_on_response_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    oac_on_response_end(r, complete, sink);
}

/* How the scheduler runs Infinity for a model without static endpoints (add --url-prefix to the
 * model's args when plugins.options.infinity.urlPrefix is set). */
static const char *const infinity_launch_argv[] = {"infinity_emb", "v2", "--model-id", "{model_ref}",
                                                   "--served-model-name", "{served_name}", "--host", "{host}",
                                                   "--port", "{port}", NULL};
static const ig_launch_recipe_t infinity_launch = {
    .argv = infinity_launch_argv,
    .device_env = "CUDA_VISIBLE_DEVICES",
};

static const ig_engine_vtable_t infinity_vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_EMBEDDING | IG_FEATURE_RERANKING,
    .health_path = "/health", /* never under the url prefix */
    .model_init = infinity_model_init,
    .model_free = infinity_model_free,
    .prepare = infinity_prepare,
    .on_response_data = infinity_on_response_data,
    .on_response_end = infinity_on_response_end,
    .launch = &infinity_launch,
};

static const char *const infinity_aliases[] = {"Infinity", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "infinity",
    .kind = IG_PLUGIN_ENGINE,
    .version = "0.1.0",
    .description = "Infinity (infinity_emb v2): embeddings (float, base64) and rerank",
    .aliases = infinity_aliases,
    .options = infinity_options,
    .options_size = sizeof(infinity_options_t),
    .init = infinity_init,
    .fini = infinity_fini,
    .vtable = &infinity_vtable,
};
