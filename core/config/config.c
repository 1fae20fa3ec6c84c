/*
 * config.c — ig_config_load(): one YAML file to a validated, immutable
 * ig_config_t. Sections are read by config_server.c, config_plugins.c,
 * config_profiles.c, config_models.c and config_manifests.c; this file
 * drives them in dependency order (plugins first: models refer to engines
 * and strategies by name) and decides success: the config exists only if
 * no section reported anything.
 */
#include "config/config.h"
#include "config/config_internal.h"
#include "observe/log.h"
#include <stdlib.h>
#include <string.h>

char *ig_cfg_strdup(ig_cfg_ctx_t *c, const char *s)
{
    return s ? ig_arena_strdup(c->a, s) : NULL;
}

static const char *const top_keys[] = {"server", "plugins", "resourceProfiles", "scheduler", "models", NULL};

static ig_config_t *load_document(ig_yaml_t *y, const char *path, ig_plugin_host_t *host, int runtime,
                                  const ig_runtime_set_t *set, const ig_runtime_change_t *change, ig_errors_t *errs)
{
    size_t errs_before = errs->count;
    int r = ig_yaml_next_document(y);
    if (r == 0)
        ig_yaml_error(y, NULL, NULL, "no YAML document in the file");
    if (r != 1)
        return NULL;

    ig_arena_t *a = ig_arena_create();
    ig_config_t *cfg = a ? ig_arena_alloc(a, sizeof(*cfg)) : NULL;
    if (!cfg) {
        ig_arena_destroy(a);
        ig_errors_at(errs, path, 0, "out of memory");
        return NULL;
    }
    cfg->arena = a;
    cfg->path = ig_arena_strdup(a, path);

    ig_cfg_ctx_t c = {
        .y = y, .file = cfg->path, .cfg = cfg, .a = a, .host = host, .errs = errs, .runtime = runtime, .set = set, .change = change};
    yaml_node_t *root = ig_yaml_root(y);
    if (ig_yaml_expect_map(y, root, NULL) == 0) {
        ig_yaml_check_keys(y, root, NULL, top_keys);
        /* order matters: models resolve engines, strategies and profiles */
        ig_cfg_parse_plugins(&c, ig_yaml_map_get(y, root, "plugins"));
        ig_cfg_parse_server(&c, ig_yaml_map_get(y, root, "server"));
        ig_cfg_parse_profiles(&c, ig_yaml_map_get(y, root, "resourceProfiles"));
        ig_cfg_parse_scheduler(&c, ig_yaml_map_get(y, root, "scheduler"));
        ig_cfg_parse_models(&c, ig_yaml_map_get(y, root, "models"));
        ig_cfg_parse_runtime_models(&c); /* after the file's: a name in both stays the file's */
        ig_cfg_check_models(&c);
        ig_cfg_check_addresses(&c);
        ig_cfg_warn_ignored(&c);
    }

    /* one document per config file: a second one is almost always a mistake */
    if (errs->count == errs_before) {
        int line = 0;
        r = ig_yaml_next_document(y);
        if (r == 1) {
            line = ig_yaml_line(ig_yaml_root(y));
            ig_yaml_error_line(y, line, NULL, "a second YAML document; the config is one document");
        }
    }

    if (c.nmodels) {
        cfg->models = ig_arena_array(a, c.nmodels, sizeof(*cfg->models));
        if (cfg->models) {
            memcpy(cfg->models, c.models, c.nmodels * sizeof(*cfg->models));
            cfg->nmodels = c.nmodels;
        } else {
            ig_errors_at(errs, path, 0, "out of memory");
        }
    }
    free(c.models);
    free(c.loaded);
    free(c.failed);
    if (errs->count != errs_before) {
        ig_arena_destroy(a);
        return NULL;
    }
    return cfg;
}

ig_config_t *ig_config_load(const char *path, ig_plugin_host_t *host, ig_errors_t *errs)
{
    ig_yaml_t y;
    if (ig_yaml_open_file(&y, path, errs) != 0) {
        ig_yaml_close(&y);
        return NULL;
    }
    ig_config_t *cfg = load_document(&y, path, host, 1, NULL, NULL, errs);
    ig_yaml_close(&y);
    return cfg;
}

ig_config_t *ig_config_load_runtime(const char *path, const char *text, size_t len, ig_plugin_host_t *host,
                                    const ig_runtime_change_t *change, ig_errors_t *errs)
{
    return ig_config_load_runtime_set(path, text, len, host, NULL, change, errs);
}

ig_config_t *ig_config_load_runtime_set(const char *path, const char *text, size_t len, ig_plugin_host_t *host,
                                        const ig_runtime_set_t *set, const ig_runtime_change_t *change,
                                        ig_errors_t *errs)
{
    ig_yaml_t y;
    if (ig_yaml_open_buffer(&y, path, text, len, errs) != 0) {
        ig_yaml_close(&y);
        return NULL;
    }
    ig_config_t *cfg = load_document(&y, path, host, 1, set, change, errs);
    ig_yaml_close(&y);
    return cfg;
}

ig_config_t *ig_config_load_buffer(const char *name, const char *buf, size_t len, ig_plugin_host_t *host,
                                   ig_errors_t *errs)
{
    ig_yaml_t y;
    if (ig_yaml_open_buffer(&y, name, buf, len, errs) != 0) {
        ig_yaml_close(&y);
        return NULL;
    }
    ig_config_t *cfg = load_document(&y, name, host, 0, NULL, NULL, errs);
    ig_yaml_close(&y);
    return cfg;
}

void ig_config_free(ig_config_t *cfg)
{
    if (cfg)
        ig_arena_destroy(cfg->arena); /* cfg itself lives in the arena */
}

const ig_model_config_t *ig_config_find_model(const ig_config_t *cfg, const char *name, size_t len)
{
    for (size_t i = 0; i < cfg->nmodels; i++) {
        const char *m = cfg->models[i].model.name;
        if (strnlen(m, len + 1) == len && memcmp(m, name, len) == 0)
            return &cfg->models[i];
    }
    return NULL;
}
