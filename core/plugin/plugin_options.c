/*
 * plugin_options.c — parses plugin options from YAML into the struct the
 * declarations point into. Defaults are written "as in YAML" by the plugin, so
 * they go through the very same YAML reader as user input: a default and an
 * explicit value can never disagree.
 */
#include "plugin/plugin_options.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ig_options_count(const ig_option_decl_t *decls)
{
    size_t n = 0;
    while (decls && decls[n].name)
        n++;
    return n;
}

static const char *type_name(ig_option_type_t t)
{
    switch (t) {
    case IG_OPT_STRING:
        return "string";
    case IG_OPT_INT:
        return "integer";
    case IG_OPT_BOOL:
        return "boolean";
    case IG_OPT_DURATION:
        return "duration";
    case IG_OPT_STRING_LIST:
        return "list of strings";
    case IG_OPT_JSON:
        return "any value";
    case IG_OPT_SIZE:
        return "size";
    }
    return "unknown type";
}

/* The C type each option type is stored as (plugin.h), for bounds checks on offsets. */
static size_t storage_size(ig_option_type_t t)
{
    switch (t) {
    case IG_OPT_STRING:
    case IG_OPT_JSON:
        return sizeof(const char *);
    case IG_OPT_INT:
    case IG_OPT_DURATION:
    case IG_OPT_SIZE:
        return sizeof(int64_t);
    case IG_OPT_BOOL:
        return sizeof(int);
    case IG_OPT_STRING_LIST:
        return sizeof(ig_str_list_t);
    }
    return 0;
}

/* Parses n as d's type into the field d->offset bytes into out. */
static int parse_value(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_decl_t *d,
                       void *out)
{
    void *field = (char *)out + d->offset;
    int unbounded = d->min == 0 && d->max == 0;
    uint64_t lo = unbounded || d->min < 0 ? 0 : (uint64_t)d->min;
    uint64_t hi = unbounded ? (uint64_t)INT64_MAX : (uint64_t)d->max;
    switch (d->type) {
    case IG_OPT_STRING: {
        const char *s;
        if (ig_yaml_str(y, n, path, &s) != 0)
            return -1;
        char *copy = ig_arena_strdup(a, s);
        memcpy(field, &copy, sizeof(copy));
        return copy ? 0 : -1;
    }
    case IG_OPT_INT: {
        int64_t v;
        if (ig_yaml_int(y, n, path, unbounded ? INT64_MIN : d->min, unbounded ? INT64_MAX : d->max, &v) != 0)
            return -1;
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case IG_OPT_BOOL: {
        int b;
        if (ig_yaml_bool(y, n, path, &b) != 0)
            return -1;
        memcpy(field, &b, sizeof(b));
        return 0;
    }
    case IG_OPT_DURATION:
    case IG_OPT_SIZE: {
        uint64_t u;
        int rc = d->type == IG_OPT_DURATION ? ig_yaml_duration(y, n, path, lo, hi, &u)
                                            : ig_yaml_size(y, n, path, lo, hi, &u);
        if (rc != 0)
            return -1;
        int64_t v = (int64_t)u;
        memcpy(field, &v, sizeof(v));
        return 0;
    }
    case IG_OPT_STRING_LIST: {
        if (ig_yaml_expect_seq(y, n, path) != 0)
            return -1;
        size_t len = ig_yaml_seq_len(n);
        const char **list = ig_arena_array(a, len + 1, sizeof(*list));
        if (!list)
            return -1;
        int bad = 0;
        for (size_t i = 0; i < len; i++) {
            char ipath[IG_PATH_MAX];
            yaml_node_t *item = ig_yaml_seq_at(y, n, i);
            const char *s;
            if (!item)
                return -1;
            if (ig_yaml_str(y, item, ig_path_index(ipath, sizeof(ipath), path, i), &s) != 0) {
                bad = 1;
                continue;
            }
            list[i] = ig_arena_strdup(a, s);
        }
        ig_str_list_t v = {list, len};
        memcpy(field, &v, sizeof(v));
        return bad ? -1 : 0;
    }
    case IG_OPT_JSON: {
        /* the same walk models[].openrouter uses: bounded depth, errors at the node's line */
        char *json = ig_yaml_to_json(y, n, path, a);
        memcpy(field, &json, sizeof(json));
        return json ? 0 : -1;
    }
    }
    ig_yaml_error(y, n, path, "option has an unknown type %d", (int)d->type);
    return -1;
}

/* Parses the default text with a private YAML context; errors go to errs. */
static int parse_default(const ig_option_decl_t *d, const char *owner, ig_arena_t *a, void *out, ig_errors_t *errs)
{
    if (d->type == IG_OPT_STRING && d->default_value[0] == '\0') {
        char *empty = ig_arena_strdup(a, "");
        memcpy((char *)out + d->offset, &empty, sizeof(empty));
        return empty ? 0 : -1;
    }
    char name[160];
    snprintf(name, sizeof(name), "default of %s option \"%s\"", owner, d->name);
    ig_yaml_t dy;
    if (ig_yaml_open_buffer(&dy, name, d->default_value, strlen(d->default_value), errs) != 0)
        return -1;
    int rc = -1;
    int r = ig_yaml_next_document(&dy);
    if (r == 1) {
        size_t before = errs->count;
        rc = parse_value(&dy, a, ig_yaml_root(&dy), NULL, d, out);
        if (errs->count != before)
            rc = -1;
    } else if (r == 0) {
        ig_errors_add(errs, "%s: empty", name);
    }
    ig_yaml_close(&dy);
    return rc;
}

static void known_list(const ig_option_decl_t *decls, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; decls && decls[i].name && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", decls[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

void *ig_options_parse(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                       const char *owner, const ig_option_decl_t *decls, size_t size)
{
    size_t n = ig_options_count(decls);
    int bad = 0;
    if (map && ig_yaml_is_null(map))
        map = NULL; /* "vllm:" with nothing under it: all defaults */
    if (map && ig_yaml_expect_map(y, map, path) != 0)
        return NULL;
    void *vals = ig_arena_alloc(a, size ? size : 1); /* zeroed */
    if (!vals)
        return NULL;

    /* unknown keys first, listing the known ones */
    size_t nkeys = ig_yaml_map_len(map);
    for (size_t i = 0; i < nkeys; i++) {
        const char *key = NULL;
        yaml_node_t *v = ig_yaml_map_at(y, map, i, &key);
        if (!v)
            return NULL;
        if (!key)
            continue;
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(decls[j].name, key) == 0)
                break;
        if (j < n)
            continue;
        char known[512], kpath[IG_PATH_MAX];
        known_list(decls, known, sizeof(known));
        yaml_node_t *knode = yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].key);
        if (n)
            ig_yaml_error(y, knode, ig_path_key(kpath, sizeof(kpath), path, key),
                          "unknown option \"%.80s\" for %s (known: %s)", key, owner, known);
        else
            ig_yaml_error(y, knode, ig_path_key(kpath, sizeof(kpath), path, key),
                          "unknown option \"%.80s\": %s takes no options", key, owner);
        bad = 1;
    }

    for (size_t j = 0; j < n; j++) {
        const ig_option_decl_t *d = &decls[j];
        char opath[IG_PATH_MAX];
        ig_path_key(opath, sizeof(opath), path, d->name);
        yaml_node_t *v = map ? ig_yaml_map_get(y, map, d->name) : NULL;
        if (v) {
            if (parse_value(y, a, v, opath, d, vals) != 0)
                bad = 1;
        } else if (!d->default_value) {
            ig_yaml_error_line(y, map ? ig_yaml_line(map) : absent_line, path,
                               "missing required option \"%s\" (%s%s%s)", d->name, type_name(d->type),
                               d->description ? ": " : "", d->description ? d->description : "");
            bad = 1;
        } else {
            ig_errors_t derrs = {0};
            if (parse_default(d, owner, a, vals, &derrs) != 0) {
                /* a plugin bug that ig_options_check_decls should have caught at load */
                char *joined = ig_errors_join(&derrs);
                ig_yaml_error_line(y, absent_line, opath, "invalid default in %s: %s", owner,
                                   joined ? joined : "out of memory");
                free(joined);
                bad = 1;
            }
            ig_errors_clear(&derrs);
        }
    }
    return bad ? NULL : vals;
}

