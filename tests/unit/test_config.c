/*
 * test_config.c — ig_config_load() against the files in configs/.
 *
 * Every configs/bad-*.yaml starts with one or more "# expect: <text>" lines;
 * loading it must fail and every <text> (which includes file:line) must
 * appear among the errors. Every configs/good-*.yaml must load; the ones
 * checked below also have their values and defaults verified.
 *
 * Run from the build directory of tests/unit (ctest does): it holds
 * test-plugins/ and a configs -> source symlink, the paths the configs use.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/config.h"
#include "config/config_internal.h"
#include "test_counters.h"
#include "ig_test.h"
#include "plugin/plugin_host.h"

static ig_plugin_host_t *host;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static void run_bad(const char *path)
{
    char *text = read_file(path);
    if (!CHECKF(text != NULL, "%s: cannot read", path))
        return;
    CHECKF(strncmp(text, "# expect: ", 10) == 0, "%s: first line must be \"# expect: ...\"", path);
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load(path, host, &errs);
    char *joined = ig_errors_join(&errs);
    CHECKF(cfg == NULL, "%s: loaded, but it should fail", path);
    CHECKF(errs.count > 0, "%s: failed without any error message", path);
    /* every leading "# expect: " line */
    for (char *line = text; strncmp(line, "# expect: ", 10) == 0;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        const char *want = line + 10;
        CHECKF(joined && strstr(joined, want), "%s: expected an error containing\n    %s\n  got:\n%s", path, want,
               joined ? joined : "(none)");
        if (!nl)
            break;
        line = nl + 1;
    }
    ig_config_free(cfg);
    ig_errors_clear(&errs);
    free(joined);
    free(text);
}

static ig_config_t *load_good(const char *path)
{
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load(path, host, &errs);
    char *joined = ig_errors_join(&errs);
    CHECKF(cfg != NULL && errs.count == 0, "%s: should load, got:\n%s", path, joined ? joined : "");
    free(joined);
    ig_errors_clear(&errs);
    return cfg;
}

static const ig_plugin_config_t *plugin_cfg(const ig_config_t *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    return NULL;
}

