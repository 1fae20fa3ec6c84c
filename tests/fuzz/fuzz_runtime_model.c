/*
 * fuzz_runtime_model.c — libFuzzer target for PUT /admin/models/{name}'s body: the bytes are the
 * change (a models[] entry or a KubeAI Model manifest, JSON or YAML) applied to a small
 * configuration through ig_config_load_runtime(), against builtin test plugins, files off; what
 * validates is turned into the manifest the gateway would store (ig_config_runtime_manifest) and
 * loaded again from that.
 *
 * Invariants checked: a config comes back exactly when no error was reported, and every error names
 * where it is; an accepted body gives the model named by the URL, marked runtime; its stored form
 * exists, loads too, gives the same model (fields as typed values) and stores as itself again.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"

static int prepare(void *s, ig_engine_req_t *r, ig_error_t *e)
{
    return 0;
}
static void data(void *s, ig_engine_req_t *r, const char *d, size_t n, ig_sink_t *k)
{
}
static void end(void *s, ig_engine_req_t *r, int c, ig_sink_t *k)
{
}
static int pick(void *s, const ig_model_t *m, const ig_lb_request_t *r, ig_endpoint_t *const *c, size_t n)
{
    return 0;
}

static const ig_engine_vtable_t engine_vt = {.size = sizeof(ig_engine_vtable_t),
                                             .features = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_TEXT_EMBEDDING,
                                             .prepare = prepare,
                                             .on_response_data = data,
                                             .on_response_end = end};
static const ig_lb_vtable_t lb_vt = {.size = sizeof(ig_lb_vtable_t), .pick = pick};
static const char *const engine_aliases[] = {"VLLM", "TE", NULL};
static const char *const lb_aliases[] = {"LeastLoad", NULL};
static const ig_plugin_t builtins[] = {
    {IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "test_engine", IG_PLUGIN_ENGINE, .aliases = engine_aliases,
     .vtable = &engine_vt},
    {IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "test_lb", IG_PLUGIN_LB, .aliases = lb_aliases, .vtable = &lb_vt},
};

/* stateDir points nowhere: no runtime files, only the change */
static const char config[] = "server: {stateDir: /nonexistent/ig-fuzz-runtime}\n"
                             "plugins: {load: [test_engine, test_lb]}\n"
                             "resourceProfiles: {gpu: {devices: [0, 1]}}\n"
                             "scheduler: {priorityClasses: {high: 10}}\n"
                             "models:\n"
                             "  - {name: base, engine: TE, endpoints: [\"http://127.0.0.1:1\"], adapters: [{name: a, url: x}]}\n";

static ig_plugin_host_t *host;

static void setup(void)
{
    char msg[512];
    host = ig_plugin_host_create(NULL);
    ig_plugin_host_allow_files(host, 0);
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!ig_plugin_host_add_builtin(host, &builtins[i], msg, sizeof(msg))) {
            fprintf(stderr, "fuzz_runtime_model: builtin refused: %s\n", msg);
            abort();
        }
    ig_log_set_level(IG_LOG_ERROR);
}

static ig_config_t *load(const char *text, size_t len, ig_errors_t *errs)
{
    ig_runtime_change_t ch = {.name = "m", .text = text, .len = len, .text_name = "request body"};
    ig_config_t *cfg = ig_config_load_runtime("fuzz.yaml", config, sizeof(config) - 1, host, &ch, errs);
    if ((cfg != NULL) != (errs->count == 0))
        abort(); /* failure without a message, or a message without failure */
    for (size_t i = 0; i < errs->count; i++)
        if (!strstr(errs->items[i], ": "))
            abort(); /* every error names where it is */
    return cfg;
}

static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    if (na != nb)
        return 0;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return 0;
    return 1;
}

static int same_model(const ig_model_config_t *a, const ig_model_config_t *b)
{
    return strcmp(a->model.name, b->model.name) == 0 && strcmp(a->model.engine, b->model.engine) == 0 &&
           strcmp(a->model.served_name, b->model.served_name) == 0 && a->model.features == b->model.features &&
           same_list(a->model.args, a->model.nargs, b->model.args, b->model.nargs) &&
           same_list((const char *const *)a->endpoints, a->nendpoints, (const char *const *)b->endpoints, b->nendpoints) &&
           a->min_replicas == b->min_replicas && a->max_replicas == b->max_replicas &&
           a->target_requests == b->target_requests && a->model.nadapters == b->model.nadapters &&
           a->model.nenv == b->model.nenv && !!a->model.url == !!b->model.url &&
           (!a->model.url || strcmp(a->model.url, b->model.url) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    if (!host)
        setup();
    ig_errors_t errs = {0};
    ig_config_t *cfg = load((const char *)bytes, size, &errs);
    ig_errors_clear(&errs);
    if (cfg == NULL)
        return 0;
    const ig_model_config_t *m = ig_config_find_model(cfg, "m", 1);
    if (!m || !m->runtime || cfg->nmodels != 2)
        abort();
    size_t len = 0, len2 = 0;
    char *stored = ig_config_runtime_manifest("m", (const char *)bytes, size, &len);
    if (!stored)
        abort(); /* what validates can be stored */
    ig_config_t *again = load(stored, len, &errs);
    if (!again) {
        for (size_t i = 0; i < errs.count; i++)
            fprintf(stderr, "%s\n", errs.items[i]);
        fprintf(stderr, "--- stored:\n%s\n", stored);
        abort(); /* and what is stored loads */
    }
    const ig_model_config_t *m2 = ig_config_find_model(again, "m", 1);
    if (!m2 || !same_model(m, m2))
        abort();
    char *stored2 = ig_config_runtime_manifest("m", stored, len, &len2);
    if (!stored2 || len2 != len || memcmp(stored, stored2, len) != 0)
        abort(); /* storing is idempotent */
    free(stored2);
    free(stored);
    ig_config_free(again);
    ig_config_free(cfg);
    ig_errors_clear(&errs);
    return 0;
}