int ig_options_check_decls(const ig_option_decl_t *decls, size_t size, char *msg, size_t msgsize)
{
    size_t n = ig_options_count(decls);
    int rc = 0;
    ig_arena_t *a = ig_arena_create();
    if (!a) {
        snprintf(msg, msgsize, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ig_option_decl_t *d = &decls[i];
        if (!d->name[0]) {
            snprintf(msg, msgsize, "option %zu has an empty name", i);
            rc = -1;
            break;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(decls[j].name, d->name) == 0) {
                snprintf(msg, msgsize, "option \"%s\" is declared twice", d->name);
                rc = -1;
            }
        if (rc)
            break;
        size_t width = storage_size(d->type);
        if (width == 0) {
            snprintf(msg, msgsize, "option \"%s\" has unknown type %d", d->name, (int)d->type);
            rc = -1;
        } else if (d->offset > size || size - d->offset < width) {
            snprintf(msg, msgsize, "option \"%s\" is stored at offset %zu, outside the %zu-byte options struct",
                     d->name, d->offset, size);
            rc = -1;
        } else if (d->offset % (width < sizeof(void *) ? width : sizeof(void *)) != 0) {
            snprintf(msg, msgsize, "option \"%s\" is stored at offset %zu, misaligned for its type", d->name,
                     d->offset);
            rc = -1;
        } else if (d->min > d->max) {
            snprintf(msg, msgsize, "option \"%s\" has min %lld > max %lld", d->name, (long long)d->min,
                     (long long)d->max);
            rc = -1;
        } else if (d->default_value) {
            ig_errors_t errs = {0};
            void *v = ig_arena_alloc(a, size);
            if (!v || parse_default(d, "the plugin's", a, v, &errs) != 0) {
                char *joined = ig_errors_join(&errs);
                if (joined && *joined)
                    joined[strlen(joined) - 1] = '\0'; /* trailing newline */
                snprintf(msg, msgsize, "invalid default for option \"%s\": %s", d->name,
                         joined ? joined : "out of memory");
                free(joined);
                rc = -1;
            }
            ig_errors_clear(&errs);
        }
    }
    ig_arena_destroy(a);
    return rc;
}
