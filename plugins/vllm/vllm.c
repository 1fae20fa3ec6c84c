/*
 * vllm — engine plugin for vLLM's OpenAI-compatible server.
 *
 * Requests go to the same OpenAI paths with "model" set to the served name
 * (or the LoRA adapter's name), and streams ask for usage so every token can
 * be billed; answers get the client's model name back and engine errors in
 * OpenAI's shape (plugins/common/openai_compat.c does the JSON work).
 */
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"
#include "oac_rerank.h"
#include "openai_compat.h"
#include "vllm_lora.h"
#include "vllm_metrics.h"
#include "util/api.h"

/* KubeAI's URL schemes for vLLM models, and file:///path for a model on this machine (vllm serve /path).
 * The core refuses s3/gs/oss/pvc for replicas it runs itself: vLLM cannot load them as they are. */
static const char *const url_schemes[] = {"hf://", "s3://", "gs://", "oss://", "pvc://", "file:///", NULL};

typedef struct {
    const ig_host_t *host;
    epm_t *loaded;     /* (endpoint, adapter) → loaded: the process state, kept across reloads */
    int load_adapters; /* plugins.options.vllm.loadAdapters */
} vllm_t;

/* plugins.options.vllm */
typedef struct {
    int load_adapters;
} vllm_options_t;

static const ig_option_decl_t vllm_options[] = {
    {"loadAdapters", IG_OPT_BOOL, "true",
     "load a model's adapters into vLLM on first use (POST /v1/load_lora_adapter, per endpoint)", 0, 0,
     offsetof(vllm_options_t, load_adapters)},
    {NULL},
};

static int vllm_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    *process_state = epm_create();
    return *process_state ? 0 : host->error(err, "out of memory");
}

static void vllm_unload(void *process_state)
{
    epm_free(process_state);
}

static int vllm_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    vllm_t *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return host->error(err, "out of memory");
    v->host = host;
    v->loaded = ctx->process_state;
    v->load_adapters = ((const vllm_options_t *)ctx->options)->load_adapters;
    *state = v;
    return 0;
}

static void vllm_fini(void *state)
{
    free(state);
}

static int vllm_before_send(void *state, ig_engine_req_t *r, const ig_endpoint_t *ep, ig_engine_control_t *ctl,
                            ig_error_t *err)
{
    vllm_t *v = state;
    if (!v->load_adapters || r->adapter.len == 0)
        return IG_ENGINE_SEND;
    return vllm_lora_before_send(v->host, v->loaded, r, ep, ctl, err);
}

static int vllm_on_control_done(void *state, ig_engine_req_t *r, const ig_endpoint_t *ep, int status, const char *body,
                                size_t len, ig_error_t *err)
{
    vllm_t *v = state;
    return vllm_lora_control_done(v->host, v->loaded, r, ep, status, body, len, err);
}

static int vllm_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    if (((vllm_t *)state)->load_adapters && vllm_lora_check(host, model, err) != 0)
        return -1;
    if (model->url == NULL)
        return 0;
    for (const char *const *s = url_schemes; *s != NULL; s++)
        if (strncmp(model->url, *s, strlen(*s)) == 0)
            return 0;
    return host->error(err, "url \"%s\": vLLM serves hf://, s3://, gs://, oss://, pvc:// or file:///path models",
                       model->url);
}

static void vllm_model_free(void *state, ig_model_t *model)
{
}

static int vllm_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    const char *path = ig_api_path(r->api); /* vLLM serves every OpenAI path (rerank also as /rerank and /v2/rerank) */
    if (path == NULL)
        return r->host->error(err, "model `%s`: this API is not served by the vllm engine plugin", r->model->name);
    if (r->nform != 0) /* Whisper models: the form is spliced, the audio forwarded as the client sent it */
        return oac_prepare_form(r, path, oac_upstream_model(r), err);
    if (r->api == IG_API_RERANK)
        return oac_rerank_prepare(r, path, oac_upstream_model(r), err);
    /* usage on every chunk: a stream the client leaves is billed exactly for what was generated */
    return oac_prepare_flags(r, path, oac_upstream_model(r), OAC_USAGE_PER_CHUNK, err);
}

static void vllm_on_response_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    oac_on_response_data(r, data, len, sink);
}

static void vllm_on_response_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    vllm_t *v = state;
    if (v->load_adapters && vllm_lora_response_end(v->host, v->loaded, r, complete, sink))
        return; /* an adapter the engine lost: answered 503, forgotten */
    oac_on_response_end(r, complete, sink);
}

/* The health checker's load signal: requests running and waiting, and KV-cache use, from /metrics. */
static int vllm_parse_load(void *state, const char *body, size_t len, ig_engine_load_t *out)
{
    return vllm_parse_metrics(body, len, out);
}

/*
 * How the scheduler starts vLLM for a model without static endpoints: `vllm serve` on the model's
 * hf:// (or other) reference, bound to loopback on the port it is given, serving the name the
 * gateway sends. Runtime LoRA loading is allowed so adapters can be loaded on demand.
 */
static const char *const vllm_launch_argv[] = {"vllm", "serve", "{model_ref}", "--host", "{host}", "--port", "{port}",
                                               "--served-model-name", "{served_name}", NULL};
static const char *const vllm_launch_env[] = {"VLLM_ALLOW_RUNTIME_LORA_UPDATING=True", NULL};
static const ig_launch_recipe_t vllm_launch = {
    .argv = vllm_launch_argv,
    .env = vllm_launch_env,
    .device_env = "CUDA_VISIBLE_DEVICES",
};

static const ig_engine_vtable_t vllm_vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_TEXT_EMBEDDING | IG_FEATURE_RERANKING | IG_FEATURE_SPEECH_TO_TEXT,
    .health_path = "/health",
    .load_path = "/metrics",
    .parse_load = vllm_parse_load,
    .model_init = vllm_model_init,
    .model_free = vllm_model_free,
    .prepare = vllm_prepare,
    .on_response_data = vllm_on_response_data,
    .on_response_end = vllm_on_response_end,
    .before_send = vllm_before_send,
    .on_control_done = vllm_on_control_done,
    .launch = &vllm_launch,
};

static const char *const vllm_aliases[] = {"VLLM", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "vllm",
    .kind = IG_PLUGIN_ENGINE,
    .version = "0.1.0",
    .description = "vLLM's OpenAI-compatible server: chat, completions, embeddings, rerank and score, audio transcriptions and translations, LoRA adapters",
    .aliases = vllm_aliases,
    .options = vllm_options,
    .options_size = sizeof(vllm_options_t),
    .load = vllm_load,
    .unload = vllm_unload,
    .init = vllm_init,
    .fini = vllm_fini,
    .vtable = &vllm_vtable,
};
