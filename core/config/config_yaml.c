/*
 * config_yaml.c — see config_yaml.h. libyaml does the parsing; this file
 * adds positions to every message, the structural checks libyaml does not
 * make (duplicate keys), and the work bound that aliases make necessary.
 */
#include "config/config_yaml.h"
#include "config/config_values.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/json_write.h"

int ig_yaml_line(const yaml_node_t *n)
{
    return n ? (int)n->start_mark.line + 1 : 0;
}

static void verror_line(ig_yaml_t *y, int line, const char *path, const char *fmt, va_list ap)
{
    if (y->nerrors == IG_YAML_MAX_ERRORS) {
        y->nerrors++;
        ig_errors_at(y->errs, y->file, 0, "too many errors, stopping after %d", IG_YAML_MAX_ERRORS);
        return;
    }
    if (y->nerrors > IG_YAML_MAX_ERRORS)
        return;
    y->nerrors++;
    char msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (path && *path)
        ig_errors_at(y->errs, y->file, line, "%s: %s", path, msg);
    else
        ig_errors_at(y->errs, y->file, line, "%s", msg);
}

void ig_yaml_error(ig_yaml_t *y, const yaml_node_t *n, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_line(y, ig_yaml_line(n), path, fmt, ap);
    va_end(ap);
}

void ig_yaml_error_line(ig_yaml_t *y, int line, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_line(y, line, path, fmt, ap);
    va_end(ap);
}

char *ig_path_key(char *buf, size_t cap, const char *parent, const char *key)
{
    if (parent && *parent)
        snprintf(buf, cap, "%s.%s", parent, key);
    else
        snprintf(buf, cap, "%s", key);
    return buf;
}

char *ig_path_index(char *buf, size_t cap, const char *parent, size_t i)
{
    snprintf(buf, cap, "%s[%zu]", parent ? parent : "", i);
    return buf;
}

/* ---- opening and loading ------------------------------------------------------------------ */

static void init_ctx(ig_yaml_t *y, const char *name, ig_errors_t *errs)
{
    memset(y, 0, sizeof(*y));
    y->file = name;
    y->errs = errs;
}

int ig_yaml_open_buffer(ig_yaml_t *y, const char *name, const char *buf, size_t len, ig_errors_t *errs)
{
    init_ctx(y, name, errs);
    if (!yaml_parser_initialize(&y->parser)) {
        ig_yaml_error(y, NULL, NULL, "out of memory");
        return -1;
    }
    y->parser_ready = 1;
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)buf, len);
    return 0;
}

int ig_yaml_open_file(ig_yaml_t *y, const char *path, ig_errors_t *errs)
{
    init_ctx(y, path, errs);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        ig_yaml_error(y, NULL, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ig_yaml_error(y, NULL, NULL, "not a regular file");
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > IG_YAML_MAX_FILE) {
        ig_yaml_error(y, NULL, NULL, "file is too large (%lld bytes, at most %u)", (long long)st.st_size,
                      IG_YAML_MAX_FILE);
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        ig_yaml_error(y, NULL, NULL, "out of memory");
        return -1;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ig_yaml_error(y, NULL, NULL, "read error: %s", strerror(errno));
            free(buf);
            close(fd);
            return -1;
        }
        if (r == 0)
            break; /* shrank while reading: parse what is there */
        got += (size_t)r;
    }
    close(fd);
    if (ig_yaml_open_buffer(y, path, buf, got, errs) != 0) {
        free(buf);
        return -1;
    }
    y->buf = buf;
    return 0;
}

static void report_parser_error(ig_yaml_t *y)
{
    yaml_parser_t *p = &y->parser;
    const char *problem = p->problem ? p->problem : "unknown problem";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        ig_yaml_error(y, NULL, NULL, "out of memory while parsing YAML");
        break;
    case YAML_READER_ERROR:
        /* encoding errors: libyaml knows the byte offset only */
        ig_yaml_error(y, NULL, NULL, "YAML syntax error: %s (byte offset %zu)", problem, p->problem_offset);
        break;
    default:
        /* libyaml: "did not find expected ',' or ']'" while parsing "a flow sequence" that began at context_mark */
        if (p->context && p->context_mark.line != p->problem_mark.line)
            ig_yaml_error_line(y, (int)p->problem_mark.line + 1, NULL,
                               "YAML syntax error: %s (column %zu), %s started at line %zu", problem,
                               p->problem_mark.column + 1, p->context, p->context_mark.line + 1);
        else if (p->context)
            ig_yaml_error_line(y, (int)p->problem_mark.line + 1, NULL, "YAML syntax error: %s (column %zu), %s",
                               problem, p->problem_mark.column + 1, p->context);
        else
            ig_yaml_error_line(y, (int)p->problem_mark.line + 1, NULL, "YAML syntax error: %s (column %zu)",
                               problem, p->problem_mark.column + 1);
        break;
    }
}

