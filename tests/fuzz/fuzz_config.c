/*
 * fuzz_config.c — libFuzzer target for the config loader: bytes go through
 * ig_config_load_buffer() (libyaml, structure checks, every section's
 * validation, plugin option parsing) against builtin copies of the unit
 * tests' plugins, with loading from files disabled.
 *
 * Invariants checked: a config is returned exactly when no error was
 * reported; every error is "file:...: message"-shaped; a returned config is
 * internally consistent (every model resolved, findable by name).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"
#include "../unit/plugins/test_counters.h"

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

static const ig_engine_vtable_t engine_vt = {.size = sizeof(ig_engine_vtable_t), .features = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_RERANKING,
                                             .prepare = prepare,
                                             .on_response_data = data,
                                             .on_response_end = end};
static const ig_engine_vtable_t engine2_vt = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_EMBEDDING, .prepare = prepare, .on_response_data = data, .on_response_end = end};
static const ig_lb_vtable_t lb_vt = {.size = sizeof(ig_lb_vtable_t), .pick = pick};

/* the same declarations as the unit tests' plugins, into the same structs */
#define TE_OPT(field) offsetof(test_engine_options_t, field)
#define LBM_OPT(field) offsetof(test_lb_model_options_t, field)
static const ig_option_decl_t engine_opts[] = {{"greeting", IG_OPT_STRING, "hello", NULL, 0, 0, TE_OPT(greeting)},
                                               {"retries", IG_OPT_INT, "3", NULL, 0, 10, TE_OPT(retries)},
                                               {"verbose", IG_OPT_BOOL, "false", NULL, 0, 0, TE_OPT(verbose)},
                                               {"timeout", IG_OPT_DURATION, "5s", NULL, 1, 60000, TE_OPT(timeout_ms)},
                                               {"tags", IG_OPT_STRING_LIST, "[a, b]", NULL, 0, 0, TE_OPT(tags)},
                                               {NULL}};
static const ig_option_decl_t engine2_opts[] = {{"apiKey", IG_OPT_STRING, NULL, NULL, 0, 0, 0}, {NULL}};
static const ig_option_decl_t lb_opts[] = {
    {"seed", IG_OPT_INT, "42", NULL, 0, 1000, offsetof(test_lb_options_t, seed)}, {NULL}};
static const ig_option_decl_t lb_model_opts[] = {
    {"meanLoadFactor", IG_OPT_INT, "125", NULL, 100, 1000, LBM_OPT(mean_load_factor)},
    {"prefixCharLength", IG_OPT_INT, "100", NULL, 1, 10000, LBM_OPT(prefix_char_length)},
    {"window", IG_OPT_DURATION, "1s", NULL, 0, 0, LBM_OPT(window_ms)},
    {NULL}};
static const char *const engine_aliases[] = {"TestEngine", "TE", NULL};
static const char *const lb_aliases[] = {"TestLB", "LeastLoad", NULL};

static const ig_plugin_t builtins[] = {
    {IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "test_engine", IG_PLUGIN_ENGINE, .aliases = engine_aliases,
     .options = engine_opts, .options_size = sizeof(test_engine_options_t), .vtable = &engine_vt},
    {IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "test_engine2", IG_PLUGIN_ENGINE, .options = engine2_opts,
     .options_size = sizeof(const char *), .vtable = &engine2_vt},
    {IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "test_lb", IG_PLUGIN_LB, .aliases = lb_aliases, .options = lb_opts,
     .options_size = sizeof(test_lb_options_t), .model_options = lb_model_opts,
     .model_options_size = sizeof(test_lb_model_options_t), .model_options_key = "testLb", .vtable = &lb_vt},
};

static ig_plugin_host_t *host;

static void setup(void)
{
    char msg[512];
    host = ig_plugin_host_create(NULL);
    ig_plugin_host_allow_files(host, 0);
    for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++)
        if (!ig_plugin_host_add_builtin(host, &builtins[i], msg, sizeof(msg))) {
            fprintf(stderr, "fuzz_config: builtin refused: %s\n", msg);
            abort();
        }
    ig_log_set_level(IG_LOG_ERROR); /* KubeAI-field warnings would flood the output */
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    if (!host)
        setup();
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_buffer("fuzz.yaml", (const char *)bytes, size, host, &errs);
    if ((cfg != NULL) != (errs.count == 0))
        abort(); /* failure without a message, or a message without failure */
    for (size_t i = 0; i < errs.count; i++)
        if (!strstr(errs.items[i], ": "))
            abort(); /* every error names where it is */
    if (cfg) {
        for (size_t i = 0; i < cfg->nmodels; i++) {
            const ig_model_config_t *m = &cfg->models[i];
            if (!m->model.name || !m->engine_plugin || !m->lb_plugin || !m->model.served_name || !m->file)
                abort();
            if (ig_config_find_model(cfg, m->model.name, strlen(m->model.name)) != m)
                abort(); /* names are unique */
            if (m->lb_plugin->desc->model_options && !m->model.lb_options)
                abort();
        }
        for (size_t i = 0; i < cfg->nplugins; i++)
            if (!cfg->plugins[i].plugin || !cfg->plugins[i].options)
                abort();
        if (cfg->server.nlisten == 0 || cfg->server.workers < 1 || cfg->server.workers > 256)
            abort();
    }
    ig_config_free(cfg);
    ig_errors_clear(&errs);
    return 0;
}
