/*
 * ak_parse.h — strict reading of customers, keys, limits and publications from JSON.
 *
 * The same readers serve YAML (plugins.options.apikey, handed over as JSON text) and the admin
 * API, so both accept exactly the same shapes. Unknown fields, duplicate fields, wrong types,
 * out-of-range numbers and over-long or malformed ids and names are errors naming the field
 * ("keys[2].limits.burst: ..."). Input must already be valid JSON (host->json->validate).
 * Nothing is written anywhere: results go to the caller's arena.
 */
#ifndef AK_PARSE_H
#define AK_PARSE_H

#include "ak_set.h"
#include "infergate/json.h"

typedef struct {
    char msg[400];
    char param[96];  /* the offending field's path, for the OpenAI error's "param" */
} ak_err_t;

#define AK_LIMIT_MAX 1000000000000LL  /* 10^12: beyond any real rate, and safely inside int64 */

typedef enum {
    AK_FROM_CONFIG = 0, /* id required; a key needs "hash" */
    AK_FROM_API = 1     /* id optional (generated); a key may not carry a hash (the server makes it) */
} ak_origin_t;

/* [A-Za-z0-9._-]{1,64} */
int ak_valid_id(const char *s, size_t len);
/* 1..256 bytes, no control characters (the JSON validator already checked UTF-8) */
int ak_valid_name(const char *s, size_t len);

/* An object with any of requestsPerMinute, requestsPerHour, tokensPerMinute, tokensPerHour, burst,
 * maxConcurrent: each an integer 1..10^12 or null (no limit), as models[].limits; burst needs
 * requestsPerMinute. Absent fields are no limit. */
int ak_parse_limits(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_limits_t *out, ak_err_t *e);

/* {id, name, limits} */
int ak_parse_customer(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a,
                      ak_origin_t origin, ak_customer_t *out, ak_err_t *e);

/* {id, customer, name, hash (config only), models, limits, expires}; expires is unix seconds or
 * "YYYY-MM-DDTHH:MM:SSZ". */
int ak_parse_key(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a,
                 ak_origin_t origin, ak_key_t *out, ak_err_t *e);

/* POST /admin/models/{name}/publish: {customers: [ids], limits} */
typedef struct {
    const char *const *customers;
    size_t ncustomers;
    ig_limits_t limits;
} ak_publish_t;
int ak_parse_publish(const ig_json_api_t *j, const ig_json_value_t *v, ig_arena_t *a, ak_publish_t *out, ak_err_t *e);

/* A JSON array of model names (as stored for a key): 0, or -1 with e. */
int ak_parse_models(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a,
                    const char *const **models, size_t *n, ak_err_t *e);

/* "YYYY-MM-DDTHH:MM:SSZ" → unix seconds. 0, or -1. */
int ak_parse_rfc3339(const char *s, size_t len, int64_t *out);

#endif
