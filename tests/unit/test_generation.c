/*
 * test_generation.c — a generation's life: create (plugin init in load order,
 * model_init for engine and strategy, endpoints resolved), find_model (exact,
 * <model>_<adapter>, unknown), release (model_free, fini, endpoint release),
 * and all-or-nothing teardown when a plugin or a model refuses.
 * Call counts come from the test plugins (test_counters.h) through dlsym.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include "config/generation.h"
#include "ig_test.h"
#include "test_counters.h"

static ig_test_counters_t *engine_counters, *lb_counters;

static const char base_config[] = "plugins:\n"
                                  "  dir: ./test-plugins\n"
                                  "  load: [test_engine, test_lb]\n"
                                  "  options: {test_engine: {greeting: %s}}\n"
                                  "models:\n"
                                  "  - name: llama\n"
                                  "    engine: test_engine\n"
                                  "    endpoints: [\"http://127.0.0.1:9001\", \"http://127.0.0.1:9002/\"]\n"
                                  "    adapters: [{name: sql, url: hf://a/sql}, {name: chat.v2, url: hf://a/chat}]\n"
                                  "  - name: llama_base\n"
                                  "    engine: TE\n"
                                  "    endpoints: [\"http://127.0.0.1:9001\"]\n"
                                  "    adapters: [{name: x, url: hf://a/x}]\n"
                                  "  - name: %s\n"
                                  "    engine: test_engine\n"
                                  "    url: %s\n"
                                  "    endpoints: [\"http://127.0.0.1:9003\"]\n"
                                  "  - name: m4\n"
                                  "    engine: test_engine\n"
                                  "    resourceProfile: cpu:1\n"
                                  "resourceProfiles: {cpu: {}}\n";

static ig_generation_t *create(ig_plugin_host_t *host, ig_endpoint_registry_t *reg, const char *greeting,
                               const char *third_name, const char *third_url, char **joined)
{
    char text[2048];
    snprintf(text, sizeof(text), base_config, greeting, third_name, third_url);
    ig_errors_t errs = {0};
    ig_generation_t *gen = NULL;
    ig_config_t *cfg = ig_config_load_buffer("gen.yaml", text, strlen(text), host, &errs);
    if (cfg)
        gen = ig_generation_build(cfg, 7, reg, &errs);
    *joined = ig_errors_join(&errs);
    ig_errors_clear(&errs);
    return gen;
}

static void find_counters(ig_plugin_host_t *host)
{
    char msg[512];
    const ig_loaded_plugin_t *te = ig_plugin_host_load(host, "./test-plugins", "test_engine", msg, sizeof(msg));
    const ig_loaded_plugin_t *lb = ig_plugin_host_load(host, "./test-plugins", "test_lb", msg, sizeof(msg));
    engine_counters = te ? dlsym(te->dl, "test_engine_counters") : NULL;
    lb_counters = lb ? dlsym(lb->dl, "test_lb_counters") : NULL;
}

static void lifecycle(ig_plugin_host_t *host, ig_endpoint_registry_t *reg)
{
    char *err;
    ig_generation_t *gen = create(host, reg, "hi", "m3", "hf://ok", &err);
    if (!CHECKF(gen != NULL, "create failed:\n%s", err)) {
        free(err);
        return;
    }
    free(err);
    CHECK(gen->id == 7 && atomic_load(&gen->refcount) == 1);
    CHECK(gen->nplugins == 2 && gen->nmodels == 4);
    CHECK(engine_counters->init == 1 && engine_counters->live_instances == 1);
    CHECK(lb_counters->init == 1 && lb_counters->live_instances == 1);
    CHECK(engine_counters->model_init == 4 && lb_counters->model_init == 4);
    CHECK(gen->plugins[0].desc == gen->config->plugins[0].plugin->desc && gen->plugins[0].state != NULL);

    const ig_model_rt_t *rt = &gen->models[0];
    CHECK(rt->cfg == &gen->config->models[0]);
    CHECK(rt->engine == gen->plugins[0].desc->vtable && rt->engine_plugin_state == gen->plugins[0].state);
    CHECK(rt->lb == gen->plugins[1].desc->vtable && rt->lb_plugin_state == gen->plugins[1].state);
    CHECK(rt->cfg->model.engine_model_state != NULL && rt->cfg->model.lb_model_state != NULL);
    /* endpoints: shared between models through the registry, trailing slash or not */
    CHECK(rt->nendpoints == 2 && gen->models[1].nendpoints == 1);
    if (rt->nendpoints == 2 && gen->models[1].nendpoints == 1) {
        CHECK(rt->endpoints[0] == gen->models[1].endpoints[0]);
        CHECK(atomic_load(&rt->endpoints[0]->refcount) == 2);
        CHECK(atomic_load(&rt->endpoints[1]->refcount) == 1);
    }
    CHECK(gen->models[3].nendpoints == 0);

    /* lookups */
    ig_str_t ad;
    const ig_model_rt_t *m;
    m = ig_generation_find_model(gen, "llama", 5, &ad);
    CHECK(m == &gen->models[0] && ad.len == 0);
    m = ig_generation_find_model(gen, "llama_sql", 9, &ad);
    CHECK(m == &gen->models[0] && ad.len == 3 && memcmp(ad.ptr, "sql", 3) == 0);
    m = ig_generation_find_model(gen, "llama_chat.v2", 13, &ad);
    CHECK(m == &gen->models[0] && ad.len == 7 && memcmp(ad.ptr, "chat.v2", 7) == 0);
    /* a model whose name has '_' wins over model "llama" + adapter "base" (no such adapter anyway) */
    m = ig_generation_find_model(gen, "llama_base", 10, &ad);
    CHECK(m == &gen->models[1] && ad.len == 0);
    /* split at the rightmost '_' first: llama_base + x */
    m = ig_generation_find_model(gen, "llama_base_x", 12, &ad);
    CHECK(m == &gen->models[1] && ad.len == 1 && ad.ptr[0] == 'x');
    CHECK(ig_generation_find_model(gen, "llama_nope", 10, &ad) == NULL && ad.len == 0);
    CHECK(ig_generation_find_model(gen, "llama_", 6, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "_sql", 4, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "llam", 4, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "llamaa", 6, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "", 0, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "llama\0sql", 9, &ad) == NULL);
    CHECK(ig_generation_find_model(gen, "m3", 2, &ad) == &gen->models[2]);
    CHECK(ig_generation_find_model(gen, "m4xyz", 2, &ad) == &gen->models[3]); /* len counts, not NUL */

    /* references: release only frees at zero */
    ig_endpoint_t *ep = gen->models[0].endpoints[0];
    ig_generation_retain(gen);
    ig_generation_release(gen);
    CHECK(engine_counters->fini == 0 && engine_counters->model_free == 0);
    ig_generation_release(gen);
    CHECK(engine_counters->fini == 1 && lb_counters->fini == 1);
    CHECK(engine_counters->model_free == 4 && lb_counters->model_free == 4);
    CHECK(engine_counters->live_models == 0 && lb_counters->live_models == 0);
    CHECK(engine_counters->live_instances == 0 && lb_counters->live_instances == 0);
    /* the registry keeps the endpoint, without our references */
    CHECK(atomic_load(&ep->refcount) == 0);
}

