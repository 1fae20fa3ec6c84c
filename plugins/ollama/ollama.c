/*
 * ollama — engine plugin for Ollama (https://ollama.com), through its OpenAI layer.
 *
 * A model says `engine: OLlama` and `url: ollama://<tag>`; the engine serves it under that tag,
 * which is what the request's "model" becomes. Chat, completions and embeddings go to Ollama's
 * /v1 paths (plugins/common/openai_compat.c does the JSON work: model splice, stream usage,
 * model name restore, error shape).
 *
 * Before the first request for a tag on an endpoint, GET /api/tags says whether the tag is pulled
 * there (remembered per endpoint in the process state, so reloads keep it); a tag that is not
 * pulled is answered 503 naming it, and so is Ollama's own 404 "model not found, try pulling it
 * first" (the tag was removed since).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "endpoint_memory.h"
#include "infergate/plugin.h"
#include "openai_compat.h"

#define OLLAMA_SCHEME "ollama://"
#define TAGS_CHECK_STALE_MS 30000 /* a check whose request vanished is taken over after this */
#define TAG_MISSING_RECHECK_MS 2000 /* "not pulled" is believed this long, then /api/tags is asked again */

enum { FLAG_TAGS_UNCHECKED = 1 }; /* /api/tags could not tell: send, Ollama's 404 will say */

typedef struct {
    const ig_host_t *host;
    epm_t *tags; /* (endpoint, tag) → pulled or not; the process state */
} ollama_t;

typedef struct {
    char *tag; /* as written in the url */
} ollama_model_t;

static int ollama_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    *process_state = epm_create();
    return *process_state ? 0 : host->error(err, "out of memory");
}

static void ollama_unload(void *process_state)
{
    epm_free(process_state);
}

static int ollama_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    ollama_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return host->error(err, "out of memory");
    o->host = host;
    o->tags = ctx->process_state;
    *state = o;
    return 0;
}

static void ollama_fini(void *state)
{
    free(state);
}

static int ollama_model_init(const ig_host_t *host, void *state, ig_model_t *model, ig_error_t *err)
{
    size_t n = strlen(OLLAMA_SCHEME);
    if (model->url == NULL || strncmp(model->url, OLLAMA_SCHEME, n) != 0 || model->url[n] == '\0')
        return host->error(err, "url %s%s%s: an Ollama model needs url: ollama://<tag> (e.g. ollama://llama3.2:1b)",
                           model->url ? "\"" : "", model->url ? model->url : "missing", model->url ? "\"" : "");
    const char *tag = model->url + n;
    for (const char *c = tag; *c; c++)
        if ((unsigned char)*c <= 0x20 || *c == '"' || *c == '\\')
            return host->error(err, "url \"%s\": the tag may not contain spaces, quotes or backslashes", model->url);
    if (model->nadapters > 0)
        return host->error(err, "adapters: Ollama does not load LoRA adapters by name; build a model with the "
                                "adapter (Modelfile ADAPTER) and give it its own tag");
    ollama_model_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->tag = strdup(tag)) == NULL) {
        free(m);
        return host->error(err, "out of memory");
    }
    model->engine_model_state = m;
    return 0;
}

static void ollama_model_free(void *state, ig_model_t *model)
{
    ollama_model_t *m = model->engine_model_state;
    if (m != NULL)
        free(m->tag);
    free(m);
    model->engine_model_state = NULL;
}

static ig_str_t model_tag(const ig_engine_req_t *r)
{
    const ollama_model_t *m = r->model->engine_model_state;
    return (ig_str_t){m->tag, strlen(m->tag)};
}

static int ollama_prepare(void *state, ig_engine_req_t *r, ig_error_t *err)
{
    const char *path = oac_api_path(r->api);
    if (path == NULL)
        return r->host->error(err, "model `%s`: this API is not served by the ollama engine plugin", r->model->name);
    /* an Ollama too old for stream_options (< 0.5.2) streams no usage: openai_compat then bills the
     * chunks that carry text, exact as Ollama streams one token per chunk */
    return oac_prepare(r, path, model_tag(r), err);
}