typedef struct {
    const char *s;
    size_t len;
    int line;
} keyref_t;

static int keyref_cmp(const void *a, const void *b)
{
    const keyref_t *x = a, *z = b;
    if (x->len != z->len)
        return x->len < z->len ? -1 : 1;
    int c = memcmp(x->s, z->s, x->len);
    if (c)
        return c;
    return (x->line > z->line) - (x->line < z->line);
}

/* One linear pass over all nodes: keys are scalars, no mapping repeats a key. */
static void check_structure(ig_yaml_t *y)
{
    yaml_document_t *d = &y->doc;
    keyref_t *keys = NULL;
    size_t keycap = 0;
    for (yaml_node_t *n = d->nodes.start; n < d->nodes.top; n++) {
        if (n->type != YAML_MAPPING_NODE)
            continue;
        size_t np = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
        if (np > keycap) {
            keyref_t *k = realloc(keys, np * sizeof(*k));
            if (!k) {
                ig_yaml_error(y, n, NULL, "out of memory");
                break;
            }
            keys = k;
            keycap = np;
        }
        size_t nk = 0;
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
            yaml_node_t *k = yaml_document_get_node(d, pr->key);
            if (!k)
                continue;
            if (k->type != YAML_SCALAR_NODE) {
                ig_yaml_error(y, k, NULL, "mapping keys must be strings, not %s",
                              k->type == YAML_MAPPING_NODE ? "maps" : "lists");
                continue;
            }
            keys[nk++] = (keyref_t){(const char *)k->data.scalar.value, k->data.scalar.length, ig_yaml_line(k)};
        }
        if (nk < 2)
            continue;
        qsort(keys, nk, sizeof(*keys), keyref_cmp);
        for (size_t i = 1; i < nk; i++) {
            if (keys[i].len == keys[i - 1].len && memcmp(keys[i].s, keys[i - 1].s, keys[i].len) == 0) {
                /* find the first of the run for the message */
                size_t first = i - 1;
                while (first > 0 && keys[first - 1].len == keys[i].len &&
                       memcmp(keys[first - 1].s, keys[i].s, keys[i].len) == 0)
                    first--;
                ig_yaml_error_line(y, keys[i].line, NULL, "duplicate key \"%.*s\" (first at line %d)",
                                   (int)(keys[i].len > 80 ? 80 : keys[i].len), keys[i].s, keys[first].line);
            }
        }
    }
    free(keys);
}

int ig_yaml_next_document(ig_yaml_t *y)
{
    if (y->have_doc) {
        yaml_document_delete(&y->doc);
        y->have_doc = 0;
    }
    if (!y->parser_ready)
        return -1;
    if (!yaml_parser_load(&y->parser, &y->doc)) {
        report_parser_error(y);
        /* the parser cannot resume after an error */
        yaml_parser_delete(&y->parser);
        y->parser_ready = 0;
        return -1;
    }
    y->have_doc = 1;
    if (!yaml_document_get_root_node(&y->doc))
        return 0;
    y->visits = 0;
    y->visits_reported = 0;
    check_structure(y);
    return 1;
}

yaml_node_t *ig_yaml_root(ig_yaml_t *y)
{
    return y->have_doc ? yaml_document_get_root_node(&y->doc) : NULL;
}

void ig_yaml_close(ig_yaml_t *y)
{
    if (y->have_doc)
        yaml_document_delete(&y->doc);
    if (y->parser_ready)
        yaml_parser_delete(&y->parser);
    free(y->buf);
    y->have_doc = y->parser_ready = 0;
    y->buf = NULL;
}

/* ---- navigation with a work budget ---------------------------------------------------------- */

static yaml_node_t *visit(ig_yaml_t *y, int index)
{
    if (++y->visits > IG_YAML_MAX_VISITS) {
        if (!y->visits_reported) {
            y->visits_reported = 1;
            /* the line is where the node being expanded was defined (its anchor) */
            ig_yaml_error(y, yaml_document_get_node(&y->doc, index), NULL,
                          "document expands to more than %d nodes (aliases referring to aliases?); refusing it",
                          IG_YAML_MAX_VISITS);
        }
        return NULL;
    }
    return yaml_document_get_node(&y->doc, index);
}