static void all_or_nothing(ig_plugin_host_t *host, ig_endpoint_registry_t *reg)
{
    char *err;
    memset(engine_counters, 0, sizeof(*engine_counters));
    memset(lb_counters, 0, sizeof(*lb_counters));

    /* third model refused by the engine: the others' state is freed, plugins finished */
    ig_generation_t *gen = create(host, reg, "hi", "m3", "fail:please", &err);
    CHECK(gen == NULL);
    CHECKF(err && strstr(err, "gen.yaml:14: models[2]: engine \"test_engine\" refused model \"m3\": url fail:please is "
                              "refused by the test engine"),
           "got:\n%s", err ? err : "");
    free(err);
    CHECK(engine_counters->model_init == 3 && engine_counters->model_free == 3);
    CHECK(lb_counters->model_init == 3 && lb_counters->model_free == 3);
    CHECK(engine_counters->init == 1 && engine_counters->fini == 1);
    CHECK(lb_counters->init == 1 && lb_counters->fini == 1);

    /* refused by the strategy after the engine accepted: the engine's model_free still runs */
    memset(engine_counters, 0, sizeof(*engine_counters));
    memset(lb_counters, 0, sizeof(*lb_counters));
    gen = create(host, reg, "hi", "lbfail-model", "hf://ok", &err);
    CHECK(gen == NULL);
    CHECKF(err && strstr(err, "models[2]: strategy \"test_lb\" refused model \"lbfail-model\""), "got:\n%s",
           err ? err : "");
    free(err);
    CHECK(engine_counters->model_init == 4 && engine_counters->model_free == 4);
    CHECK(lb_counters->model_init == 3 && lb_counters->model_free == 3);
    CHECK(engine_counters->live_instances == 0 && lb_counters->live_instances == 0);

    /* a plugin's init fails: nothing after it starts, everything before it is finished */
    memset(engine_counters, 0, sizeof(*engine_counters));
    memset(lb_counters, 0, sizeof(*lb_counters));
    gen = create(host, reg, "fail-init", "m3", "hf://ok", &err);
    CHECK(gen == NULL);
    CHECKF(err && strstr(err, "gen.yaml:3: plugins.load[0]: plugin \"test_engine\" failed to start: greeting "
                              "\"fail-init\" makes init fail"),
           "got:\n%s", err ? err : "");
    free(err);
    CHECK(engine_counters->init == 0 && lb_counters->init == 0);
    CHECK(engine_counters->model_init == 0 && lb_counters->fini == 0);

    /* an invalid config never reaches the plugins */
    ig_errors_t errs = {0};
    CHECK(ig_generation_create("configs/bad-unknown-engine.yaml", 1, host, reg, &errs) == NULL);
    CHECK(errs.count > 0 && engine_counters->init == 0);
    ig_errors_clear(&errs);
    /* every good config becomes a generation: config.c and endpoint.c agree on what an endpoint is */
    const char *goods[] = {"configs/good-full.yaml", "configs/good-manifests.yaml"};
    for (size_t i = 0; i < 2; i++) {
        gen = ig_generation_create(goods[i], 3, host, reg, &errs);
        char *j = ig_errors_join(&errs);
        CHECKF(gen != NULL, "%s:\n%s", goods[i], j ? j : "");
        free(j);
        ig_generation_release(gen);
        ig_errors_clear(&errs);
    }
    CHECK(engine_counters->live_instances == 0 && engine_counters->live_models == 0);
    /* and a valid file works through ig_generation_create too */
    gen = ig_generation_create("configs/good-minimal.yaml", 2, host, reg, &errs);
    CHECK(gen != NULL && errs.count == 0 && gen->id == 2);
    ig_generation_release(gen);
    CHECK(engine_counters->live_instances == 0 && engine_counters->live_models == 0);
    ig_errors_clear(&errs);
}

