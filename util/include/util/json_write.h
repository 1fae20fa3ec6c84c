/*
 * util/json_write.h — JSON string literals appended to an ig_buf_t, escaped by ig_json_escape
 * (util/json.c): quotes, backslashes and control characters escaped, invalid UTF-8 as U+FFFD,
 * so whatever the bytes, the text stays valid JSON.
 */
#ifndef IG_UTIL_JSON_WRITE_H
#define IG_UTIL_JSON_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"

/* s[0..n) as a JSON string literal, quotes included. 0 or -1 (out of memory). */
int ig_json_write_str(ig_buf_t *b, const char *s, size_t n);

/* A C string as a JSON string literal; NULL as null. */
int ig_json_write_cstr(ig_buf_t *b, const char *s);

/* An OpenAI-shaped error body: {"error":{"message","type","param","code"}} (param and code NULL or
 * "" as null). 0 or -1 (out of memory). */
int ig_json_write_error(ig_buf_t *b, const char *message, const char *type, const char *param, const char *code);

/* Unix milliseconds as an ISO 8601 UTC string ("2026-12-06T23:51:58.123Z"); 0 or less as null. */
void ig_json_write_time_ms(ig_buf_t *b, int64_t ms);

#endif
