/*
 * config_yaml.h — libyaml documents with positions, and typed readers that
 * report "file:line: path: message".
 *
 * A document is loaded whole (yaml_parser_load), then checked once for
 * structure every config needs: keys are strings and no mapping repeats a
 * key. Aliases are allowed (anchors are handy for shared env/args), but
 * libyaml resolves them to shared nodes, so a small file can describe an
 * exponentially large tree ("billion laughs") or even a cycle. Every reader
 * therefore counts the nodes it visits and stops at IG_YAML_MAX_VISITS, and
 * the one generic recursive walk (ig_yaml_to_json) also bounds depth.
 */
#ifndef IG_CONFIG_YAML_H
#define IG_CONFIG_YAML_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "util/arena.h"
#include "config/errors.h"

#define IG_YAML_MAX_VISITS 250000
#define IG_YAML_MAX_DEPTH 64
#define IG_YAML_MAX_ERRORS 100
#define IG_YAML_MAX_FILE (16u << 20)

typedef struct ig_yaml_s {
    const char *file;        /* name used in messages */
    ig_errors_t *errs;
    yaml_parser_t parser;
    int parser_ready;
    char *buf;               /* file contents we own (NULL for a caller's buffer) */
    yaml_document_t doc;
    int have_doc;
    size_t visits;
    int visits_reported;
    size_t nerrors;          /* errors added through this context (capped) */
} ig_yaml_t;

/* Both read nothing yet; errors (cannot open, too large) are reported. 0 or -1. */
int ig_yaml_open_file(ig_yaml_t *y, const char *path, ig_errors_t *errs);
/* buf must outlive y. name is used in messages. */
int ig_yaml_open_buffer(ig_yaml_t *y, const char *name, const char *buf, size_t len, ig_errors_t *errs);
/*
 * Loads the next document (freeing the previous one). 1: loaded, root is
 * non-NULL (structural errors such as duplicate keys may have been reported);
 * 0: no more documents; -1: syntax error, reported.
 */
int ig_yaml_next_document(ig_yaml_t *y);
yaml_node_t *ig_yaml_root(ig_yaml_t *y);
void ig_yaml_close(ig_yaml_t *y);

/* "file:line: path: message"; path may be NULL or "". Node NULL = the file as a whole. */
void ig_yaml_error(ig_yaml_t *y, const yaml_node_t *n, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ig_yaml_error_line(ig_yaml_t *y, int line, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int ig_yaml_line(const yaml_node_t *n); /* 1-based */

/* Node navigation; NULL once the visit budget is spent (reported once). */
size_t ig_yaml_map_len(const yaml_node_t *map);
yaml_node_t *ig_yaml_map_at(ig_yaml_t *y, yaml_node_t *map, size_t i, const char **key);
yaml_node_t *ig_yaml_map_get(ig_yaml_t *y, yaml_node_t *map, const char *key);
size_t ig_yaml_seq_len(const yaml_node_t *seq);
yaml_node_t *ig_yaml_seq_at(ig_yaml_t *y, yaml_node_t *seq, size_t i);

/* Reports every key of map not in known (NULL-terminated), listing the known ones. Returns the count. */
int ig_yaml_check_keys(ig_yaml_t *y, yaml_node_t *map, const char *path, const char *const *known);

/* ---- typed readers: 0, or -1 after reporting "expected ..., got ..." ---- */
int ig_yaml_is_null(const yaml_node_t *n);
int ig_yaml_expect_map(ig_yaml_t *y, yaml_node_t *n, const char *path);
int ig_yaml_expect_seq(ig_yaml_t *y, yaml_node_t *n, const char *path);
/* A non-null scalar without NUL bytes; *out points into the document. */
int ig_yaml_str(ig_yaml_t *y, yaml_node_t *n, const char *path, const char **out);
int ig_yaml_int(ig_yaml_t *y, yaml_node_t *n, const char *path, int64_t min, int64_t max, int64_t *out);
int ig_yaml_bool(ig_yaml_t *y, yaml_node_t *n, const char *path, int *out);
int ig_yaml_duration(ig_yaml_t *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max, uint64_t *out);
int ig_yaml_size(ig_yaml_t *y, yaml_node_t *n, const char *path, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Converts any subtree to compact JSON text in a (plain scalars that look like
 * JSON numbers, booleans or null stay bare; everything else is a string).
 * NULL after reporting when too deep or over budget.
 */
char *ig_yaml_to_json(ig_yaml_t *y, yaml_node_t *n, const char *path, ig_arena_t *a);

/* Path building: writes parent.key / parent[i] into buf (truncating), returns buf. */
char *ig_path_key(char *buf, size_t cap, const char *parent, const char *key);
char *ig_path_index(char *buf, size_t cap, const char *parent, size_t i);
#define IG_PATH_MAX 256

#endif