static void check_minimal(const ig_config_t *cfg)
{
    const ig_server_config_t *s = &cfg->server;
    CHECK(s->nlisten == 1);
    CHECK(s->nlisten == 1 && strcmp(s->listen[0].address, "127.0.0.1:8080") == 0);
    CHECK(s->nlisten == 1 && strcmp(s->listen[0].host, "127.0.0.1") == 0 && s->listen[0].port == 8080);
    CHECK(s->nlisten == 1 && !s->listen[0].tls);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    CHECKF(s->workers == (cpus > 256 ? 256 : cpus), "workers %d, cpus %ld", s->workers, cpus);
    CHECK(strcmp(s->state_dir, "./var") == 0);
    CHECK(s->max_body_bytes == 16u << 20);
    CHECK(s->connect_timeout_ms == 5000);
    CHECK(s->first_byte_timeout_ms == 120000);
    CHECK(s->idle_timeout_ms == 60000);
    CHECK(strcmp(s->access_log, "-") == 0);
    CHECK(strcmp(s->log_level, "info") == 0);
    CHECK(s->retries == 2);
    CHECK(s->health_check.interval_ms == 5000 && s->health_check.timeout_ms == 2000);
    CHECK(s->health_check.healthy_threshold == 1 && s->health_check.unhealthy_threshold == 3);
    CHECK(s->queue.max_length == 100 && s->queue.timeout_ms == 30000);
    CHECK(s->shutdown_grace_ms == 10000 && s->nadmin_keys == 0 && s->admin_key_hashes == NULL);
    const ig_scheduler_config_t *sc = &cfg->scheduler;
    CHECK(sc->interval_ms == 1000 && sc->time_window_ms == 60000 && sc->stop_grace_ms == 15000);
    CHECK(sc->drain_timeout_ms == 600000 && sc->start_timeout_ms == 1800000);
    CHECK(sc->log_dir == NULL && sc->priority_classes == NULL && sc->npriority_classes == 0);
    CHECK(strcmp(cfg->plugins_dir, "./test-plugins") == 0);
    CHECK(cfg->nplugins == 2);
    CHECK(cfg->nprofiles == 0);
    CHECK(cfg->models_dir == NULL);

    /* plugin option defaults, parsed from the declarations' YAML text */
    const ig_plugin_config_t *te = plugin_cfg(cfg, "test_engine");
    if (CHECK(te && te->plugin && te->options)) {
        const test_engine_options_t *o = te->options;
        CHECK(strcmp(o->greeting, "hello") == 0);
        CHECK(o->retries == 3);
        CHECK(o->verbose == 0);
        CHECK(o->timeout_ms == 5000);
        CHECK(o->tags.len == 2 && strcmp(o->tags.items[0], "a") == 0 && strcmp(o->tags.items[1], "b") == 0);
        CHECK(te->line == 4);
    }

    if (!CHECK(cfg->nmodels == 1))
        return;
    const ig_model_config_t *m = &cfg->models[0];
    CHECK(strcmp(m->model.name, "m1") == 0);
    CHECK(strcmp(m->model.engine, "TestEngine") == 0);
    CHECK(m->engine_plugin && strcmp(m->engine_plugin->desc->name, "test_engine") == 0);
    CHECK(strcmp(m->model.served_name, "m1") == 0);
    CHECK(m->model.url == NULL);
    CHECK(m->model.features == IG_FEATURE_TEXT_GENERATION);
    CHECK(m->nendpoints == 1 && strcmp(m->endpoints[0], "http://127.0.0.1:8000") == 0);
    CHECK(m->resource_profile == NULL);
    CHECK(m->min_replicas == 0 && m->max_replicas == -1 && m->replicas == -1 && !m->autoscaling_disabled);
    CHECK(m->model.owner == NULL && m->model.listed == IG_LISTED_AUTO);
    CHECK(m->target_requests == 100 && m->scale_down_delay_s == 30);
    CHECK(strcmp(m->model.strategy, "LeastLoad") == 0);
    CHECK(m->lb_plugin && strcmp(m->lb_plugin->desc->name, "test_lb") == 0);
    const test_lb_model_options_t *mo = m->model.lb_options;
    CHECK(mo && mo->mean_load_factor == 125 && mo->prefix_char_length == 100 && mo->window_ms == 1000);
    CHECK(m->model.nargs == 0 && m->model.nenv == 0 && m->model.nadapters == 0);
    CHECK(m->model.pricing.prompt == NULL && m->model.openrouter_json == NULL);
    CHECK(memcmp(&m->model.limits, &IG_LIMITS_NONE, sizeof(ig_limits_t)) == 0);
    CHECK(m->line == 6);
    CHECK(strcmp(m->file, "configs/good-minimal.yaml") == 0);
    CHECK(ig_config_find_model(cfg, "m1", 2) == m);
    CHECK(ig_config_find_model(cfg, "m1x", 2) == m);
    CHECK(ig_config_find_model(cfg, "m", 1) == NULL);
}

