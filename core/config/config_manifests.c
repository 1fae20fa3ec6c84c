/*
 * config_manifests.c — models: DIR. Every *.yaml / *.yml file in DIR holds
 * KubeAI Model manifests (apiVersion: kubeai.org/v1, kind: Model; several
 * per file with ---, or a kind: List of them as `kubectl get models -o yaml`
 * writes it), so a KubeAI user can point infergate at the YAML they already
 * have, cluster fields (status, uid, managedFields, ...) and all.
 * metadata.name is the model name, spec.* the same keys as an inline model,
 * the openrouter.ai/json annotation its listing metadata and prices. Errors
 * name the manifest file and its lines.
 */
#include "config/config_internal.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MANIFEST_FILES 10000

/* status is the cluster's (replicas, cache): a `kubectl get -o yaml` export has it, and it is ignored */
static const char *const manifest_keys[] = {"apiVersion", "kind", "metadata", "spec", "status", NULL};
/* Kubernetes' ObjectMeta: what a `kubectl get -o yaml` export carries (uid, resourceVersion, managedFields,
 * ...) is accepted and ignored; name and annotations are read */
static const char *const metadata_keys[] = {
    "name",          "namespace",       "labels",       "annotations",       "uid",
    "resourceVersion", "generation",    "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
    "managedFields", "finalizers",      "ownerReferences", "selfLink",       "generateName", NULL};
/* a list of objects: `kubectl get models -o yaml` writes kind: List (apiVersion v1), the API kind: ModelList */
static const char *const list_keys[] = {"apiVersion", "kind", "metadata", "items", NULL};
static const char *const openrouter_annotation = "openrouter.ai/json";
static const char *const listed_annotation = "infergate/listed";

static void parse_manifest(ig_cfg_ctx_t *c, yaml_node_t *root, const char *where);

/* kind: List / ModelList: each item is a Model manifest (path "items[3]" in messages). */
static void parse_list(ig_cfg_ctx_t *c, yaml_node_t *root, const char *kind)
{
    ig_yaml_t *y = c->y;
    ig_yaml_check_keys(y, root, NULL, list_keys);
    yaml_node_t *items = ig_yaml_map_get(y, root, "items");
    if (!items || ig_yaml_is_null(items))
        return; /* an empty list: `kubectl get models -o yaml` with no models */
    if (ig_yaml_expect_seq(y, items, "items") != 0)
        return;
    size_t n = ig_yaml_seq_len(items);
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, items, i);
        if (!item)
            return;
        ig_path_index(ipath, sizeof(ipath), "items", i);
        if (ig_yaml_is_null(item) || ig_yaml_expect_map(y, item, ipath) != 0)
            continue;
        yaml_node_t *k = ig_yaml_map_get(y, item, "kind");
        const char *s;
        if (k && ig_yaml_str(y, k, ipath, &s) == 0 && (strcmp(s, "List") == 0 || strcmp(s, "ModelList") == 0)) {
            ig_yaml_error(y, k, ipath, "a %s inside a %s", s, kind);
            continue;
        }
        parse_manifest(c, item, ipath);
    }
}