/* ---- is the tag pulled? ----------------------------------------------------------------------- */

/* A tag without a version is Ollama's ":latest" (after the last '/', as in "host/ns/name:tag"). */
static ig_str_t tag_version(const char *s, size_t n, ig_str_t *name)
{
    const char *slash = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/')
            slash = s + i;
    const char *from = slash ? slash + 1 : s;
    const char *colon = memchr(from, ':', (size_t)(s + n - from));
    if (colon == NULL) {
        *name = (ig_str_t){s, n};
        return IG_STR("latest");
    }
    *name = (ig_str_t){s, (size_t)(colon - s)};
    return (ig_str_t){colon + 1, (size_t)(s + n - colon - 1)};
}

/* Same model name, case-insensitively (Ollama's names are), ":latest" implied. */
static int tag_eq(ig_str_t a, const char *b, size_t blen)
{
    ig_str_t an, bn;
    ig_str_t av = tag_version(a.ptr, a.len, &an), bv = tag_version(b, blen, &bn);
    return an.len == bn.len && av.len == bv.len && strncasecmp(an.ptr, bn.ptr, an.len) == 0 &&
           strncasecmp(av.ptr, bv.ptr, av.len) == 0;
}

/* /api/tags: {"models":[{"name":"llama3.2:1b","model":"llama3.2:1b",...}]}. 1 listed, 0 not, -1 unreadable. */
static int tags_list(const ig_host_t *h, const char *body, size_t len, ig_str_t tag)
{
    ig_json_value_t root, models, m, name;
    ig_json_iter_t it;
    if (body == NULL || h->json->validate_value(body, len, NULL, &root) != 0 || root.type != IG_JSON_OBJECT ||
        h->json->object_get(&root, "models", 6, &models) != 1)
        return -1;
    if (models.type == IG_JSON_NULL)
        return 0; /* Ollama with nothing pulled */
    if (models.type != IG_JSON_ARRAY)
        return -1;
    h->json->iter_init(&it, &models);
    while (h->json->iter_next(&it, NULL, &m) == 1) {
        if (m.type != IG_JSON_OBJECT)
            continue;
        static const char *const keys[] = {"name", "model"};
        for (size_t k = 0; k < 2; k++) {
            char buf[512];
            size_t n;
            if (h->json->object_get(&m, keys[k], strlen(keys[k]), &name) == 1 && name.type == IG_JSON_STRING &&
                h->json->string_unescape(&name, buf, sizeof(buf), &n) == 0 && tag_eq(tag, buf, n))
                return 1;
        }
    }
    return 0;
}

static int not_pulled(ig_engine_req_t *r, ig_error_t *err)
{
    ig_str_t tag = model_tag(r);
    err->status = 503;
    err->type = "server_error";
    err->code = "model_unavailable";
    return r->host->error(err, "ollama tag \"%.*s\" is not pulled on the engine (ollama pull %.*s)", (int)tag.len,
                          tag.ptr, (int)tag.len, tag.ptr);
}

static int ollama_before_send(void *state, ig_engine_req_t *r, const ig_endpoint_t *ep, ig_engine_control_t *ctl,
                              ig_error_t *err)
{
    ollama_t *o = state;
    *oac_plugin_data(r) = ep; /* for on_response_end: which endpoint answered */
    if (*oac_plugin_flags(r) & FLAG_TAGS_UNCHECKED)
        return IG_ENGINE_SEND;
    const char *url = o->host->endpoint_url(ep);
    switch (epm_claim(o->tags, url, model_tag(r), o->host->now_ms(), TAGS_CHECK_STALE_MS, TAG_MISSING_RECHECK_MS)) {
    case EPM_YES:
        return IG_ENGINE_SEND;
    case EPM_PENDING:
        return IG_ENGINE_WAIT; /* another request is asking /api/tags */
    case EPM_NO:
        return not_pulled(r, err);
    default:
        ctl->method = IG_STR("GET");
        ctl->path = IG_STR("/api/tags");
        return IG_ENGINE_CONTROL;
    }
}