static void check_full(const ig_config_t *cfg)
{
    const ig_server_config_t *s = &cfg->server;
    if (CHECK(s->nlisten == 3)) {
        CHECK(strcmp(s->listen[0].host, "127.0.0.1") == 0 && s->listen[0].port == 9090);
        CHECK(strcmp(s->listen[1].host, "::1") == 0 && s->listen[1].port == 9091);
        CHECK(strcmp(s->listen[1].address, "[::1]:9091") == 0);
        CHECK(s->listen[2].tls && strcmp(s->listen[2].certificate, "configs/tls/cert.pem") == 0 &&
              strcmp(s->listen[2].key, "configs/tls/key.pem") == 0);
        CHECK(strcmp(s->listen[2].host, "0.0.0.0") == 0 && s->listen[2].port == 9443);
        CHECK(s->listen[2].line == 6);
    }
    CHECK(s->workers == 4);
    CHECK(strcmp(s->state_dir, "/tmp/infergate-state") == 0);
    CHECK(s->max_body_bytes == 512 * 1024);
    CHECK(s->connect_timeout_ms == 250);
    CHECK(s->first_byte_timeout_ms == 120000);
    CHECK(s->idle_timeout_ms == 3600000);
    CHECK(strcmp(s->access_log, "off") == 0);
    CHECK(strcmp(s->log_level, "debug") == 0);
    CHECK(s->retries == 0);
    CHECK(s->health_check.interval_ms == 200 && s->health_check.timeout_ms == 1000);
    CHECK(s->health_check.healthy_threshold == 2 && s->health_check.unhealthy_threshold == 5);
    CHECK(s->queue.max_length == 0 && s->queue.timeout_ms == 120000);

    const ig_plugin_config_t *te = plugin_cfg(cfg, "test_engine");
    if (CHECK(te && te->options)) {
        const test_engine_options_t *o = te->options;
        CHECK(strcmp(o->greeting, "bonjour") == 0);
        CHECK(o->retries == 7);
        CHECK(o->verbose == 1);
        CHECK(o->timeout_ms == 1500);
        CHECK(o->tags.len == 3 && strcmp(o->tags.items[2], "z") == 0);
    }
    const ig_plugin_config_t *te2 = plugin_cfg(cfg, "test_engine2");
    CHECK(te2 && te2->options && strcmp(*(const char *const *)te2->options, "secret") == 0);
    const ig_plugin_config_t *lb = plugin_cfg(cfg, "test_lb");
    CHECK(lb && lb->options && ((const test_lb_options_t *)lb->options)->seed == 9);

    if (CHECK(cfg->nprofiles == 3)) {
        const ig_resource_profile_t *p = &cfg->profiles[0];
        CHECK(strcmp(p->name, "gpu-h100") == 0 && p->ndevices == 4 && p->devices[3] == 3);
        CHECK(p->nenv == 1 && strcmp(p->env[0].key, "CUDA_VISIBLE_DEVICES") == 0 &&
              strcmp(p->env[0].value, "0,1,2,3") == 0);
        CHECK(strcmp(cfg->profiles[1].name, "cpu") == 0 && cfg->profiles[1].ndevices == 0);
        CHECK(strcmp(cfg->profiles[2].name, "empty") == 0);
    }

    if (!CHECK(cfg->nmodels == 2))
        return;
    const ig_model_config_t *m = &cfg->models[0];
    CHECK(strcmp(m->model.name, "qwen25-05b-instruct") == 0);
    CHECK(strcmp(m->model.url, "hf://Qwen/Qwen2.5-0.5B-Instruct") == 0);
    CHECK(strcmp(m->model.served_name, "Qwen/Qwen2.5-0.5B-Instruct") == 0);
    CHECK(m->model.features == (IG_FEATURE_TEXT_GENERATION | IG_FEATURE_RERANKING));
    CHECK(m->nendpoints == 3 && strcmp(m->endpoints[0], "http://127.0.0.1:8000/") == 0 &&
          strcmp(m->endpoints[2], "http://[::1]:8002") == 0);
    CHECK(strcmp(m->resource_profile, "gpu-h100:2") == 0 && m->resource_count == 2);
    CHECK(m->model.nargs == 2 && strcmp(m->model.args[1], "--enforce-eager") == 0);
    CHECK(m->model.nenv == 2 && strcmp(m->model.env[0].key, "HF_HOME") == 0 &&
          strcmp(m->model.env[1].value, "1") == 0);
    CHECK(m->min_replicas == 1 && m->max_replicas == 3 && m->target_requests == 50 && m->scale_down_delay_s == 120);
    CHECK(strcmp(m->model.strategy, "TestLB") == 0 && m->lb_plugin && m->model.lb_options);
    const test_lb_model_options_t *mo = m->model.lb_options;
    if (mo)
        CHECK(mo->mean_load_factor == 150 && mo->prefix_char_length == 100 && mo->window_ms == 2000);
    CHECK(m->model.nadapters == 2 && strcmp(m->model.adapters[1].name, "v1.2-chat") == 0 &&
          strcmp(m->model.adapters[0].url, "hf://org/sql-lora") == 0);
    CHECK(strcmp(m->model.pricing.prompt, "0.000008") == 0);
    CHECK(strcmp(m->model.pricing.completion, "0.000024") == 0); /* a YAML number, kept as written */
    CHECK(strcmp(m->model.pricing.request, "0") == 0);
    CHECK(strcmp(m->model.pricing.input_cache_read, "0.5") == 0);
    CHECK(strcmp(m->model.pricing.audio, "12") == 0);
    CHECK(m->model.limits.requests_per_minute == 600 && m->model.limits.requests_per_hour == 10000);
    CHECK(m->model.limits.tokens_per_minute == 100000 && m->model.limits.tokens_per_hour == -1);
    CHECK(m->model.limits.burst == 20 && m->model.limits.max_concurrent == 8);
    CHECKF(m->model.openrouter_json && strcmp(m->model.openrouter_json, "{\"context_length\":32768,\"quantization\":\"fp16\","
                                                             "\"tags\":[\"fast\",\"cheap\"],\"nested\":{\"ok\":true,"
                                                             "\"none\":null}}") == 0,
           "openrouter_json = %s", m->model.openrouter_json ? m->model.openrouter_json : "(null)");

    const ig_model_config_t *e = &cfg->models[1];
    CHECK(strcmp(e->model.name, "embed") == 0 && e->model.features == IG_FEATURE_TEXT_EMBEDDING);
    CHECK(e->nendpoints == 0 && strcmp(e->resource_profile, "cpu:1") == 0);
    CHECK(e->model.nenv == 2); /* the alias of the first model's env */
    CHECK(e->model.pricing.prompt == NULL);
    CHECK(e->model.limits.requests_per_minute == -1 && e->model.limits.max_concurrent == -1);
}

