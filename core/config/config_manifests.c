/*
 * config_manifests.c — models: DIR. Every *.yaml / *.yml file in DIR holds
 * KubeAI Model manifests (apiVersion: kubeai.org/v1, kind: Model; several
 * per file with ---), so a KubeAI user can point infergate at the YAML they
 * already have. metadata.name is the model name, spec.* the same keys as an
 * inline model. Errors name the manifest file and its lines.
 */
#include "config/config_internal.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MANIFEST_FILES 10000

static const char *const manifest_keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
static const char *const metadata_keys[] = {"name", "namespace", "labels", "annotations", NULL};
static const char *const openrouter_annotation = "openrouter.ai/json";

void ig_cfg_parse_manifest(ig_cfg_ctx_t *c, yaml_node_t *root)
{
    ig_yaml_t *y = c->y;
    const char *s;
    if (ig_yaml_is_null(root))
        return; /* an empty document between two --- */
    if (ig_yaml_expect_map(y, root, NULL) != 0)
        return;
    ig_yaml_check_keys(y, root, NULL, manifest_keys);
    yaml_node_t *av = ig_yaml_map_get(y, root, "apiVersion");
    yaml_node_t *kind = ig_yaml_map_get(y, root, "kind");
    if (!av)
        ig_yaml_error(y, root, NULL, "missing \"apiVersion\" (kubeai.org/v1)");
    else if (ig_yaml_str(y, av, "apiVersion", &s) == 0 && strcmp(s, "kubeai.org/v1") != 0)
        ig_yaml_error(y, av, "apiVersion", "expected kubeai.org/v1, got \"%.60s\"", s);
    if (!kind)
        ig_yaml_error(y, root, NULL, "missing \"kind\" (Model)");
    else if (ig_yaml_str(y, kind, "kind", &s) == 0 && strcmp(s, "Model") != 0) {
        ig_yaml_error(y, kind, "kind", "expected Model, got \"%.60s\"", s);
        return; /* some other resource: its spec means something else */
    }

    yaml_node_t *md = ig_yaml_map_get(y, root, "metadata");
    yaml_node_t *name = NULL;
    const char *annotation = NULL;
    yaml_node_t *annotation_node = NULL;
    if (!md) {
        ig_yaml_error(y, root, NULL, "missing \"metadata\" (with the model's name)");
    } else if (ig_yaml_expect_map(y, md, "metadata") == 0) {
        ig_yaml_check_keys(y, md, "metadata", metadata_keys);
        name = ig_yaml_map_get(y, md, "name");
        if (!name)
            ig_yaml_error(y, md, "metadata", "missing \"name\"");
        yaml_node_t *ann = ig_yaml_map_get(y, md, "annotations");
        if (ann && !ig_yaml_is_null(ann) && ig_yaml_expect_map(y, ann, "metadata.annotations") == 0) {
            annotation_node = ig_yaml_map_get(y, ann, openrouter_annotation);
            if (annotation_node &&
                ig_yaml_str(y, annotation_node, "metadata.annotations.openrouter.ai/json", &annotation) != 0)
                annotation = NULL;
        }
    }
    yaml_node_t *spec = ig_yaml_map_get(y, root, "spec");
    if (!spec) {
        ig_yaml_error(y, root, NULL, "missing \"spec\"");
        return;
    }
    if (ig_yaml_expect_map(y, spec, "spec") != 0 || !name)
        return;
    ig_model_config_t m = {0};
    ig_cfg_parse_model(c, spec, "spec", name, &m);
    m.line = ig_yaml_line(root);
    if (annotation) {
        if (m.model.openrouter_json)
            ig_yaml_error(y, annotation_node, "metadata.annotations.openrouter.ai/json",
                          "listing metadata is given twice: here and in spec.openrouter");
        else
            m.model.openrouter_json = ig_cfg_strdup(c, annotation); /* JSON text, kept as is for now */
    }
    ig_cfg_add_model(c, &m);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
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
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < MAX_MANIFEST_FILES) {
        if (de->d_name[0] == '.' || !(has_suffix(de->d_name, ".yaml") || has_suffix(de->d_name, ".yml")))
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
    closedir(d);
    if (n == 0)
        ig_yaml_error(main_y, node, "models", "no *.yaml manifests in \"%s\"", dir);
    /* sorted, so models come in the same order on every load */
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);

    for (size_t i = 0; i < n; i++) {
        char *file = ig_arena_printf(c->a, "%s%s%s", dir, has_suffix(dir, "/") ? "" : "/", names[i]);
        if (!file)
            break;
        ig_yaml_t my;
        if (ig_yaml_open_file(&my, file, c->errs) == 0) {
            c->y = &my;
            c->file = file;
            int r;
            while ((r = ig_yaml_next_document(&my)) == 1)
                ig_cfg_parse_manifest(c, ig_yaml_root(&my));
            ig_cfg_warn_ignored(c);
        }
        ig_yaml_close(&my);
        c->y = main_y;
        c->file = main_file;
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