/* where: NULL for a document of its own, "items[i]" for an item of a list (prefixes messages). */
static void parse_manifest(ig_cfg_ctx_t *c, yaml_node_t *root, const char *where)
{
    ig_yaml_t *y = c->y;
    const char *s;
    char path[IG_PATH_MAX];
#define P(key) (where ? ig_path_key(path, sizeof(path), where, key) : key)
    if (ig_yaml_is_null(root))
        return; /* an empty document between two --- */
    if (ig_yaml_expect_map(y, root, where) != 0)
        return;
    yaml_node_t *av = ig_yaml_map_get(y, root, "apiVersion");
    yaml_node_t *kind = ig_yaml_map_get(y, root, "kind");
    if (!where && kind && ig_yaml_str(y, kind, "kind", &s) == 0 &&
        (strcmp(s, "List") == 0 || strcmp(s, "ModelList") == 0)) {
        const char *want = strcmp(s, "List") == 0 ? "v1" : "kubeai.org/v1";
        const char *v;
        if (!av)
            ig_yaml_error(y, root, NULL, "missing \"apiVersion\" (%s)", want);
        else if (ig_yaml_str(y, av, "apiVersion", &v) == 0 && strcmp(v, want) != 0)
            ig_yaml_error(y, av, "apiVersion", "expected %s for kind %s, got \"%.60s\"", want, s, v);
        parse_list(c, root, s);
        return;
    }
    ig_yaml_check_keys(y, root, where, manifest_keys);
    if (!av)
        ig_yaml_error(y, root, where, "missing \"apiVersion\" (kubeai.org/v1)");
    else if (ig_yaml_str(y, av, P("apiVersion"), &s) == 0 && strcmp(s, "kubeai.org/v1") != 0)
        ig_yaml_error(y, av, P("apiVersion"), "expected kubeai.org/v1, got \"%.60s\"", s);
    if (!kind)
        ig_yaml_error(y, root, where, "missing \"kind\" (Model)");
    else if (ig_yaml_str(y, kind, P("kind"), &s) == 0 && strcmp(s, "Model") != 0) {
        ig_yaml_error(y, kind, P("kind"), "expected Model (or a List of them), got \"%.60s\"", s);
        return; /* some other resource: its spec means something else */
    }

    yaml_node_t *md = ig_yaml_map_get(y, root, "metadata");
    ig_cfg_manifest_meta_t meta = {0};
    if (!md) {
        ig_yaml_error(y, root, where, "missing \"metadata\" (with the model's name)");
    } else if (ig_yaml_expect_map(y, md, P("metadata")) == 0) {
        ig_yaml_check_keys(y, md, P("metadata"), metadata_keys);
        meta.name = ig_yaml_map_get(y, md, "name");
        if (!meta.name)
            ig_yaml_error(y, md, P("metadata"), "missing \"name\"");
        yaml_node_t *ann = ig_yaml_map_get(y, md, "annotations");
        if (ann && !ig_yaml_is_null(ann) && ig_yaml_expect_map(y, ann, P("metadata.annotations")) == 0) {
            /* other annotations (kubectl's last-applied-configuration, ...) are the cluster's */
            yaml_node_t *orj = ig_yaml_map_get(y, ann, openrouter_annotation);
            if (orj && ig_yaml_str(y, orj, P("metadata.annotations.openrouter.ai/json"), &meta.openrouter_json) == 0)
                meta.openrouter_line = ig_yaml_line(orj);
            else
                meta.openrouter_json = NULL;
            meta.listed = ig_yaml_map_get(y, ann, listed_annotation);
        }
    }
    yaml_node_t *spec = ig_yaml_map_get(y, root, "spec");
    if (!spec) {
        ig_yaml_error(y, root, where, "missing \"spec\"");
        return;
    }
    if (ig_yaml_expect_map(y, spec, P("spec")) != 0 || !meta.name)
        return;
    ig_model_config_t m = {0};
    ig_cfg_parse_model(c, spec, P("spec"), &meta, &m);
    m.line = ig_yaml_line(root);
    ig_cfg_add_model(c, &m);
#undef P
}

/* One document of a manifests folder or a stored runtime model: a Model, or a List of them. */
void ig_cfg_parse_manifest(ig_cfg_ctx_t *c, yaml_node_t *root)
{
    parse_manifest(c, root, NULL);
}

int ig_cfg_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t ig_cfg_yaml_names(DIR *d, int yml, size_t max, char ***out)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        if (de->d_name[0] == '.' ||
            !(ig_cfg_has_suffix(de->d_name, ".yaml") || (yml && ig_cfg_has_suffix(de->d_name, ".yml"))))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nn = realloc(names, ncap * sizeof(*nn));
            if (!nn)
                break;
            names = nn;
            cap = ncap;
        }
        if (!(names[n] = strdup(de->d_name)))
            break;
        n++;
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    *out = names;
    return n;
}

void ig_cfg_names_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

void ig_cfg_parse_manifest_dir(ig_cfg_ctx_t *c, yaml_node_t *node, const char *dir)
{
    ig_yaml_t *main_y = c->y;
    const char *main_file = c->file;
    DIR *d = opendir(dir);
    if (!d) {
        ig_yaml_error(main_y, node, "models", "cannot open the manifest folder \"%s\": %s", dir, strerror(errno));
        return;
    }
    char **names = NULL;
    size_t n = ig_cfg_yaml_names(d, 1, MAX_MANIFEST_FILES, &names);
    closedir(d);
    if (n == 0)
        ig_yaml_error(main_y, node, "models", "no *.yaml manifests in \"%s\"", dir);

    for (size_t i = 0; i < n; i++) {
        char *file = ig_arena_printf(c->a, "%s%s%s", dir, ig_cfg_has_suffix(dir, "/") ? "" : "/", names[i]);
        if (!file)
            break;
        ig_yaml_t my;
        if (ig_yaml_open_file(&my, file, c->errs) == 0) {
            c->y = &my;
            c->file = file;
            int r;
            while ((r = ig_yaml_next_document(&my)) == 1)
                parse_manifest(c, ig_yaml_root(&my), NULL);
            ig_cfg_warn_ignored(c);
        }
        ig_yaml_close(&my);
        c->y = main_y;
        c->file = main_file;
    }
    ig_cfg_names_free(names, n);
}