static void check_manifests(const ig_config_t *cfg)
{
    CHECK(cfg->models_dir && strcmp(cfg->models_dir, "configs/manifests") == 0);
    if (!CHECK(cfg->nmodels == 3))
        return;
    const ig_model_config_t *q = &cfg->models[0], *m1 = &cfg->models[1], *m2 = &cfg->models[2];
    CHECK(strcmp(q->model.name, "qwen-manifest") == 0);
    CHECK(strcmp(q->file, "configs/manifests/a-qwen.yaml") == 0 && q->line == 2);
    CHECK(strcmp(q->model.engine, "TE") == 0 && q->engine_plugin);
    CHECK(strcmp(q->resource_profile, "cpu:1") == 0);
    CHECK(q->model.openrouter_json && strstr(q->model.openrouter_json, "\"context_length\": 32768"));
    CHECK(strcmp(m1->model.name, "multi-one") == 0 && m1->model.nadapters == 1);
    CHECK(strcmp(m1->file, "configs/manifests/b-multi.yaml") == 0 && m1->line == 1);
    CHECK(strcmp(m2->model.name, "multi-two") == 0 && m2->line == 9);
    CHECK(strcmp(m2->model.strategy, "LeastLoad") == 0 && m2->lb_plugin);
}

/* A `kubectl get models -o yaml` export (configs/kubeai-export): KubeAI's fields mean what they mean
 * there, cluster fields are ignored, and the openrouter.ai/json annotation is the model's prices. */
