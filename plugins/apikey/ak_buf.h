/*
 * ak_buf.h — a growable byte buffer for the JSON the admin API answers and the store keeps.
 * Out of memory is sticky (failed = 1) so writers need not check every call.
 */
#ifndef AK_BUF_H
#define AK_BUF_H

#include <stddef.h>
#include "ak_set.h"
#include "infergate/json.h"

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
    const ig_json_api_t *j;
} ak_buf_t;

void ak_buf_put(ak_buf_t *b, const char *s, size_t n);
void ak_buf_puts(ak_buf_t *b, const char *s);
void ak_buf_printf(ak_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal; NULL as null */
void ak_buf_str(ak_buf_t *b, const char *s);
/* {"requestsPerMinute":60,"requestsPerHour":null,...}: every field, null for no limit */
void ak_buf_limits(ak_buf_t *b, const ig_limits_t *l);
/* unix seconds, or null for 0 */
void ak_buf_time(ak_buf_t *b, int64_t t);
/* ["a","b"], or null for NULL */
void ak_buf_models(ak_buf_t *b, const char *const *models, size_t n);
void ak_buf_free(ak_buf_t *b);

#endif