static int ollama_on_control_done(void *state, ig_engine_req_t *r, const ig_endpoint_t *ep, int status, const char *body,
                                  size_t len, ig_error_t *err)
{
    ollama_t *o = state;
    const char *url = o->host->endpoint_url(ep);
    int listed = status == 200 ? tags_list(o->host, body, len, model_tag(r)) : -1;
    if (listed < 0) {
        /* cannot tell (an old or unusual Ollama, a huge list): send, Ollama's own 404 will say */
        epm_forget(o->tags, url, model_tag(r));
        if (status != 0)
            o->host->log(IG_LOG_WARN, "ollama", "%s: GET /api/tags answered %d without a readable model list", url, status);
        *oac_plugin_flags(r) |= FLAG_TAGS_UNCHECKED;
        return 0;
    }
    epm_set(o->tags, url, model_tag(r), listed ? EPM_YES : EPM_NO, o->host->now_ms());
    return 0; /* before_send answers: send, or 503 */
}

/* ---- answers -------------------------------------------------------------------------------------- */

static void ollama_on_response_data(void *state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    oac_on_response_data(r, data, len, sink);
}

/* Ollama's 404 for a tag it does not have: `model "llama3.2:1b" not found, try pulling it first`. */
static int is_not_found(const ig_str_t *msg)
{
    static const char needle[] = "not found";
    for (size_t i = 0; i + sizeof(needle) - 1 <= msg->len; i++)
        if (strncasecmp(msg->ptr + i, needle, sizeof(needle) - 1) == 0)
            return 1;
    return 0;
}

static void ollama_on_response_end(void *state, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    ollama_t *o = state;
    ig_str_t msg;
    if (complete && r->upstream_status == 404 && oac_error_message(r, &msg) && is_not_found(&msg)) {
        const ig_endpoint_t *ep = *oac_plugin_data(r);
        if (ep != NULL) /* removed since it was checked: believe it missing, check again later */
            epm_set(o->tags, o->host->endpoint_url(ep), model_tag(r), EPM_NO, o->host->now_ms());
        ig_error_t err = {{0}};
        not_pulled(r, &err);
        char text[700];
        int n = snprintf(text, sizeof(text), "model `%s`: %s", r->model->name, err.msg);
        r->client_status = 503;
        oac_write_error(r, sink, err.type, err.code, text, n < 0 ? 0 : (size_t)n >= sizeof(text) ? sizeof(text) - 1 : (size_t)n);
        oac_discard(r);
        return;
    }
    oac_on_response_end(r, complete, sink);
}

/*
 * How the scheduler runs Ollama for a model without static endpoints: `ollama serve` bound to the
 * replica's port (OLLAMA_HOST), then the model's tag pulled before the replica takes requests.
 */
static const char *const ollama_launch_argv[] = {"ollama", "serve", NULL};
static const char *const ollama_launch_env[] = {"OLLAMA_HOST={host}:{port}", NULL};
static const ig_launch_recipe_t ollama_launch = {
    .argv = ollama_launch_argv,
    .env = ollama_launch_env,
    .device_env = "CUDA_VISIBLE_DEVICES",
    .warmup_method = "POST",
    .warmup_path = "/api/pull",
    .warmup_body = "{\"model\":\"{model_ref}\",\"stream\":false}",
};

static const ig_engine_vtable_t ollama_vtable = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_TEXT_EMBEDDING,
    .health_path = "/api/version",
    .model_init = ollama_model_init,
    .model_free = ollama_model_free,
    .prepare = ollama_prepare,
    .on_response_data = ollama_on_response_data,
    .on_response_end = ollama_on_response_end,
    .before_send = ollama_before_send,
    .on_control_done = ollama_on_control_done,
    .launch = &ollama_launch,
};

static const char *const ollama_aliases[] = {"OLlama", "Ollama", NULL};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "ollama",
    .kind = IG_PLUGIN_ENGINE,
    .version = "0.1.0",
    .description = "Ollama's OpenAI layer: chat, completions, embeddings; 503 for tags not pulled",
    .aliases = ollama_aliases,
    .load = ollama_load,
    .unload = ollama_unload,
    .init = ollama_init,
    .fini = ollama_fini,
    .vtable = &ollama_vtable,
};