static void check_kubeai_export(const ig_config_t *cfg)
{
    if (!CHECKF(cfg->nmodels == 3, "%zu models", cfg->nmodels))
        return;
    const ig_model_config_t *q = &cfg->models[0], *f = &cfg->models[1], *s = &cfg->models[2];
    CHECK(strcmp(q->model.name, "qwen2-500m-cpu") == 0 && strcmp(q->file, "configs/kubeai-export/all-models.yaml") == 0);
    CHECK(q->line == 4); /* the item's first line */
    CHECK(q->min_replicas == 0 && q->max_replicas == -1 && q->replicas == 2 && !q->autoscaling_disabled);
    CHECK(q->model.owner && strcmp(q->model.owner, "qwen") == 0);
    CHECK(q->model.listed == IG_LISTED_AUTO);
    CHECK(q->model.nenv == 1 && strcmp(q->model.env[0].key, "VLLM_CPU_KVCACHE_SPACE") == 0);
    CHECK(strcmp(q->model.strategy, "LeastLoad") == 0);
    /* the annotation's prices are the model's */
    const ig_pricing_t *p = &q->model.pricing;
    CHECK(p->prompt && strcmp(p->prompt, "0.0000001") == 0);
    CHECK(p->completion && strcmp(p->completion, "0.0000002") == 0);
    CHECK(p->input_cache_read && strcmp(p->input_cache_read, "0.00000005") == 0);
    CHECK(p->request && strcmp(p->request, "0") == 0 && p->audio == NULL);
    CHECK(q->model.pricing_more.input_cache_write && strcmp(q->model.pricing_more.input_cache_write, "0") == 0);
    CHECK(q->model.pricing_more.image && strcmp(q->model.pricing_more.image, "0") == 0);
    CHECK(q->model.pricing_more.web_search == NULL && q->model.pricing_more.internal_reasoning == NULL);
    CHECK(q->model.openrouter_json && strstr(q->model.openrouter_json, "\"quantization\": \"bf16\""));

    CHECK(strcmp(f->model.name, "fixed-two") == 0);
    CHECK(f->autoscaling_disabled && f->replicas == 2 && f->min_replicas == 1 && f->max_replicas == 4);
    CHECK(f->model.owner == NULL); /* owner: "" is KubeAI's "not set" */
    CHECK(f->model.listed == IG_LISTED_NO);
    CHECK(f->model.pricing.prompt == NULL && f->model.pricing.input_cache_read == NULL);

    CHECK(strcmp(s->model.name, "static-one") == 0 && s->line == 3);
    CHECK(s->model.listed == IG_LISTED_YES && s->nendpoints == 1);
    CHECK(strcmp(s->model.url, "s3://bucket/informational-with-endpoints") == 0);
    /* written in both places, the same numbers: the spec's text is kept */
    CHECK(s->model.pricing.prompt && strcmp(s->model.pricing.prompt, "0.0000020") == 0);
    CHECK(s->model.pricing.completion && strcmp(s->model.pricing.completion, "0.000004") == 0);
    CHECK(s->model.pricing.request && strcmp(s->model.pricing.request, "0.0001") == 0);
    CHECK(s->model.pricing.input_cache_read == s->model.pricing.prompt); /* cached tokens at the prompt price */
}

/*
 * The core's sections are declared as rows (plugin_options.h): the checks the
 * plugin host runs on a plugin's declarations hold for them too, and catch
 * what a row may get wrong.
 */
