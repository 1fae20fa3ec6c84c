/*
 * infergate/json.h — zero-copy JSON scanning shared by the core and plugins.
 *
 * Nothing is allocated and nothing is copied: every value is a span into the
 * caller's buffer. The gateway parses a request body once (ig_json_validate
 * plus one walk over the top-level members) and keeps spans, so rewriting a
 * body is splicing spans, not re-serialising a tree.
 *
 * This header holds the types and the function table: plugins reach the scanner through
 * ig_host_t.json (see plugin.h); the core and in-tree code linked with util/ call it directly
 * (util/json.h).
 */
#ifndef INFERGATE_JSON_H
#define INFERGATE_JSON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Nesting deeper than this is rejected: it bounds stack use on hostile input. */
#define IG_JSON_MAX_DEPTH 64

typedef enum {
    IG_JSON_INVALID = 0,
    IG_JSON_OBJECT,
    IG_JSON_ARRAY,
    IG_JSON_STRING,
    IG_JSON_NUMBER,
    IG_JSON_TRUE,
    IG_JSON_FALSE,
    IG_JSON_NULL
} ig_json_type_t;

/* A value as it stands in the buffer. For strings the span includes the quotes. */
typedef struct {
    ig_json_type_t type;
    const char *ptr;
    size_t len;
} ig_json_value_t;

typedef struct {
    size_t offset;   /* byte offset of the first offending character */
    char msg[96];    /* e.g. "expected ',' or '}' after object member" */
} ig_json_error_t;

/* Iterates the members of an object or the elements of an array, one level. */
typedef struct {
    const char *cur;
    const char *end;
    int is_object;
    int done;
} ig_json_iter_t;

/*
 * The scanner's functions, as the table the core hands plugins (ig_host_t.json). Like every host
 * table it starts with its size and only grows at its end (IG_HAS in plugin.h).
 *
 *  validate        strict RFC 8259 validation of one JSON text (whitespace around it allowed, nothing
 *                  else after the value): string escapes, UTF-8, depth. 0, or -1 filling err (may be NULL)
 *  validate_value  validate, then *out = the whole text's value (type and span without whitespace)
 *  parse_value     the single value starting at s (leading whitespace skipped), type and exact span.
 *                  The input must be valid already; never reads past s + n even when it is not. 0/-1
 *  iter_init       starts iterating a container (object or array). 0, or -1 when not a container
 *  iter_next       next member/element; for objects *key is the key's span with quotes (arrays: key
 *                  may be NULL). 1 produced, 0 at the end, -1 malformed
 *  object_get      member by unescaped key. 1 found, 0 absent, -1 not an object / malformed
 *  path            dotted path of member names and indexes ("choices.0.delta.content"); like object_get
 *  int64           a number that is an integer in int64 range (no fraction/exponent). 0/-1
 *  dbl             any number as a double. 0/-1
 *  boolean         true/false. 0/-1
 *  string_unescape a string value (span with quotes) unescaped into buf (cap bytes; NUL-terminated only
 *                  when room is left), length in *outlen. 0, or -1 (not a string, malformed, too small)
 *  string_eq       the unescaped string equals s[0..n). 1/0
 *  escape          s as a JSON string literal with quotes into buf; returns the bytes needed and writes
 *                  only when they fit in cap. Invalid UTF-8 becomes \ufffd, so the output is valid JSON
 */
typedef struct ig_json_api_s {
    size_t size; /* sizeof(ig_json_api_t) */
    int (*validate)(const char *s, size_t n, ig_json_error_t *err);
    int (*validate_value)(const char *s, size_t n, ig_json_error_t *err, ig_json_value_t *out);
    int (*parse_value)(const char *s, size_t n, ig_json_value_t *out);
    int (*iter_init)(ig_json_iter_t *it, const ig_json_value_t *container);
    int (*iter_next)(ig_json_iter_t *it, ig_json_value_t *key, ig_json_value_t *val);
    int (*object_get)(const ig_json_value_t *obj, const char *key, size_t keylen, ig_json_value_t *out);
    int (*path)(const ig_json_value_t *root, const char *path, ig_json_value_t *out);
    int (*int64)(const ig_json_value_t *v, int64_t *out);
    int (*dbl)(const ig_json_value_t *v, double *out);
    int (*boolean)(const ig_json_value_t *v, int *out);
    int (*string_unescape)(const ig_json_value_t *v, char *buf, size_t cap, size_t *outlen);
    int (*string_eq)(const ig_json_value_t *v, const char *s, size_t n);
    size_t (*escape)(const char *s, size_t n, char *buf, size_t cap);
} ig_json_api_t;

#ifdef __cplusplus
}
#endif

#endif