size_t ig_yaml_map_len(const yaml_node_t *map)
{
    if (!map || map->type != YAML_MAPPING_NODE)
        return 0;
    return (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

static const char *scalar_text(const yaml_node_t *n)
{
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

yaml_node_t *ig_yaml_map_at(ig_yaml_t *y, yaml_node_t *map, size_t i, const char **key)
{
    if (i >= ig_yaml_map_len(map))
        return NULL;
    yaml_node_pair_t *pr = map->data.mapping.pairs.start + i;
    *key = NULL;
    yaml_node_t *k = visit(y, pr->key);
    if (!k)
        return NULL;
    *key = scalar_text(k); /* NULL for complex keys, already reported by check_structure */
    return visit(y, pr->value);
}

yaml_node_t *ig_yaml_map_get(ig_yaml_t *y, yaml_node_t *map, const char *key)
{
    size_t n = ig_yaml_map_len(map);
    size_t klen = strlen(key);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = map->data.mapping.pairs.start + i;
        yaml_node_t *k = yaml_document_get_node(&y->doc, pr->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == klen &&
            memcmp(k->data.scalar.value, key, klen) == 0)
            return visit(y, pr->value);
    }
    return NULL;
}

size_t ig_yaml_seq_len(const yaml_node_t *seq)
{
    if (!seq || seq->type != YAML_SEQUENCE_NODE)
        return 0;
    return (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
}

yaml_node_t *ig_yaml_seq_at(ig_yaml_t *y, yaml_node_t *seq, size_t i)
{
    if (i >= ig_yaml_seq_len(seq))
        return NULL;
    return visit(y, seq->data.sequence.items.start[i]);
}

int ig_yaml_check_keys(ig_yaml_t *y, yaml_node_t *map, const char *path, const char *const *known)
{
    int bad = 0;
    size_t n = ig_yaml_map_len(map);
    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pr = map->data.mapping.pairs.start + i;
        yaml_node_t *k = visit(y, pr->key);
        if (!k)
            return bad;
        const char *key = scalar_text(k);
        if (!key)
            continue;
        int found = 0;
        for (const char *const *kn = known; *kn; kn++)
            if (strcmp(key, *kn) == 0) {
                found = 1;
                break;
            }
        if (found)
            continue;
        char list[512];
        size_t off = 0;
        list[0] = '\0';
        for (const char *const *kn = known; *kn && off < sizeof(list); kn++) {
            int w = snprintf(list + off, sizeof(list) - off, "%s%s", kn == known ? "" : ", ", *kn);
            if (w < 0)
                break;
            off += (size_t)w;
        }
        ig_yaml_error(y, k, path, "unknown key \"%.80s\" (expected one of: %s)", key, list);
        bad++;
    }
    return bad;
}

/* ---- typed readers ---------------------------------------------------------------------------- */

int ig_yaml_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *s = (const char *)n->data.scalar.value;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

/* "a map", "a list", "nothing", or the scalar quoted (shortened). */
static const char *describe(const yaml_node_t *n, char *buf, size_t cap)
{
    if (!n)
        return "nothing";
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a map";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_SCALAR_NODE:
        if (ig_yaml_is_null(n))
            return "nothing (null)";
        if (n->data.scalar.length > 40)
            snprintf(buf, cap, "\"%.37s...\"", (const char *)n->data.scalar.value);
        else
            snprintf(buf, cap, "\"%s\"", (const char *)n->data.scalar.value);
        return buf;
    default:
        return "nothing";
    }
}

static int expect_type(ig_yaml_t *y, yaml_node_t *n, const char *path, yaml_node_type_t t, const char *what)
{
    if (n && n->type == t && !(t == YAML_SCALAR_NODE && ig_yaml_is_null(n)))
        return 0;
    char buf[64];
    ig_yaml_error(y, n, path, "expected %s, got %s", what, describe(n, buf, sizeof(buf)));
    return -1;
}

int ig_yaml_expect_map(ig_yaml_t *y, yaml_node_t *n, const char *path)
{
    return expect_type(y, n, path, YAML_MAPPING_NODE, "a map");
}

int ig_yaml_expect_seq(ig_yaml_t *y, yaml_node_t *n, const char *path)
{
    return expect_type(y, n, path, YAML_SEQUENCE_NODE, "a list");
}

int ig_yaml_str(ig_yaml_t *y, yaml_node_t *n, const char *path, const char **out)
{
    if (expect_type(y, n, path, YAML_SCALAR_NODE, "a string") != 0)
        return -1;
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
        ig_yaml_error(y, n, path, "string contains a NUL character");
        return -1;
    }
    *out = (const char *)n->data.scalar.value;
    return 0;
}

