/*
 * plugin_options.c — parses options from YAML into the struct the
 * declarations point into: plugins' options, and the core's own simple
 * sections (rows). Defaults are written "as in YAML", so they go through the
 * very same YAML reader as user input: a default and an explicit value can
 * never disagree.
 */
#include "plugin/plugin_options.h"
#include <limits.h>
#include <stdint.h>
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

/* Plugin declarations or core rows: the parser and the checks walk either. */
typedef struct {
    const ig_option_decl_t *decls;
    const ig_option_row_t *rows;
} table_t;

static const ig_option_decl_t *decl_at(table_t t, size_t i)
{
    return t.rows ? &t.rows[i].decl : &t.decls[i];
}

static const ig_option_row_t *row_at(table_t t, size_t i)
{
    return t.rows ? &t.rows[i] : NULL;
}

static size_t table_count(table_t t)
{
    size_t n = 0;
    while ((t.rows || t.decls) && decl_at(t, n)->name)
        n++;
    return n;
}

/* Parses n as d's type into field (the C type plugin.h gives the type). */
static int parse_value(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_decl_t *d,
                       void *field)
{
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

static int parse_table(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                       const char *owner, table_t t, void *out);

/* Reads n for declaration d (row: its core extras, or NULL) into out, the struct d's offset is in. */
static int read_option(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const char *owner,
                       const ig_option_decl_t *d, const ig_option_row_t *row, void *out)
{
    void *field = (char *)out + d->offset;
    if (!row)
        return parse_value(y, a, n, path, d, field);
    if (row->section)
        return parse_table(y, a, n, ig_yaml_line(n), path, owner, (table_t){.rows = row->section}, field);
    if (row->read)
        return row->read(y, a, n, path, row, out);
    if (row->store != IG_FIELD_ABI) {
        int64_t v; /* INT / SIZE / DURATION: ig_options_check_rows made sure the bounds fit the store */
        if (parse_value(y, a, n, path, d, &v) != 0)
            return -1;
        if (row->store == IG_FIELD_UNSIGNED) {
            unsigned u = (unsigned)v;
            memcpy(field, &u, sizeof(u));
        } else {
            size_t z = (size_t)v;
            memcpy(field, &z, sizeof(z));
        }
        return 0;
    }
    if (parse_value(y, a, n, path, d, field) != 0)
        return -1;
    if ((row->flags & IG_ROW_NONEMPTY) && d->type == IG_OPT_STRING) {
        const char *s;
        memcpy(&s, field, sizeof(s));
        if (!*s) {
            ig_yaml_error(y, n, path, "must not be empty");
            return -1;
        }
    }
    return 0;
}

/* Parses the default text with a private YAML context; errors go to errs. */
static int parse_default(const ig_option_decl_t *d, const ig_option_row_t *row, const char *owner, ig_arena_t *a,
                         void *out, ig_errors_t *errs)
{
    if (d->type == IG_OPT_STRING && !(row && row->read) && d->default_value[0] == '\0') {
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
        rc = read_option(&dy, a, ig_yaml_root(&dy), NULL, owner, d, row, out);
        if (errs->count != before)
            rc = -1;
    } else if (r == 0) {
        ig_errors_add(errs, "%s: empty", name);
    }
    ig_yaml_close(&dy);
    return rc;
}

static void known_list(table_t t, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; (t.rows || t.decls) && decl_at(t, i)->name && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", decl_at(t, i)->name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* Every key of map not declared in t, reported with the declared ones. */
static int check_keys(ig_yaml_t *y, yaml_node_t *map, const char *path, const char *owner, table_t t)
{
    size_t n = table_count(t), nkeys = ig_yaml_map_len(map);
    int bad = 0;
    for (size_t i = 0; i < nkeys; i++) {
        const char *key = NULL;
        yaml_node_t *v = ig_yaml_map_at(y, map, i, &key);
        if (!v)
            return -1;
        if (!key)
            continue;
        size_t j;
        for (j = 0; j < n; j++)
            if (strcmp(decl_at(t, j)->name, key) == 0)
                break;
        if (j < n)
            continue;
        char known[512], kpath[IG_PATH_MAX];
        known_list(t, known, sizeof(known));
        yaml_node_t *knode = yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].key);
        if (!owner) /* a core section, worded as the rest of the core's config */
            ig_yaml_error(y, knode, path, "unknown key \"%.80s\" (expected one of: %s)", key, known);
        else if (n)
            ig_yaml_error(y, knode, ig_path_key(kpath, sizeof(kpath), path, key),
                          "unknown option \"%.80s\" for %s (known: %s)", key, owner, known);
        else
            ig_yaml_error(y, knode, ig_path_key(kpath, sizeof(kpath), path, key),
                          "unknown option \"%.80s\": %s takes no options", key, owner);
        bad = 1;
    }
    return bad ? -1 : 0;
}

