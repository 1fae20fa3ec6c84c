/* bl_query — the admin routes' query strings: percent-decoded parameters and dates. */
#ifndef BL_QUERY_H
#define BL_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"

/* The decoded value of name in query into out (NUL-terminated). 1 found, 0 absent, -1 malformed or
 * longer than cap - 1. */
int bl_query_get(ig_str_t query, const char *name, char *out, size_t cap);

/* 1 when query names a parameter not in allowed (NULL-terminated), its name (decoded when it can be,
 * cut to cap - 1) in out; else 0. Minimal until the shared util/query.h lands. */
int bl_query_unknown(ig_str_t query, const char *const *allowed, char *out, size_t cap);

/* "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SSZ" or Unix seconds → Unix ms. 0 or -1 (a field
 * not exactly its digits, a day the month does not have, a year before 1970). */
int bl_parse_time(const char *s, int64_t *ms);
/* "YYYY-MM" in digits, with a real month. 0 or -1. */
int bl_parse_month(const char *s);

#endif
