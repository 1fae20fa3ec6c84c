/*
 * config_plugins.c — the plugins: section. Loading happens here, during
 * validation, because everything after it depends on what the plugins
 * declare (engine names, strategies, options): `infergate -t` therefore
 * catches a missing or incompatible .so too.
 */
#include "config/config_internal.h"
#include "plugin/plugin_options.h"
#include <stdlib.h>
#include <string.h>

static const char *const plugins_keys[] = {"dir", "load", "options", NULL};

static void remember_loaded(ig_cfg_ctx_t *c, const ig_loaded_plugin_t *lp)
{
    const ig_loaded_plugin_t **l = realloc(c->loaded, (c->nloaded + 1) * sizeof(*l));
    if (!l)
        return;
    c->loaded = l;
    c->loaded[c->nloaded++] = lp;
}

static void remember_failed(ig_cfg_ctx_t *c, const char *name)
{
    const char **f = realloc(c->failed, (c->nfailed + 1) * sizeof(*f));
    if (!f)
        return;
    c->failed = f;
    c->failed[c->nfailed++] = name;
}

void ig_cfg_parse_plugins(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_yaml_t *y = c->y;
    ig_config_t *cfg = c->cfg;
    if (node && ig_yaml_is_null(node))
        node = NULL;
    if (node && ig_yaml_expect_map(y, node, "plugins") != 0)
        node = NULL;
    if (node)
        ig_yaml_check_keys(y, node, "plugins", plugins_keys);

    yaml_node_t *dir = node ? ig_yaml_map_get(y, node, "dir") : NULL;
    const char *d = "./build/plugins";
    if (dir && ig_yaml_str(y, dir, "plugins.dir", &d) != 0)
        d = "./build/plugins";
    else if (!*d)
        ig_yaml_error(y, dir, "plugins.dir", "must not be empty (\".\" is the current directory)");
    cfg->plugins_dir = ig_cfg_strdup(c, d);

    yaml_node_t *load = node ? ig_yaml_map_get(y, node, "load") : NULL;
    if (load && !ig_yaml_is_null(load) && ig_yaml_expect_seq(y, load, "plugins.load") == 0) {
        size_t n = ig_yaml_seq_len(load);
        cfg->plugins = ig_arena_array(c->a, n + 1, sizeof(*cfg->plugins));
        for (size_t i = 0; cfg->plugins && i < n; i++) {
            char ipath[IG_PATH_MAX], msg[1024];
            const char *name;
            yaml_node_t *item = ig_yaml_seq_at(y, load, i);
            if (!item)
                break;
            ig_path_index(ipath, sizeof(ipath), "plugins.load", i);
            if (ig_yaml_str(y, item, ipath, &name) != 0)
                continue;
            int dup = 0;
            for (size_t j = 0; j < cfg->nplugins && !dup; j++)
                if (strcmp(cfg->plugins[j].name, name) == 0) {
                    ig_yaml_error(y, item, ipath, "plugin \"%.80s\" is listed twice (first at line %d)", name,
                                  cfg->plugins[j].line);
                    dup = 1;
                }
            if (dup)
                continue;
            ig_plugin_config_t *pc = &cfg->plugins[cfg->nplugins++];
            pc->name = ig_cfg_strdup(c, name);
            pc->line = ig_yaml_line(item);
            pc->plugin = ig_plugin_host_load(c->host, cfg->plugins_dir, name, msg, sizeof(msg));
            if (pc->plugin) {
                remember_loaded(c, pc->plugin);
            } else {
                ig_yaml_error(y, item, ipath, "%s", msg);
                remember_failed(c, pc->name);
            }
        }
    }

    /* options: every key must be a listed plugin; every loaded plugin gets its values (defaults at least) */
    yaml_node_t *opts = node ? ig_yaml_map_get(y, node, "options") : NULL;
    if (opts && ig_yaml_is_null(opts))
        opts = NULL;
    if (opts && ig_yaml_expect_map(y, opts, "plugins.options") != 0)
        opts = NULL;
    size_t nopts = ig_yaml_map_len(opts);
    for (size_t i = 0; i < nopts; i++) {
        const char *key = NULL;
        yaml_node_t *v = ig_yaml_map_at(y, opts, i, &key);
        if (!v)
            break;
        if (!key)
            continue;
        int listed = 0;
        for (size_t j = 0; j < cfg->nplugins; j++)
            listed |= strcmp(cfg->plugins[j].name, key) == 0;
        if (!listed) {
            char kpath[IG_PATH_MAX];
            yaml_node_t *knode = yaml_document_get_node(&y->doc, opts->data.mapping.pairs.start[i].key);
            ig_yaml_error(y, knode, ig_path_key(kpath, sizeof(kpath), "plugins.options", key),
                          "plugin \"%.80s\" is not in plugins.load", key);
        }
    }
    for (size_t j = 0; j < cfg->nplugins; j++) {
        ig_plugin_config_t *pc = &cfg->plugins[j];
        if (!pc->plugin)
            continue;
        char ppath[IG_PATH_MAX], owner[128];
        ig_path_key(ppath, sizeof(ppath), "plugins.options", pc->name);
        snprintf(owner, sizeof(owner), "plugin \"%s\"", pc->name);
        yaml_node_t *mine = opts ? ig_yaml_map_get(y, opts, pc->name) : NULL;
        pc->options = ig_options_parse(y, c->a, mine, pc->line, ppath, owner, pc->plugin->desc->options,
                                       pc->plugin->desc->options_size);
    }
}
