#include "vllm_lora.h"
#include <stdio.h>
#include <string.h>
#include "openai_compat.h"

#define LOAD_STALE_MS 120000 /* a load whose request vanished without a word is taken over after this */
#define NO_RUNTIME_RECHECK_MS 60000 /* an endpoint without runtime loading is asked again after this */

enum {
    FLAG_SENT_AFTER_LOAD = 1, /* this request's adapter was loaded on its endpoint (or found loaded) */
    FLAG_SENT_AS_IS = 2,      /* the endpoint cannot load adapters at runtime: sent for its --lora-modules */
};

const char *vllm_lora_path(const char *url)
{
    if (url == NULL)
        return NULL;
    if (strncmp(url, "hf://", 5) == 0 && url[5] != '\0')
        return url + 5;
    if (strncmp(url, "file://", 7) == 0 && url[7] == '/')
        return url + 7;
    if (url[0] == '/')
        return url;
    return NULL;
}

int vllm_lora_check(const ig_host_t *host, const ig_model_t *model, ig_error_t *err)
{
    for (size_t i = 0; i < model->nadapters; i++)
        if (vllm_lora_path(model->adapters[i].url) == NULL)
            return host->error(err,
                               "adapters[%zu].url \"%s\": vLLM's /v1/load_lora_adapter takes a Hugging Face repo "
                               "(hf://org/repo) or a local path (file:///path, /path); or turn loading off with "
                               "plugins.options.vllm.loadAdapters: false",
                               i, model->adapters[i].url ? model->adapters[i].url : "");
    return 0;
}

static const ig_adapter_t *adapter_of(const ig_engine_req_t *r)
{
    for (size_t i = 0; i < r->model->nadapters; i++) {
        const ig_adapter_t *a = &r->model->adapters[i];
        if (strlen(a->name) == r->adapter.len && memcmp(a->name, r->adapter.ptr, r->adapter.len) == 0)
            return a;
    }
    return NULL;
}

/* The memory's key: "name=path", so a reload that points the name at another path loads it afresh. */
static ig_str_t key_of(const ig_engine_req_t *r, const ig_adapter_t *a)
{
    const char *path = vllm_lora_path(a->url);
    size_t n = strlen(a->name) + 1 + strlen(path);
    char *k = r->host->palloc(r->pool, n + 1);
    snprintf(k, n + 1, "%s=%s", a->name, path);
    return (ig_str_t){k, n};
}

int vllm_lora_before_send(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, const ig_endpoint_t *ep,
                          ig_engine_control_t *ctl, ig_error_t *err)
{
    const ig_adapter_t *a = r->adapter.len ? adapter_of(r) : NULL;
    *oac_plugin_data(r) = ep;
    if (a == NULL)
        return IG_ENGINE_SEND;
    const char *url = host->endpoint_url(ep);
    ig_str_t key = key_of(r, a);
    if (!host->endpoint_healthy(ep))
        epm_forget(mem, url, key); /* it may have restarted without the adapter: a load is cheap to repeat */
    switch (epm_claim(mem, url, key, host->now_ms(), LOAD_STALE_MS, NO_RUNTIME_RECHECK_MS)) {
    case EPM_YES:
        *oac_plugin_flags(r) |= FLAG_SENT_AFTER_LOAD;
        return IG_ENGINE_SEND;
    case EPM_NO: /* no runtime loading there (or out of memory): the engine has it from --lora-modules or not */
        *oac_plugin_flags(r) |= FLAG_SENT_AS_IS;
        return IG_ENGINE_SEND;
    case EPM_PENDING:
        return IG_ENGINE_WAIT; /* another request is loading it on this endpoint */
    default: {
        const char *lora_path = vllm_lora_path(a->url);
        ig_str_t name = oac_json_literal(r, a->name, strlen(a->name));
        ig_str_t path = oac_json_literal(r, lora_path, strlen(lora_path));
        size_t n = 30 + name.len + path.len;
        char *body = host->palloc(r->pool, n);
        int len = snprintf(body, n, "{\"lora_name\":%.*s,\"lora_path\":%.*s}", (int)name.len, name.ptr, (int)path.len,
                           path.ptr);
        ctl->method = IG_STR("POST");
        ctl->path = IG_STR("/v1/load_lora_adapter");
        ctl->body = (ig_str_t){body, (size_t)len};
        return IG_ENGINE_CONTROL;
    }
    }
}

