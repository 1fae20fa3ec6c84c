/*
 * ak_buf.h — the JSON the admin API answers and the store keeps, written into util's text buffer
 * (util/buf.h; strings with util/json_write.h).
 */
#ifndef AK_BUF_H
#define AK_BUF_H

#include <stddef.h>
#include "ak_set.h"
#include "infergate/json.h"
#include "util/buf.h"
#include "util/json_write.h"

typedef ig_buf_t ak_buf_t;

/* {"requestsPerMinute":60,"requestsPerHour":null,...}: every field, null for no limit */
void ak_buf_limits(ak_buf_t *b, const ig_limits_t *l);
/* unix seconds, or null for 0 */
void ak_buf_time(ak_buf_t *b, int64_t t);
/* ["a","b"], or null for NULL */
void ak_buf_models(ak_buf_t *b, const char *const *models, size_t n);

#endif