static int parse_table(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                       const char *owner, table_t t, void *out)
{
    size_t n = table_count(t);
    int bad = 0;
    if (map && ig_yaml_is_null(map))
        map = NULL; /* "vllm:" with nothing under it: all defaults */
    if (map && ig_yaml_expect_map(y, map, path) != 0) {
        map = NULL; /* reported; the defaults still fill the struct */
        bad = 1;
    }
    if (map && check_keys(y, map, path, owner, t) != 0)
        bad = 1;

    for (size_t j = 0; j < n; j++) {
        const ig_option_decl_t *d = decl_at(t, j);
        const ig_option_row_t *row = row_at(t, j);
        char opath[IG_PATH_MAX];
        ig_path_key(opath, sizeof(opath), path, d->name);
        yaml_node_t *v = map ? ig_yaml_map_get(y, map, d->name) : NULL;
        if (v) {
            if (read_option(y, a, v, opath, owner, d, row, out) != 0)
                bad = 1;
        } else if (row && row->section) {
            if (parse_table(y, a, NULL, absent_line, opath, owner, (table_t){.rows = row->section},
                            (char *)out + d->offset) != 0)
                bad = 1;
        } else if (!d->default_value) {
            if (row && (row->flags & IG_ROW_OPTIONAL))
                continue;
            int line = map ? ig_yaml_line(map) : absent_line;
            if (!owner) /* the core's wording */
                ig_yaml_error_line(y, line, path, "missing \"%s\"%s%s%s", d->name, d->description ? " (" : "",
                                   d->description ? d->description : "", d->description ? ")" : "");
            else
                ig_yaml_error_line(y, line, path, "missing required option \"%s\" (%s%s%s)", d->name,
                                   type_name(d->type), d->description ? ": " : "",
                                   d->description ? d->description : "");
            bad = 1;
        } else {
            ig_errors_t derrs = {0};
            if (parse_default(d, row, owner ? owner : path, a, out, &derrs) != 0) {
                /* a bug that ig_options_check_decls / _rows should have caught */
                char *joined = ig_errors_join(&derrs);
                ig_yaml_error_line(y, absent_line, opath, "invalid default in %s: %s", owner ? owner : path,
                                   joined ? joined : "out of memory");
                free(joined);
                bad = 1;
            }
            ig_errors_clear(&derrs);
        }
    }
    return bad ? -1 : 0;
}

void *ig_options_parse(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                       const char *owner, const ig_option_decl_t *decls, size_t size)
{
    void *vals = ig_arena_alloc(a, size ? size : 1); /* zeroed */
    if (!vals)
        return NULL;
    return parse_table(y, a, map, absent_line, path, owner, (table_t){.decls = decls}, vals) == 0 ? vals : NULL;
}

int ig_options_parse_rows(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                          const char *owner, const ig_option_row_t *rows, void *out)
{
    return parse_table(y, a, map, absent_line, path, owner, (table_t){.rows = rows}, out);
}

/* Where d's value is stored (row may add a store), in bytes; 0 for an unknown type. */
static size_t field_width(const ig_option_decl_t *d, const ig_option_row_t *row)
{
    if (row && row->store == IG_FIELD_UNSIGNED)
        return sizeof(unsigned);
    if (row && row->store == IG_FIELD_SIZE_T)
        return sizeof(size_t);
    return storage_size(d->type);
}