static void declarations(void)
{
    char msg[512];
    CHECKF(ig_options_check_rows(ig_cfg_server_rows, sizeof(ig_server_config_t), msg, sizeof(msg)) == 0, "server: %s",
           msg);
    CHECKF(ig_options_check_rows(ig_cfg_scheduler_rows, sizeof(ig_scheduler_config_t), msg, sizeof(msg)) == 0,
           "scheduler: %s", msg);

    typedef struct {
        unsigned u;
        size_t z;
        const char *s;
        ig_queue_config_t q;
    } t_t;
    static const ig_option_row_t q_rows[] = {
        IG_ROW_AS("maxLength", IG_OPT_INT, IG_FIELD_UNSIGNED, "1", NULL, 0, 5, ig_queue_config_t, max_length),
        {{NULL}}};
    static const struct {
        ig_option_row_t rows[2];
        size_t size;
        const char *want;
    } bad[] = {
        {{IG_ROW_AS("u", IG_OPT_INT, IG_FIELD_UNSIGNED, "1", NULL, 0, 0, t_t, u)}, sizeof(t_t),
         "option \"u\" is stored as unsigned"},
        {{IG_ROW_AS("u", IG_OPT_INT, IG_FIELD_UNSIGNED, "1", NULL, -1, 5, t_t, u)}, sizeof(t_t),
         "option \"u\" is stored as unsigned"},
        {{IG_ROW_AS("z", IG_OPT_BOOL, IG_FIELD_SIZE_T, "true", NULL, 0, 0, t_t, z)}, sizeof(t_t),
         "option \"z\" is stored as size_t"},
        {{IG_ROW_FLAGS("s", IG_OPT_STRING, 0, "-", NULL, t_t, s)}, sizeof(t_t),
         "invalid default for option \"s\": default of the core's option \"s\":1: expected a string, got a list"},
        {{IG_ROW_FLAGS("s", IG_OPT_STRING, IG_ROW_OPTIONAL, "x", NULL, t_t, s)}, sizeof(t_t),
         "option \"s\" is optional and has a default"},
        {{IG_ROW_FLAGS("s", IG_OPT_INT, IG_ROW_NONEMPTY, "1", NULL, t_t, s)}, sizeof(t_t), "must not be empty"},
        {{IG_ROW_SECTION("q", NULL, t_t, q, q_rows)}, offsetof(t_t, q) + 1, "section \"q\" is stored at offset"},
        {{IG_ROW_AS("u", IG_OPT_INT, IG_FIELD_UNSIGNED, "7", NULL, 0, 5, t_t, u)}, sizeof(t_t),
         "invalid default for option \"u\""},
        {{IG_ROW_AS("z", IG_OPT_SIZE, IG_FIELD_SIZE_T, "1KiB", NULL, 0, 0, t_t, z)}, offsetof(t_t, z) + 4,
         "option \"z\" is stored at offset"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        msg[0] = '\0';
        CHECKF(ig_options_check_rows(bad[i].rows, bad[i].size, msg, sizeof(msg)) == -1 && strstr(msg, bad[i].want),
               "row %zu: want \"%s\", got \"%s\"", i, bad[i].want, msg);
    }
    /* a nested section's rows are checked too */
    static const ig_option_row_t bad_q[] = {
        IG_ROW_AS("maxLength", IG_OPT_INT, IG_FIELD_UNSIGNED, "9", NULL, 0, 5, ig_queue_config_t, max_length),
        {{NULL}}};
    const ig_option_row_t nested[] = {IG_ROW_SECTION("q", NULL, t_t, q, bad_q), {{NULL}}};
    CHECK(ig_options_check_rows(nested, sizeof(t_t), msg, sizeof(msg)) == -1 && strstr(msg, "\"maxLength\""));
}

/* Inputs that only make sense in memory: encodings, NULs, odd YAML. */
#define TP "plugins: {dir: ./test-plugins, load: [test_engine, test_lb]}\n"
static void buffer_cases(void)
{
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *want;
    } cases[] = {
        {"server: {workers: 2}\nserver: {workers: 3}\n", 0, "mem:2: duplicate key \"server\" (first at line 1)"},
        {"? [a, b]\n: 1\n", 0, "mem:1: mapping keys must be strings, not lists"},
        {"server:\n  stateDir: \"a\\0b\"\n", 0, "mem:2: server.stateDir: string contains a NUL character"},
        {"server: {stateDir: \xff\xfe}\n", 0, "YAML syntax error"},
        {"server: {database: mysql://x/y}\n", 0,
         "mem:1: server.database: expected a PostgreSQL URL \"postgres://user:password@host:port/db\", got \"mysql://x/y\""},
        {"server: {gatewayId: \"a b\"}\n", 0,
         "mem:1: server.gatewayId: expected 1 to 64 characters from A-Z a-z 0-9 . _ : -, got \"a b\""},
        {"models: *undefined\n", 0, "mem:1: YAML syntax error"},
        {"server: {workers: 99999999999999999999999}\n", 0, "mem:1: server.workers: expected an integer"},
        {"server: {maxBodySize: 99999999999999999999GiB}\n", 0, "mem:1: server.maxBodySize: size "},
        {"server: {connectTimeout: 18446744073709551615h}\n", 0, "is too large"},
        {"server: !!binary {workers: 2}\n", 0, NULL}, /* tags are ignored */
        {"server: {healthCheck: null, queue: ~}\n", 0, NULL}, /* null sections: defaults */
        {"server: {retries: 2.5}\n", 0, "mem:1: server.retries: expected an integer"},
        {"server:\n  queue: [1]\n", 0, "mem:2: server.queue: expected a map"},
        {"server: {healthCheck: {interval: 18446744073709551615h}}\n", 0, "is too large"},
        {"", 0, "mem: no YAML document in the file"},
        {"server: {}\n\0models: []\n", 24, "YAML syntax error"},
        /* the known keys come from the declarations, in their order */
        {"server: {x: 1}\n", 0,
         "mem:1: server: unknown key \"x\" (expected one of: listen, workers, stateDir, maxBodySize, connectTimeout, "
         "firstByteTimeout, idleTimeout, accessLog, logLevel, retries, healthCheck, queue, adminKeys, "
         "shutdownGracePeriod, ui, clientLimits, clientTimeouts, database, gatewayId)"},
        {"server: {clientTimeouts: {sendStall: 2d}}\n", 0, "server.clientTimeouts.sendStall"},
        {"server: {clientLimits: {maxHeaderListBytes: 1GiB}}\n", 0, "server.clientLimits.maxHeaderListBytes"},
        {"server: {clientLimits: {h2ResetBudget: -1}}\n", 0, "server.clientLimits.h2ResetBudget"},
        {"server: {healthCheck: {x: 1}}\n", 0,
         "mem:1: server.healthCheck: unknown key \"x\" (expected one of: interval, timeout, healthyThreshold, "
         "unhealthyThreshold)"},
        {"scheduler: {x: 1}\n", 0,
         "mem:1: scheduler: unknown key \"x\" (expected one of: interval, timeWindow, stopGracePeriod, drainTimeout, "
         "startTimeout, logDir, priorityClasses)"},
        {"server:\n  listen:\n    - {tls: {certificate: configs/tls/cert.pem}}\n", 0,
         "mem:3: server.listen[0]: missing \"address\" (host:port)"},
        {"server:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: {certificate: configs/tls/cert.pem}}\n", 0,
         "mem:3: server.listen[0].tls: missing \"key\" (PEM file)"},
        {"server:\n  listen:\n    - {address: \"127.0.0.1:1\", tls: ~}\n", 0,
         "mem:3: server.listen[0].tls: expected a map, got nothing (null)"},
        {"server: {accessLog: \"\"}\n", 0, "mem:1: server.accessLog: must not be empty"},
        {"scheduler: {logDir: \"\"}\n", 0, "mem:1: scheduler.logDir: must not be empty"},
        {"server: {queue: {maxLength: 100001}}\n", 0, "mem:1: server.queue.maxLength: 100001 is out of range (0..100000)"},
        {"server: {workers: auto, adminKeys: ~, queue: {maxLength: 0}}\nscheduler: {priorityClasses: ~}\n", 0, NULL},
        /* KubeAI URL schemes on a model the gateway runs: refused only when the engine would get {model_ref} */
        {TP "resourceProfiles: {cpu: {}}\nmodels: [{name: a, engine: TE, url: \"s3://b/p\", resourceProfile: cpu:1, "
            "command: [run, \"{url}\"]}]\n", 0, NULL},
        {TP "models: [{name: a, engine: TE, url: \"gs://b/p\", endpoints: [\"http://127.0.0.1:1\"]}]\n", 0, NULL},
        {TP "resourceProfiles: {cpu: {}}\nmodels: [{name: a, engine: TE, url: \"oss://b/p\", resourceProfile: cpu:1, "
            "command: [run, \"--model={model_ref}\"]}]\n", 0, "mem:3: models[0].url: \"oss://b/p\": the engine cannot load oss:// URLs"},
        {TP "resourceProfiles: {cpu: {command: [run, \"{model_ref}\"]}}\nmodels: [{name: a, engine: TE, url: \"pvc://claim\", "
            "resourceProfile: cpu:1}]\n", 0, "set url: file:///<mount path>, or run the engine elsewhere"},
        {TP "resourceProfiles: {cpu: {}}\nmodels: [{name: a, engine: TE, url: \"file:///srv/m\", resourceProfile: cpu:1, "
            "command: [run, \"{model_ref}\"]}]\n", 0, NULL},
        /* KubeAI's replica fields */
        {TP "resourceProfiles: {cpu: {}}\nmodels: [{name: a, engine: TE, resourceProfile: cpu:1, minReplicas: 3}]\n", 0, NULL},
        {TP "resourceProfiles: {cpu: {}}\nmodels: [{name: a, engine: TE, resourceProfile: cpu:1, minReplicas: 3, "
            "maxReplicas: 2}]\n", 0, "mem:3: models[0].maxReplicas: maxReplicas (2) is less than minReplicas (3)"},
        {TP "models: [{name: a, engine: TE, endpoints: [\"http://127.0.0.1:1\"], autoscalingDisabled: maybe}]\n", 0,
         "models[0].autoscalingDisabled: expected true or false"},
        {TP "models: [{name: a, engine: TE, endpoints: [\"http://127.0.0.1:1\"], replicas: -1}]\n", 0,
         "models[0].replicas: -1 is out of range (0..10000)"},
        {TP "models: [{name: a, engine: TE, endpoints: [\"http://127.0.0.1:1\"], listed: sometimes}]\n", 0,
         "models[0].listed: expected true or false"},
        {TP "models: [{name: a, engine: TE, endpoints: [\"http://127.0.0.1:1\"], envFrom: {secretRef: {name: x}}}]\n", 0,
         "models[0].envFrom: expected a list"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ig_errors_t errs = {0};
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        ig_config_t *cfg = ig_config_load_buffer("mem", cases[i].text, len, host, &errs);
        char *joined = ig_errors_join(&errs);
        if (cases[i].want)
            CHECKF(!cfg && joined && strstr(joined, cases[i].want), "case %zu: want \"%s\", got:\n%s", i,
                   cases[i].want, joined ? joined : "");
        else
            CHECKF(cfg != NULL, "case %zu: should load, got:\n%s", i, joined ? joined : "");
        ig_config_free(cfg);
        ig_errors_clear(&errs);
        free(joined);
    }

    /* error flood is capped */
    size_t cap = 200 * 20 + 64, off = 0;
    char *big = malloc(cap);
    off += (size_t)snprintf(big + off, cap - off, "resourceProfiles:\n");
    for (int i = 0; i < 200; i++)
        off += (size_t)snprintf(big + off, cap - off, "  p%d: {x: 1}\n", i);
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_buffer("mem", big, off, host, &errs);
    CHECK(cfg == NULL);
    CHECKF(errs.count == 101, "%zu errors", errs.count);
    CHECK(errs.count && strstr(errs.items[errs.count - 1], "too many errors"));
    ig_errors_clear(&errs);
    free(big);
}

int main(int argc, char **argv)
{
    if (argc > 1 && chdir(argv[1]) != 0) {
        perror(argv[1]);
        return 2;
    }
    host = ig_plugin_host_create(NULL);
    DIR *d = opendir("configs");
    if (!CHECKF(d != NULL, "run me where configs/ and test-plugins/ are (the build dir of tests/unit)"))
        return ig_test_summary();
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512)
        if (strstr(de->d_name, ".yaml") && (!strncmp(de->d_name, "good-", 5) || !strncmp(de->d_name, "bad-", 4)))
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);

    size_t nbad = 0, ngood = 0;
    for (size_t i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof(path), "configs/%s", names[i]);
        if (!strncmp(names[i], "bad-", 4)) {
            run_bad(path);
            nbad++;
        } else {
            ig_config_t *cfg = load_good(path);
            ngood++;
            if (cfg && !strcmp(names[i], "good-minimal.yaml"))
                check_minimal(cfg);
            else if (cfg && !strcmp(names[i], "good-full.yaml"))
                check_full(cfg);
            else if (cfg && !strcmp(names[i], "good-manifests.yaml"))
                check_manifests(cfg);
            else if (cfg && !strcmp(names[i], "good-kubeai-export.yaml"))
                check_kubeai_export(cfg);
            ig_config_free(cfg);
        }
        free(names[i]);
    }
    CHECKF(nbad >= 20 && ngood >= 3, "only %zu bad and %zu good files found", nbad, ngood);
    buffer_cases();
    declarations();
    ig_plugin_host_free(host);
    return ig_test_summary();
}
