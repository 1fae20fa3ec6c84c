/*
 * test_runtime_models.c — models made at run time (config_runtime.c): manifests in <stateDir>/models
 * read after the file's models (one model a file, named after it; a name the file defines too is
 * left to the file), a change replacing or removing one before anything is written (a models[]
 * entry named by the URL, or a manifest; JSON or YAML; errors naming the body and the field), the
 * manifest PUT stores (block YAML that loads back to the same fields), and a generation built
 * from it all.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config/config.h"
#include "config/generation.h"
#include "ig_test.h"

static char state[256], models_dir[300];
static char config[2048];

static void write_file(const char *name, const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", models_dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void remove_file(const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", models_dir, name);
    remove(path);
}

/* The config plus the runtime models and change; errors joined into *joined (caller frees). */
static ig_config_t *load(ig_plugin_host_t *host, const ig_runtime_change_t *change, char **joined)
{
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_runtime("main.yaml", config, strlen(config), host, change, &errs);
    *joined = ig_errors_join(&errs);
    ig_errors_clear(&errs);
    return cfg;
}

static const ig_model_config_t *find(const ig_config_t *cfg, const char *name)
{
    return cfg ? ig_config_find_model(cfg, name, strlen(name)) : NULL;
}

static const char manifest_fmt[] = "apiVersion: kubeai.org/v1\n"
                                   "kind: Model\n"
                                   "metadata:\n"
                                   "  name: %s\n"
                                   "spec:\n"
                                   "  engine: TE\n"
                                   "  endpoints: [\"http://127.0.0.1:%d\"]\n";

static void manifest(const char *file, const char *name, int port)
{
    char text[512];
    snprintf(text, sizeof(text), manifest_fmt, name, port);
    write_file(file, text);
}

static void test_files(ig_plugin_host_t *host)
{
    char *errs;
    ig_config_t *cfg = load(host, NULL, &errs);
    CHECKF(cfg && cfg->nmodels == 1, "no runtime models yet: %s", errs);
    ig_config_free(cfg);
    free(errs);

    mkdir(models_dir, 0700);
    manifest("rt.yaml", "rt", 9101);
    manifest("zz.yaml", "zz", 9102);
    write_file(".rt.yaml.tmp", "not: [yaml"); /* in the making: ignored */
    write_file("notes.txt", "ignored");
    cfg = load(host, NULL, &errs);
    CHECKF(cfg && cfg->nmodels == 3, "%s", errs);
    const ig_model_config_t *m = find(cfg, "rt");
    CHECK(m && m->runtime && strstr(m->file, "/models/rt.yaml") && m->line == 1);
    CHECK(m && m->config_json && strcmp(m->config_json, "{\"engine\":\"TE\",\"endpoints\":[\"http://127.0.0.1:9101\"]}") == 0);
    CHECK(find(cfg, "llama") && !find(cfg, "llama")->runtime);
    CHECK(cfg && strcmp(cfg->models[1].model.name, "rt") == 0 && strcmp(cfg->models[2].model.name, "zz") == 0);
    ig_config_free(cfg);
    free(errs);

    /* the file wins a name in both places (a warning), so a model added to the YAML takes over */
    manifest("llama.yaml", "llama", 9109);
    cfg = load(host, NULL, &errs);
    CHECKF(cfg && cfg->nmodels == 3 && !find(cfg, "llama")->runtime, "%s", errs);
    ig_config_free(cfg);
    free(errs);
    remove_file("llama.yaml");

    /* one model a file, named after it; errors name the file and line */
    manifest("other.yaml", "not-other", 9103);
    cfg = load(host, NULL, &errs);
    CHECKF(!cfg && strstr(errs, "/models/other.yaml:1: metadata.name: \"not-other\" differs from the file's name"),
           "%s", errs);
    free(errs);
    remove_file("other.yaml");
    char two[1024];
    snprintf(two, sizeof(two), manifest_fmt, "two", 9104);
    strcat(two, "---\n");
    size_t n = strlen(two);
    snprintf(two + n, sizeof(two) - n, manifest_fmt, "three", 9105);
    write_file("two.yaml", two);
    cfg = load(host, NULL, &errs);
    CHECKF(!cfg && strstr(errs, "/models/two.yaml:9: a runtime model file holds one model"), "%s", errs);
    free(errs);
    remove_file("two.yaml");
    write_file("bad.yaml", "apiVersion: kubeai.org/v1\nkind: Model\nmetadata: {name: bad}\nspec:\n  engine: TE\n  endpoints: [x]\n");
    cfg = load(host, NULL, &errs);
    CHECKF(!cfg && strstr(errs, "/models/bad.yaml:6: spec.endpoints[0]: "), "%s", errs);
    free(errs);
    remove_file("bad.yaml");
}

