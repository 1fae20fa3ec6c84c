/*
 * util/json.h — the JSON scanner (util/json.c) for code linked with util: the functions declared in
 * infergate/json.h, and ig_json_api, the same functions as the table the core hands to plugins
 * (ig_host_t.json).
 */
#ifndef IG_UTIL_JSON_H
#define IG_UTIL_JSON_H

#include "infergate/json.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Strict RFC 8259 validation of one JSON text (leading/trailing whitespace
 * allowed, nothing else after the value). Checks string escapes, UTF-8 and
 * depth. Returns 0 on success, -1 and fills err (may be NULL) otherwise.
 */
int ig_json_validate(const char *s, size_t n, ig_json_error_t *err);

/*
 * ig_json_validate, then *out = the whole text's value (type and span without
 * the surrounding whitespace), found without a second scan. 0 or -1 with err.
 */
int ig_json_validate_value(const char *s, size_t n, ig_json_error_t *err, ig_json_value_t *out);

/*
 * Reads the single value that starts at s (leading whitespace skipped) and
 * fills *out with its type and exact span. The input must already be valid
 * (ig_json_validate) — these helpers do not re-validate, but they never read
 * past s + n even on invalid input. Returns 0 or -1.
 */
int ig_json_parse_value(const char *s, size_t n, ig_json_value_t *out);

/* Starts iterating a container value (object or array). Returns 0 or -1 (not a container). */
int ig_json_iter_init(ig_json_iter_t *it, const ig_json_value_t *container);

/*
 * Next member/element. For objects *key is the key's span including quotes;
 * for arrays key may be NULL. Returns 1 when a member was produced, 0 at the end,
 * -1 on malformed input.
 */
int ig_json_iter_next(ig_json_iter_t *it, ig_json_value_t *key, ig_json_value_t *val);

/*
 * Looks up a member of an object by its unescaped key (keys with escapes are
 * compared after unescaping). Returns 1 found, 0 absent, -1 not an object / malformed.
 */
int ig_json_object_get(const ig_json_value_t *obj, const char *key, size_t keylen, ig_json_value_t *out);

/*
 * Follows a dotted path of member names and array indexes, e.g.
 * "usage.prompt_tokens" or "choices.0.delta.content". Returns 1, 0 or -1 like object_get.
 */
int ig_json_path(const ig_json_value_t *root, const char *path, ig_json_value_t *out);

/* A JSON number that is an integer in int64 range (no fraction/exponent). Returns 0 or -1. */
int ig_json_int64(const ig_json_value_t *v, int64_t *out);

/* Any JSON number as a double. Returns 0 or -1. */
int ig_json_double(const ig_json_value_t *v, double *out);

/* true/false. Returns 0 or -1 (not a boolean). */
int ig_json_bool(const ig_json_value_t *v, int *out);

/*
 * Unescapes a string value (span with quotes) into buf (cap bytes, not
 * NUL-terminated unless room is left). Writes the decoded length to *outlen.
 * Returns 0, or -1 if not a string, malformed, or buf too small.
 */
int ig_json_string_unescape(const ig_json_value_t *v, char *buf, size_t cap, size_t *outlen);

/*
 * Decodes the start of a string's text: s is what stands between the quotes of a validated JSON
 * string (escapes not decoded). Writes as much of the decoded text as fits in cap bytes, never part
 * of a character: the output is valid UTF-8 when the input was validated. Not NUL-terminated.
 * Returns 0, or -1 at a malformed escape (what came before it is kept); *outlen is set either way.
 */
int ig_json_unescape_prefix(const char *s, size_t n, char *buf, size_t cap, size_t *outlen);

/* Unescaped string equals the given bytes. Returns 1/0. */
int ig_json_string_eq(const ig_json_value_t *v, const char *s, size_t n);

/*
 * Writes s as a JSON string literal (with quotes, escaping as needed) into buf.
 * Returns the number of bytes needed; writes only when the result fits in cap.
 */
size_t ig_json_escape(const char *s, size_t n, char *buf, size_t cap);

extern const ig_json_api_t ig_json_api;

#ifdef __cplusplus
}
#endif

#endif
