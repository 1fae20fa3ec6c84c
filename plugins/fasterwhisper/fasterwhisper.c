/*
 * fasterwhisper — engine plugin for faster-whisper-server (now speaches): OpenAI's audio API,
 * /v1/audio/transcriptions and /v1/audio/translations, for SpeechToText models.
 *
 * The client's multipart form is forwarded as spans of its own body (the audio is never copied),
 * with the `model` part set to the name the server loads (servedModelName, else the hf:// repo of
 * the model's url, else its name). Answers of every response_format, and SSE streams, pass
 * through untouched; usage is the audio's duration in seconds (see README.md for where it comes
 * from). plugins/common/openai_compat.c does the form splice, the usage and the error shapes.
 */
#include <string.h>
#include "infergate/plugin.h"
#include "openai_compat.h"
#include "util/api.h"

static int fw_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = NULL;
    return 0;
}

static void fw_fini(void *state)
{
}

static int fw_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    if (model->url != NULL && strncmp(model->url, "hf://", 5) != 0 && strncmp(model->url, "file:///", 8) != 0)
        return host->error(err, "url \"%s\": faster-whisper-server loads hf:// models (e.g. hf://Systran/faster-whisper-small) "
                           "or a directory on its machine (file:///path)", model->url);
    if (model->nadapters != 0)
        return host->error(err, "faster-whisper-server has no LoRA adapters (model \"%s\" lists %zu)", model->name,
                           model->nadapters);
    return 0;
}

static void fw_model_free(void *state, ig_model_t *model)
{
}

/* faster-whisper-server loads whatever model the request names: the Hugging Face repo. The core
 * defaults served_name to the model's name, so only a servedModelName that says otherwise wins. */
static ig_str_t upstream_model(const ig_model_t *m)
{
    const char *n = m->served_name && strcmp(m->served_name, m->name) != 0 ? m->served_name
                    : m->url != NULL ? m->url + (strncmp(m->url, "file://", 7) == 0 ? 7 : 5) /* the repo, or /path */
                                     : m->name;
    return (ig_str_t){n, strlen(n)};
}

static int fw_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    const char *path =
        r->api == IG_API_AUDIO_TRANSCRIPTIONS || r->api == IG_API_AUDIO_TRANSLATIONS ? ig_api_path(r->api) : NULL;
    if (path == NULL || r->nform == 0)
        return r->host->error(err, "model `%s`: faster-whisper-server serves only /v1/audio/transcriptions and "
                                   "/v1/audio/translations", r->model->name);
    return oac_prepare_form(r, path, upstream_model(r->model), err);
}

static void fw_on_response_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    oac_on_response_data(r, data, len, sink);
}

static void fw_on_response_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    oac_on_response_end(r, complete, sink);
}

/* How the scheduler runs faster-whisper-server for a model without static endpoints: its ASGI app
 * under uvicorn on the replica's port, preloading the model's hf:// repo. */
static const char *const fw_launch_argv[] = {"uvicorn", "--factory", "faster_whisper_server.main:create_app",
                                             "--host", "{host}", "--port", "{port}", NULL};
static const char *const fw_launch_env[] = {"WHISPER__MODEL={model_ref}", "ENABLE_UI=false", NULL};
static const ig_launch_recipe_t fw_launch = {
    .argv = fw_launch_argv,
    .env = fw_launch_env,
    .device_env = "CUDA_VISIBLE_DEVICES",
};

static const ig_engine_vtable_t fw_vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_SPEECH_TO_TEXT,
    .health_path = "/health",
    .model_init = fw_model_init,
    .model_free = fw_model_free,
    .prepare = fw_prepare,
    .on_response_data = fw_on_response_data,
    .on_response_end = fw_on_response_end,
    .launch = &fw_launch,
};

static const char *const fw_aliases[] = {"FasterWhisper", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "fasterwhisper",
    .kind = IG_PLUGIN_ENGINE,
    .version = "0.1.0",
    .description = "faster-whisper-server (speaches): audio transcriptions and translations, usage in audio seconds",
    .aliases = fw_aliases,
    .init = fw_init,
    .fini = fw_fini,
    .vtable = &fw_vtable,
};