static void test_changes(ig_plugin_host_t *host)
{
    char *errs;
    /* an entry without a name: the URL names it */
    const char *json = "{\"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:9201\"], \"minReplicas\": 0}";
    ig_runtime_change_t ch = {.name = "new", .text = json, .len = strlen(json), .text_name = "request body"};
    ig_config_t *cfg = load(host, &ch, &errs);
    const ig_model_config_t *m = find(cfg, "new");
    CHECKF(cfg && cfg->nmodels == 4 && m && m->runtime && strcmp(m->file, "request body") == 0, "%s", errs);
    CHECK(m && strcmp(m->config_json, "{\"engine\":\"TE\",\"endpoints\":[\"http://127.0.0.1:9201\"],\"minReplicas\":0}") == 0);
    ig_config_free(cfg);
    free(errs);

    /* replacing a stored one: its file is left out */
    json = "{\"name\": \"rt\", \"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:9202\"]}";
    ch = (ig_runtime_change_t){.name = "rt", .text = json, .len = strlen(json), .text_name = "request body"};
    cfg = load(host, &ch, &errs);
    m = find(cfg, "rt");
    CHECKF(cfg && cfg->nmodels == 3 && m && strcmp(m->endpoints[0], "http://127.0.0.1:9202") == 0, "%s", errs);
    ig_config_free(cfg);
    free(errs);

    /* removing one */
    ch = (ig_runtime_change_t){.name = "zz", .text_name = "request body"};
    cfg = load(host, &ch, &errs);
    CHECKF(cfg && cfg->nmodels == 2 && !find(cfg, "zz"), "%s", errs);
    ig_config_free(cfg);
    free(errs);

    /* a manifest in YAML */
    char yaml[512];
    snprintf(yaml, sizeof(yaml), manifest_fmt, "yam", 9203);
    ch = (ig_runtime_change_t){.name = "yam", .text = yaml, .len = strlen(yaml), .text_name = "request body"};
    cfg = load(host, &ch, &errs);
    CHECKF(cfg && find(cfg, "yam") && find(cfg, "yam")->runtime, "%s", errs);
    ig_config_free(cfg);
    free(errs);

    static const struct {
        const char *name, *text, *want;
    } bad[] = {
        {"x", "{\"engine\": \"nope\", \"endpoints\": [\"http://127.0.0.1:1\"]}", "request body:1: engine: unknown engine \"nope\""},
        {"x", "{\"name\": \"y\", \"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:1\"]}",
         "request body:1: name: \"y\" is not the model this request changes (\"x\")"},
        {"x", "apiVersion: kubeai.org/v1\nkind: Model\nmetadata: {name: y}\nspec: {engine: TE, endpoints: [\"http://a:1\"]}\n",
         "request body:1: metadata.name: \"y\" is not the model this request changes"},
        {"llama", "{\"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:1\"]}", "model \"llama\" is defined in main.yaml:"},
        {"x", "{\"engine\": \"TE\"}", "request body:1: no endpoints and no resourceProfile"},
        {"x", "[1]", "request body:1: expected"},
        {"x", "", "request body: empty"},
        {"x", "{\"engine\": \"TE\", \"endpoints\": [\"http://a:1\"]}\n---\n{}\n", "a second YAML document"},
        {"x", "engine: TE\nendpoints: [\"http://a:1\"]\nbogus: 1\n", "request body:3: unknown key \"bogus\""},
        {"x", "{\"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:9101\"], \"adapters\": [{\"name\": \"a\", \"url\": \"hf://x\"}]}", NULL},
        {"x_a", "{\"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:1\"]}", NULL},
        {"llama_a", "{\"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:1\"]}",
         "request body:1: metadata.name: model name \"llama_a\" is ambiguous"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ch = (ig_runtime_change_t){.name = bad[i].name, .text = bad[i].text, .len = strlen(bad[i].text), .text_name = "request body"};
        cfg = load(host, &ch, &errs);
        if (bad[i].want)
            CHECKF(!cfg && strstr(errs, bad[i].want), "case %zu: want \"%s\", got:\n%s", i, bad[i].want, errs);
        else
            CHECKF(cfg != NULL, "case %zu: %s", i, errs);
        ig_config_free(cfg);
        free(errs);
    }
}

/* What PUT stores loads back to the same fields, and to the same generation. */
static void test_stored_form(ig_plugin_host_t *host, ig_endpoint_registry_t *reg)
{
    const char *json = "{\"name\": \"st\", \"engine\": \"TE\", \"endpoints\": [\"http://127.0.0.1:9301\"], "
                       "\"args\": [\"--x=1\", \"yes\", \"0.5\", \"~\", \"a: b\", \"#c\", \"\"], "
                       "\"pricing\": {\"prompt\": \"0.000008\"}, \"env\": {\"K\": \"v w\"}, \"minReplicas\": 0}";
    size_t len = 0;
    char *text = ig_config_runtime_manifest("st", json, strlen(json), &len);
    CHECK(text != NULL && len == strlen(text));
    if (!text)
        return;
    CHECKF(strstr(text, "\napiVersion: kubeai.org/v1\nkind: Model\nmetadata:\n  name: st\nspec:\n  engine: TE\n"),
           "%s", text);
    CHECKF(strstr(text, "\"yes\"") && strstr(text, "\"0.5\"") && strstr(text, "\"~\"") && !strstr(text, "name: st\n  name"),
           "%s", text);
    write_file("st.yaml", text);
    char *errs;
    ig_errors_t e = {0};
    ig_runtime_change_t ch = {.name = "st", .text = json, .len = strlen(json), .text_name = "request body"};
    ig_config_t *direct = ig_config_load_runtime("main.yaml", config, strlen(config), host, &ch, &e);
    ig_config_t *stored = load(host, NULL, &errs);
    const ig_model_config_t *a = find(direct, "st"), *b = find(stored, "st");
    CHECKF(a && b, "%s", errs);
    if (a && b) {
        CHECKF(strcmp(b->config_json, "{\"engine\":\"TE\",\"endpoints\":[\"http://127.0.0.1:9301\"],\"args\":[\"--x=1\","
                                      "\"yes\",\"0.5\",\"~\",\"a: b\",\"#c\",\"\"],\"pricing\":{\"prompt\":\"0.000008\"},"
                                      "\"env\":{\"K\":\"v w\"},\"minReplicas\":0}") == 0,
               "stored: %s", b->config_json);
        CHECK(b->line == IG_RUNTIME_MANIFEST_LINE);
        CHECK(a->model.nargs == 7 && b->model.nargs == 7);
        for (size_t i = 0; i < a->model.nargs && i < b->model.nargs; i++)
            CHECKF(strcmp(a->model.args[i], b->model.args[i]) == 0, "arg %zu: %s vs %s", i, a->model.args[i], b->model.args[i]);
    }
    ig_errors_clear(&e);
    free(errs);
    ig_config_free(direct);
    /* and the whole thing makes a generation */
    ig_errors_t ge = {0};
    ig_generation_t *gen = stored ? ig_generation_build(stored, 2, reg, &ge) : NULL;
    ig_str_t adapter;
    CHECKF(gen && ig_generation_find_model(gen, "st", 2, &adapter) != NULL, "%s", ge.count ? ge.items[0] : "");
    ig_errors_clear(&ge);
    if (gen)
        ig_generation_release(gen);
    free(text);
    /* a manifest is stored as given (comments aside) */
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "# mine\n%s", manifest_fmt);
    char filled[600];
    snprintf(filled, sizeof(filled), yaml, "mf", 9302);
    text = ig_config_runtime_manifest("mf", filled, strlen(filled), &len);
    CHECKF(text && strstr(text, "kind: Model\nmetadata:\n  name: mf\nspec:\n  engine: TE\n  endpoints:\n  - http://127.0.0.1:9302\n"),
           "%s", text ? text : "(null)");
    free(text);
    remove_file("st.yaml");
}