int ig_yaml_int(ig_yaml_t *y, yaml_node_t *n, const char *path, int64_t min, int64_t max, int64_t *out)
{
    const char *s;
    if (expect_type(y, n, path, YAML_SCALAR_NODE, "an integer") != 0 || ig_yaml_str(y, n, path, &s) != 0)
        return -1;
    int64_t v;
    if (ig_parse_int64(s, &v) != 0) {
        char buf[64];
        ig_yaml_error(y, n, path, "expected an integer, got %s", describe(n, buf, sizeof(buf)));
        return -1;
    }
    if (v < min || v > max) {
        ig_yaml_error(y, n, path, "%lld is out of range (%lld..%lld)", (long long)v, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int ig_yaml_bool(ig_yaml_t *y, yaml_node_t *n, const char *path, int *out)
{
    const char *s;
    if (expect_type(y, n, path, YAML_SCALAR_NODE, "true or false") != 0 || ig_yaml_str(y, n, path, &s) != 0)
        return -1;
    if (strcasecmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    char buf[64];
    ig_yaml_error(y, n, path, "expected true or false, got %s", describe(n, buf, sizeof(buf)));
    return -1;
}

typedef int (*unit_parser_t)(const char *s, uint64_t *out, char *msg, size_t msgsize);

static int read_units(ig_yaml_t *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max, uint64_t *out,
                      unit_parser_t parse, const char *what, int is_duration)
{
    const char *s;
    if (expect_type(y, n, path, YAML_SCALAR_NODE, what) != 0 || ig_yaml_str(y, n, path, &s) != 0)
        return -1;
    char msg[256];
    uint64_t v;
    if (parse(s, &v, msg, sizeof(msg)) != 0) {
        ig_yaml_error(y, n, path, "%s", msg);
        return -1;
    }
    if (v < min || v > max) {
        if (is_duration)
            ig_yaml_error(y, n, path, "%s is out of range (%llums..%llums)", s, (unsigned long long)min,
                          (unsigned long long)max);
        else
            ig_yaml_error(y, n, path, "%s is out of range (%llu..%llu bytes)", s, (unsigned long long)min,
                          (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int ig_yaml_duration(ig_yaml_t *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max, uint64_t *out)
{
    return read_units(y, n, path, min, max, out, ig_parse_duration_ms, "a duration", 1);
}

int ig_yaml_size(ig_yaml_t *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max, uint64_t *out)
{
    return read_units(y, n, path, min, max, out, ig_parse_size, "a size", 0);
}

/* ---- YAML → JSON -------------------------------------------------------------------------------- */

/* JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int is_json_number(const char *s)
{
    const char *p = s;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static int to_json(ig_yaml_t *y, yaml_node_t *n, const char *path, ig_buf_t *b, int depth)
{
    if (depth > IG_YAML_MAX_DEPTH) {
        ig_yaml_error(y, n, path, "nested more than %d levels deep", IG_YAML_MAX_DEPTH);
        return -1;
    }
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        const char *s = (const char *)n->data.scalar.value;
        if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strlen(s) == n->data.scalar.length) {
            if (ig_yaml_is_null(n)) {
                ig_buf_put(b, "null", 4);
                return 0;
            }
            if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0 || is_json_number(s)) {
                ig_buf_put(b, s, n->data.scalar.length);
                return 0;
            }
        }
        ig_json_write_str(b, (const char *)n->data.scalar.value, n->data.scalar.length);
        return 0;
    }
    case YAML_SEQUENCE_NODE: {
        ig_buf_put(b, "[", 1);
        size_t len = ig_yaml_seq_len(n);
        for (size_t i = 0; i < len; i++) {
            yaml_node_t *item = ig_yaml_seq_at(y, n, i);
            if (!item)
                return -1;
            if (i)
                ig_buf_put(b, ",", 1);
            if (to_json(y, item, path, b, depth + 1) != 0)
                return -1;
        }
        ig_buf_put(b, "]", 1);
        return 0;
    }
    case YAML_MAPPING_NODE: {
        ig_buf_put(b, "{", 1);
        size_t len = ig_yaml_map_len(n);
        int first = 1;
        for (size_t i = 0; i < len; i++) {
            const char *key = NULL;
            yaml_node_t *val = ig_yaml_map_at(y, n, i, &key);
            if (!val)
                return -1;
            if (!key)
                continue; /* complex key: reported by check_structure */
            if (!first)
                ig_buf_put(b, ",", 1);
            first = 0;
            ig_json_write_str(b, key, strlen(key));
            ig_buf_put(b, ":", 1);
            if (to_json(y, val, path, b, depth + 1) != 0)
                return -1;
        }
        ig_buf_put(b, "}", 1);
        return 0;
    }
    default:
        ig_buf_put(b, "null", 4);
        return 0;
    }
}

char *ig_yaml_to_json(ig_yaml_t *y, yaml_node_t *n, const char *path, ig_arena_t *a)
{
    ig_buf_t b = {0};
    char *out = NULL;
    if (to_json(y, n, path, &b, 0) == 0) {
        if (b.failed)
            ig_yaml_error(y, n, path, "out of memory");
        else
            out = ig_arena_strndup(a, b.p ? b.p : "", b.len);
    }
    free(b.p);
    return out;
}
