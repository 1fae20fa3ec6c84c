/*
 * rl_describe.h — the rate limiter's part of GET /v1/me: every limit that applies to the caller (its
 * key, its customer, each model it may use, its key on each model), what is left of it in the current
 * window and when the window is empty again.
 */
#ifndef RL_DESCRIBE_H
#define RL_DESCRIBE_H

#include "infergate/plugin.h"
#include "rl_memory.h"

/* Fills d->members with "limits":[...]. table NULL (the Redis backend, whose counters are not here):
 * remaining and reset_seconds are null. 0, or -1 with err (out of memory). */
int rl_describe(const ig_host_t *host, rl_table_t *table, ig_describe_t *d, ig_error_t *err);

#endif