static void without_registry(ig_plugin_host_t *host)
{
    /* validation-only use (infergate -t): endpoints are not resolved */
    char *err;
    ig_generation_t *gen = create(host, NULL, "hi", "m3", "hf://ok", &err);
    CHECKF(gen != NULL, "%s", err);
    free(err);
    if (gen) {
        CHECK(gen->models[0].nendpoints == 0);
        ig_str_t ad;
        CHECK(ig_generation_find_model(gen, "llama_sql", 9, &ad) == &gen->models[0]);
    }
    ig_generation_release(gen);
    ig_generation_release(NULL);
}

static void many_models(ig_plugin_host_t *host, ig_endpoint_registry_t *reg)
{
    /* enough names to force probing in the open-addressing table */
    size_t cap = 300 * 120 + 256, off = 0;
    char *text = malloc(cap);
    off += (size_t)snprintf(text + off, cap - off,
                            "plugins: {dir: ./test-plugins, load: [test_engine, test_lb]}\nmodels:\n");
    for (int i = 0; i < 300; i++)
        off += (size_t)snprintf(text + off, cap - off,
                                "  - {name: model-%d, engine: TE, endpoints: [\"http://127.0.0.1:%d\"]}\n", i,
                                10000 + i % 7);
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_buffer("many.yaml", text, off, host, &errs);
    ig_generation_t *gen = cfg ? ig_generation_build(cfg, 1, reg, &errs) : NULL;
    CHECKF(gen != NULL, "%zu errors", errs.count);
    if (gen) {
        CHECK(gen->lookup_mask + 1 >= 600 && ((gen->lookup_mask + 1) & gen->lookup_mask) == 0);
        int found = 0;
        for (int i = 0; i < 300; i++) {
            char name[32];
            ig_str_t ad;
            int n = snprintf(name, sizeof(name), "model-%d", i);
            found += ig_generation_find_model(gen, name, (size_t)n, &ad) == &gen->models[i];
        }
        CHECK(found == 300);
        ig_str_t ad;
        CHECK(ig_generation_find_model(gen, "model-300", 9, &ad) == NULL);
    }
    ig_generation_release(gen);
    ig_errors_clear(&errs);
    free(text);
}

int main(void)
{
    ig_plugin_host_t *host = ig_plugin_host_create(ig_plugin_host_api());
    ig_endpoint_registry_t *reg = ig_endpoint_registry_create();
    find_counters(host);
    if (!CHECK(engine_counters && lb_counters))
        return ig_test_summary();
    lifecycle(host, reg);
    all_or_nothing(host, reg);
    without_registry(host);
    many_models(host, reg);
    ig_endpoint_registry_free(reg);
    ig_plugin_host_free(host);
    return ig_test_summary();
}