/* A core row's extras: a store its bounds fit, flags that make sense. 0, or -1 with msg. */
static int check_row(const ig_option_row_t *row, char *msg, size_t msgsize)
{
    const ig_option_decl_t *d = &row->decl;
    int unbounded = d->min == 0 && d->max == 0;
    int numeric = d->type == IG_OPT_INT || d->type == IG_OPT_SIZE || d->type == IG_OPT_DURATION;
    if (row->store == IG_FIELD_UNSIGNED && (d->type != IG_OPT_INT || unbounded || d->min < 0 || d->max > UINT_MAX)) {
        snprintf(msg, msgsize, "option \"%s\" is stored as unsigned: it must be an integer within 0..%u", d->name,
                 UINT_MAX);
        return -1;
    }
    if (row->store == IG_FIELD_SIZE_T && (!numeric || d->min < 0 || (uint64_t)(unbounded ? INT64_MAX : d->max) > SIZE_MAX)) {
        snprintf(msg, msgsize, "option \"%s\" is stored as size_t: it must be a number within 0..SIZE_MAX", d->name);
        return -1;
    }
    if (row->store != IG_FIELD_ABI && (row->read || row->section)) {
        snprintf(msg, msgsize, "option \"%s\" has a store and a reader or section", d->name);
        return -1;
    }
    if ((row->flags & IG_ROW_OPTIONAL) && d->default_value) {
        snprintf(msg, msgsize, "option \"%s\" is optional and has a default", d->name);
        return -1;
    }
    if ((row->flags & IG_ROW_NONEMPTY) &&
        (d->type != IG_OPT_STRING || row->read || (d->default_value && !d->default_value[0]))) {
        snprintf(msg, msgsize, "option \"%s\" must not be empty: a plain string without an empty default", d->name);
        return -1;
    }
    return 0;
}

static int check_table(table_t t, size_t size, const char *owner, ig_arena_t *a, char *msg, size_t msgsize)
{
    size_t n = table_count(t);
    for (size_t i = 0; i < n; i++) {
        const ig_option_decl_t *d = decl_at(t, i);
        const ig_option_row_t *row = row_at(t, i);
        if (!d->name[0]) {
            snprintf(msg, msgsize, "option %zu has an empty name", i);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(decl_at(t, j)->name, d->name) == 0) {
                snprintf(msg, msgsize, "option \"%s\" is declared twice", d->name);
                return -1;
            }
        if (row && check_row(row, msg, msgsize) != 0)
            return -1;
        if (row && row->section) {
            if (d->offset > size || size - d->offset < row->size) {
                snprintf(msg, msgsize, "section \"%s\" is stored at offset %zu, outside the %zu-byte struct", d->name,
                         d->offset, size);
                return -1;
            }
            if (check_table((table_t){.rows = row->section}, row->size, owner, a, msg, msgsize) != 0)
                return -1;
            continue;
        }
        /* a reader owns its field's type: only its offset can be checked */
        size_t width = row && row->read ? 1 : field_width(d, row);
        if (width == 0) {
            snprintf(msg, msgsize, "option \"%s\" has unknown type %d", d->name, (int)d->type);
            return -1;
        } else if (d->offset > size || size - d->offset < width) {
            snprintf(msg, msgsize, "option \"%s\" is stored at offset %zu, outside the %zu-byte options struct",
                     d->name, d->offset, size);
            return -1;
        } else if (d->offset % (width < sizeof(void *) ? width : sizeof(void *)) != 0) {
            snprintf(msg, msgsize, "option \"%s\" is stored at offset %zu, misaligned for its type", d->name,
                     d->offset);
            return -1;
        } else if (d->min > d->max) {
            snprintf(msg, msgsize, "option \"%s\" has min %lld > max %lld", d->name, (long long)d->min,
                     (long long)d->max);
            return -1;
        } else if (d->default_value) {
            ig_errors_t errs = {0};
            void *v = ig_arena_alloc(a, size ? size : 1);
            int rc = 0;
            if (!v || parse_default(d, row, owner, a, v, &errs) != 0) {
                char *joined = ig_errors_join(&errs);
                if (joined && *joined)
                    joined[strlen(joined) - 1] = '\0'; /* trailing newline */
                snprintf(msg, msgsize, "invalid default for option \"%s\": %s", d->name,
                         joined ? joined : "out of memory");
                free(joined);
                rc = -1;
            }
            ig_errors_clear(&errs);
            if (rc)
                return -1;
        }
    }
    return 0;
}

static int check_with_arena(table_t t, size_t size, const char *owner, char *msg, size_t msgsize)
{
    ig_arena_t *a = ig_arena_create();
    if (!a) {
        snprintf(msg, msgsize, "out of memory");
        return -1;
    }
    int rc = check_table(t, size, owner, a, msg, msgsize);
    ig_arena_destroy(a);
    return rc;
}

int ig_options_check_decls(const ig_option_decl_t *decls, size_t size, char *msg, size_t msgsize)
{
    return check_with_arena((table_t){.decls = decls}, size, "the plugin's", msg, msgsize);
}

int ig_options_check_rows(const ig_option_row_t *rows, size_t size, char *msg, size_t msgsize)
{
    return check_with_arena((table_t){.rows = rows}, size, "the core's", msg, msgsize);
}
