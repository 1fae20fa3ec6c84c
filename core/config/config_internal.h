/*
 * config_internal.h — shared state of one ig_config_load() run, split over
 * config*.c by section. Not for use outside the config loader.
 */
#ifndef IG_CONFIG_INTERNAL_H
#define IG_CONFIG_INTERNAL_H

#include <dirent.h>
#include "util/arena.h"
#include "config/config.h"
#include "config/config_yaml.h"
#include "plugin/plugin_host.h"
#include "plugin/plugin_options.h"

typedef struct {
    ig_yaml_t *y;                    /* the document being read (the config, or one manifest) */
    const char *file;                /* y's file name, copied into the arena (models keep it) */
    ig_config_t *cfg;
    ig_arena_t *a;
    ig_plugin_host_t *host;
    ig_errors_t *errs;
    /* plugins that loaded, for ig_plugin_find; and names that failed (their errors are already out) */
    const ig_loaded_plugin_t **loaded;
    size_t nloaded;
    const char **failed;
    size_t nfailed;
    /* models gathered so far; copied into the arena at the end */
    ig_model_config_t *models;
    size_t nmodels, models_cap;
    /* KubeAI fields accepted and ignored in the current file, warned about once per file */
    unsigned ignored_seen;
    /* runtime models: read (ig_config_load_runtime), and the change being made, or NULL */
    int runtime;
    const ig_runtime_set_t *set;        /* from PostgreSQL instead of the folder, or NULL */
    const ig_runtime_change_t *change;
} ig_cfg_ctx_t;

/* A copy of s in the config arena (NULL stays NULL). */
char *ig_cfg_strdup(ig_cfg_ctx_t *c, const char *s);

/* server: (config_server.c); every key's declaration, defaults filled when node is NULL. */
void ig_cfg_parse_server(ig_cfg_ctx_t *c, yaml_node_t *node);
extern const ig_option_row_t ig_cfg_server_rows[];    /* into ig_server_config_t */
extern const ig_option_row_t ig_cfg_scheduler_rows[]; /* into ig_scheduler_config_t */
void ig_cfg_parse_plugins(ig_cfg_ctx_t *c, yaml_node_t *node);
void ig_cfg_parse_profiles(ig_cfg_ctx_t *c, yaml_node_t *node);
/* scheduler: (config_scheduler.c); defaults are set when node is NULL. */
void ig_cfg_parse_scheduler(ig_cfg_ctx_t *c, yaml_node_t *node);
/* The value of priority class name in scheduler.priorityClasses: 0, or -1 when it is not defined. */
int ig_cfg_priority_of(ig_cfg_ctx_t *c, const char *name, int *value);
/* command: a non-empty list of strings (argv) into an arena array, NULL-terminated; reported on error. */
void ig_cfg_parse_command(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, const char *const **out, size_t *n);
/* models: a list, or a folder of manifests. */
void ig_cfg_parse_models(ig_cfg_ctx_t *c, yaml_node_t *node);
/* Checks across models (duplicates, adapter ambiguity); runs after all models are read. */
void ig_cfg_check_models(ig_cfg_ctx_t *c);
/* A model's hosts: and pathPrefix: (config_addresses.c), and the check that no two models claim one
 * address (or nested prefixes), naming both with file:line; after all models are read. */
void ig_cfg_parse_addresses(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, ig_model_config_t *m);
void ig_cfg_check_addresses(ig_cfg_ctx_t *c);

/* What a KubeAI manifest's metadata adds to its model (config_manifests.c). */
typedef struct {
    yaml_node_t *name;               /* metadata.name */
    const char *openrouter_json;     /* the openrouter.ai/json annotation, or NULL */
    int openrouter_line;
    yaml_node_t *listed;             /* the infergate/listed annotation ("true" / "false"), or NULL */
} ig_cfg_manifest_meta_t;

/*
 * Reads one model's fields from map into m. meta is NULL for a model listed
 * inline (its map's own "name" key names it), or what its manifest's metadata
 * says (name, annotations). path prefixes messages ("models[2]", "spec").
 */
void ig_cfg_parse_model(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, const ig_cfg_manifest_meta_t *meta,
                        ig_model_config_t *m);
/*
 * The model's prices (config_pricing.c): its `pricing:` map (pricing, may be NULL; path for
 * messages) and its listing metadata's "pricing": the openrouter: map's pricing node (meta_pricing),
 * or the openrouter.ai/json annotation's JSON text (meta_json, its line meta_line), either or both
 * NULL; meta_path names the metadata in messages. Checked, compared, and merged into
 * m->model.pricing and pricing_more.
 */
void ig_cfg_model_pricing(ig_cfg_ctx_t *c, yaml_node_t *pricing, const char *path, yaml_node_t *meta_pricing,
                          const char *meta_json, int meta_line, const char *meta_path, ig_model_config_t *m);
/* Adds the parsed model to c->models (copying it). */
void ig_cfg_add_model(ig_cfg_ctx_t *c, const ig_model_config_t *m);
/* Logs the KubeAI fields ignored in the current file, once; resets the set. */
void ig_cfg_warn_ignored(ig_cfg_ctx_t *c);

/* env: {NAME: value} into an arena array. 0 or -1 (reported). */
int ig_cfg_parse_env(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_kv_t **out, size_t *n);

/* models: DIR — every *.yaml file of KubeAI Model manifests in it (config_manifests.c). */
void ig_cfg_parse_manifest_dir(ig_cfg_ctx_t *c, yaml_node_t *node, const char *dir);
/* One KubeAI Model manifest document (root of c->y) into c->models (config_manifests.c). */
void ig_cfg_parse_manifest(ig_cfg_ctx_t *c, yaml_node_t *root);
/* <stateDir>/models and c->change, after the file's models (config_runtime.c). */
void ig_cfg_parse_runtime_models(ig_cfg_ctx_t *c);

/* s ends in suffix (and is longer than it). */
int ig_cfg_has_suffix(const char *s, const char *suffix);
/* The names in d ending in .yaml (and .yml when yml), dot files left out, at most max, sorted so
 * that models come in the same order on every load (config_manifests.c). *out is malloc'd, freed
 * with ig_cfg_names_free; the count (what fit when memory ran out). */
size_t ig_cfg_yaml_names(DIR *d, int yml, size_t max, char ***out);
void ig_cfg_names_free(char **names, size_t n);

#endif