static int contains(const char *body, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; body != NULL && i + n <= len; i++)
        if (memcmp(body + i, needle, n) == 0)
            return 1;
    return 0;
}

int vllm_lora_control_done(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, const ig_endpoint_t *ep, int status,
                           const char *body, size_t len, ig_error_t *err)
{
    const ig_adapter_t *a = adapter_of(r);
    const char *url = host->endpoint_url(ep);
    ig_str_t key = key_of(r, a);
    if (status == 200 || (status == 400 && contains(body, len, "has already been loaded"))) {
        host->log(IG_LOG_INFO, "vllm", "%s: LoRA adapter %s loaded from %s", url, a->name, vllm_lora_path(a->url));
        epm_set(mem, url, key, EPM_YES, host->now_ms());
        return 0;
    }
    if (status == 404 && contains(body, len, "\"detail\"")) {
        /* no such route: vLLM runs without VLLM_ALLOW_RUNTIME_LORA_UPDATING; the adapter may be one of
         * its --lora-modules. Send as it is, and do not ask this endpoint again. */
        host->log(IG_LOG_WARN, "vllm",
                  "%s: runtime LoRA loading is off (VLLM_ALLOW_RUNTIME_LORA_UPDATING); adapter %s is sent as it is",
                  url, a->name);
        epm_set(mem, url, key, EPM_NO, host->now_ms());
        return 0;
    }
    epm_forget(mem, url, key);
    if (status == 0)
        return 0; /* the endpoint failed: the core retries or answers */
    host->log(IG_LOG_WARN, "vllm", "%s: loading LoRA adapter %s from %s failed: HTTP %d: %.*s", url, a->name,
              vllm_lora_path(a->url), status, (int)(len > 300 ? 300 : len), body ? body : "");
    err->status = 502;
    err->type = "server_error";
    err->code = "adapter_load_failed";
    return host->error(err, "the engine could not load LoRA adapter \"%s\" (%s): HTTP %d", a->name,
                       vllm_lora_path(a->url), status);
}

int vllm_lora_response_end(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    const ig_adapter_t *a = r->adapter.len ? adapter_of(r) : NULL;
    const ig_endpoint_t *ep = *oac_plugin_data(r);
    unsigned flags = *oac_plugin_flags(r);
    if (a == NULL || ep == NULL || !complete || r->upstream_status != 404 ||
        !(flags & (FLAG_SENT_AFTER_LOAD | FLAG_SENT_AS_IS)))
        return 0;
    ig_str_t msg;
    if (!oac_error_message(r, &msg) || !contains(msg.ptr, msg.len, "does not exist"))
        return 0;
    char text[600];
    int n;
    if (flags & FLAG_SENT_AS_IS) {
        /* nothing to retry: this engine only serves the adapters it was started with */
        n = snprintf(text, sizeof(text),
                     "model `%s_%s`: the engine does not have LoRA adapter \"%s\" and cannot load adapters at run "
                     "time; start it with --lora-modules %s=%s, or with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True",
                     r->model->name, a->name, a->name, a->name, vllm_lora_path(a->url));
    } else {
        /* we believed it loaded: the engine restarted (or someone unloaded it). The next request loads it. */
        epm_forget(mem, host->endpoint_url(ep), key_of(r, a));
        n = snprintf(text, sizeof(text),
                     "model `%s_%s`: LoRA adapter \"%s\" was no longer loaded on the engine (it restarted?); it is "
                     "loaded again for the next request",
                     r->model->name, a->name, a->name);
    }
    r->client_status = 503;
    oac_write_error(r, sink, "server_error", "adapter_not_loaded", text,
                    n < 0 ? 0 : (size_t)n >= sizeof(text) ? sizeof(text) - 1 : (size_t)n);
    oac_discard(r);
    return 1;
}
