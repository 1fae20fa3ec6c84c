/*
 * config_addresses.c — a model's own addresses (hosts:, pathPrefix:) and the check that no two models
 * claim one: the same host, the same prefix, or a prefix under another (a request would match both).
 */
#include "config/config_internal.h"
#include "config/model_address.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ig_cfg_parse_addresses(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    char kpath[IG_PATH_MAX], ipath[IG_PATH_MAX], msg[300];
    yaml_node_t *hosts = ig_yaml_map_get(y, map, "hosts");
    ig_path_key(kpath, sizeof(kpath), path, "hosts");
    if (hosts && !ig_yaml_is_null(hosts) && ig_yaml_expect_seq(y, hosts, kpath) == 0) {
        size_t n = ig_yaml_seq_len(hosts);
        const char **list = ig_arena_array(c->a, n + 1, sizeof(*list));
        int *lines = ig_arena_array(c->a, n + 1, sizeof(*lines));
        size_t k = 0;
        for (size_t i = 0; list && lines && i < n; i++) {
            yaml_node_t *item = ig_yaml_seq_at(y, hosts, i);
            const char *s;
            ig_path_index(ipath, sizeof(ipath), kpath, i);
            if (!item || ig_yaml_str(y, item, ipath, &s) != 0)
                continue;
            if (ig_address_host_valid(s, msg, sizeof(msg)) != 0) {
                ig_yaml_error(y, item, ipath, "%s", msg);
                continue;
            }
            size_t j = 0;
            while (j < k && strcmp(list[j], s) != 0)
                j++;
            if (j < k) {
                ig_yaml_error(y, item, ipath, "host \"%s\" is listed twice", s);
                continue;
            }
            lines[k] = ig_yaml_line(item);
            list[k++] = ig_cfg_strdup(c, s);
        }
        if (list && lines && k) {
            m->hosts = list;
            m->host_lines = lines;
            m->nhosts = k;
        }
    }
    yaml_node_t *prefix = ig_yaml_map_get(y, map, "pathPrefix");
    ig_path_key(kpath, sizeof(kpath), path, "pathPrefix");
    const char *s;
    if (prefix && !ig_yaml_is_null(prefix) && ig_yaml_str(y, prefix, kpath, &s) == 0) {
        if (ig_address_prefix_valid(s, msg, sizeof(msg)) != 0) {
            ig_yaml_error(y, prefix, kpath, "%s", msg);
        } else {
            m->path_prefix = ig_cfg_strdup(c, s);
            m->path_prefix_line = ig_yaml_line(prefix);
        }
    }
}

/* One claimed address, for sorting: by key, then by where it was written. */
typedef struct {
    const char *key;
    size_t model;
    int line;
} claim_t;

static int by_key(const void *x, const void *y)
{
    const claim_t *a = x, *b = y;
    int cmp = strcmp(a->key, b->key);
    return cmp ? cmp : (a->model > b->model) - (a->model < b->model);
}

static void claimed_twice(ig_cfg_ctx_t *c, const char *what, const claim_t *first, const claim_t *second,
                          const char *how)
{
    const ig_model_config_t *a = &c->models[first->model], *b = &c->models[second->model];
    ig_errors_at(c->errs, b->file, second->line,
                 "model \"%s\": %s \"%s\" %s model \"%s\" (%s:%d): one address reaches one model",
                 b->model.name ? b->model.name : "?", what, second->key, how, a->model.name ? a->model.name : "?",
                 a->file, first->line);
}

void ig_cfg_check_addresses(ig_cfg_ctx_t *c)
{
    size_t nh = 0, np = 0;
    for (size_t i = 0; i < c->nmodels; i++) {
        nh += c->models[i].nhosts;
        np += c->models[i].path_prefix != NULL;
    }
    if (nh == 0 && np == 0)
        return;
    claim_t *h = calloc(nh + 1, sizeof(*h)), *p = calloc(np + 1, sizeof(*p));
    if (!h || !p) {
        free(h);
        free(p);
        ig_errors_at(c->errs, c->file, 0, "out of memory");
        return;
    }
    nh = np = 0;
    for (size_t i = 0; i < c->nmodels; i++) {
        const ig_model_config_t *m = &c->models[i];
        for (size_t k = 0; k < m->nhosts; k++)
            h[nh++] = (claim_t){m->hosts[k], i, m->host_lines[k]};
        if (m->path_prefix)
            p[np++] = (claim_t){m->path_prefix, i, m->path_prefix_line};
    }
    qsort(h, nh, sizeof(*h), by_key);
    qsort(p, np, sizeof(*p), by_key);
    for (size_t i = 1; i < nh; i++)
        if (strcmp(h[i].key, h[i - 1].key) == 0)
            claimed_twice(c, "host", &h[i - 1], &h[i], "is claimed by");
    /* sorted, a prefix comes right before the ones under it (with '/' after it) or equal to it */
    for (size_t i = 1; i < np; i++) {
        size_t n = strlen(p[i - 1].key);
        if (strcmp(p[i].key, p[i - 1].key) == 0)
            claimed_twice(c, "pathPrefix", &p[i - 1], &p[i], "is claimed by");
        else
            for (size_t j = i; j < np && strncmp(p[j].key, p[i - 1].key, n) == 0; j++)
                if (p[j].key[n] == '/')
                    claimed_twice(c, "pathPrefix", &p[i - 1], &p[j], "lies under the pathPrefix of");
    }
    free(h);
    free(p);
}
