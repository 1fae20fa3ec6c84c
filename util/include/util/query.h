/*
 * util/query.h — a URL query string ("a=1&b=x%20y") decoded once into key/value pairs and checked
 * against the parameters a route understands. Every plugin route reads its query through this, so
 * an unknown, repeated or badly encoded parameter is refused the same way everywhere (a money API
 * must not answer a question it did not understand).
 */
#ifndef IG_UTIL_QUERY_H
#define IG_UTIL_QUERY_H

#include <stddef.h>

#define IG_QUERY_MAX_PARAMS 32

typedef struct {
    const char *key;   /* percent-decoded, NUL-terminated, in the caller's memory */
    const char *value; /* "" for "key" or "key=" */
} ig_query_pair_t;

typedef struct {
    ig_query_pair_t pairs[IG_QUERY_MAX_PARAMS];
    size_t n;
} ig_query_t;

typedef enum {
    IG_QUERY_OK = 0,
    IG_QUERY_MALFORMED,  /* a bad percent-escape or an encoded NUL (in the key or the value) */
    IG_QUERY_UNKNOWN,    /* a key not in the allowed list */
    IG_QUERY_REPEATED,   /* a key given twice: which one would count is a guess */
    IG_QUERY_TOO_MANY    /* more than IG_QUERY_MAX_PARAMS parameters */
} ig_query_status_t;

typedef struct {
    ig_query_status_t status;
    char param[64];    /* the parameter at fault (decoded when it could be, else as written; truncated) */
} ig_query_error_t;

/* Bytes of memory ig_query_parse needs for a query of n bytes (decoded keys and values, NULs). */
#define IG_QUERY_MEM(n) (2 * (n) + 2)

/*
 * Decodes q[0..n) (what follows '?', undecoded; '+' is a space) into *out, keys and values written
 * into mem (IG_QUERY_MEM(n) bytes). Empty pieces ("a=1&&b=2", a trailing '&') are skipped. With
 * allowed (NULL-terminated list of names), every key must be one of them. 0, or -1 with *e filled.
 */
int ig_query_parse(const char *q, size_t n, const char *const *allowed, char *mem, size_t memcap, ig_query_t *out,
                   ig_query_error_t *e);

/* The value of name, or NULL when absent. */
const char *ig_query_get(const ig_query_t *q, const char *name);

/* A message for e, naming the parameter: "unknown query parameter `x`", ... */
const char *ig_query_error_message(const ig_query_error_t *e, char *buf, size_t cap);
/* The OpenAI error code for e: "unknown_parameter", "invalid_value", ... */
const char *ig_query_error_code(const ig_query_error_t *e);

#endif