/* models: DIR may not be the runtime folder: a model would be the file's and the API's at once. */
static void test_models_dir_is_runtime_dir(ig_plugin_host_t *host)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "server: {stateDir: \"%s\"}\nplugins: {dir: ./test-plugins, load: [test_engine, test_lb]}\nmodels: \"%s\"\n",
             state, models_dir);
    manifest("rt.yaml", "rt", 9101);
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_runtime("dir.yaml", text, strlen(text), host, NULL, &errs);
    char *joined = ig_errors_join(&errs);
    CHECKF(!cfg && strstr(joined, "where the admin API keeps the models it makes"), "%s", joined);
    free(joined);
    ig_errors_clear(&errs);
    ig_config_free(cfg);
}

int main(void)
{
    char dir[] = "/tmp/ig-runtime-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(state, sizeof(state), "%s/state", dir);
    snprintf(models_dir, sizeof(models_dir), "%s/models", state);
    mkdir(state, 0700);
    snprintf(config, sizeof(config),
             "server: {stateDir: \"%s\"}\n"
             "plugins: {dir: ./test-plugins, load: [test_engine, test_lb]}\n"
             "models:\n"
             "  - name: llama\n"
             "    engine: test_engine\n"
             "    endpoints: [\"http://127.0.0.1:9001\"]\n"
             "    adapters: [{name: a, url: hf://x/a}]\n",
             state);
    ig_plugin_host_t *host = ig_plugin_host_create(ig_plugin_host_api());
    ig_endpoint_registry_t *reg = ig_endpoint_registry_create();
    test_files(host);
    test_changes(host);
    test_stored_form(host, reg);
    test_models_dir_is_runtime_dir(host);
    ig_endpoint_registry_free(reg);
    ig_plugin_host_free(host);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return ig_test_summary();
}
