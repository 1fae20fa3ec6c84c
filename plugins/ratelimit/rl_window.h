/*
 * rl_window.h — the arithmetic of the rate limiter, with no locks, clocks or I/O (unit-tested).
 *
 * Sliding window: a window of W ms is kept as RL_SLOTS slots of W/60 ms each (a minute in
 * seconds, an hour in minutes). Everything counted in a slot stops counting when RL_SLOTS slots
 * have begun after it, so a count leaves the window between W and W + W/60 after it was made:
 * never early. At most `limit` requests are admitted in any span of W ms; the price is that a
 * request can be held back for up to W/60 longer than a perfectly exact sliding log would.
 *
 * Burst: GCRA (a token bucket of `burst` requests refilled at requestsPerMinute/60 per second,
 * kept as one timestamp, the "theoretical arrival time").
 *
 * The Redis script (rl_redis_script.c) does the same arithmetic in Lua; keep them in step.
 */
#ifndef RL_WINDOW_H
#define RL_WINDOW_H

#include <stdint.h>

#define RL_SLOTS 61 /* 60 slots make the window, one more so nothing leaves it early */
#define RL_MINUTE_SLOT_MS INT64_C(1000)
#define RL_HOUR_SLOT_MS INT64_C(60000)

typedef struct {
    int64_t count[RL_SLOTS];
    int64_t slot[RL_SLOTS]; /* absolute slot number (now / width) the count belongs to */
} rl_window_t;

/* What one limit looks like at a moment: the common currency of both backends. */
typedef struct {
    int64_t limit;    /* -1: no such limit */
    int64_t used;     /* in the window now, before this request */
    int64_t reset_ms; /* until the window is empty again (OpenAI's x-ratelimit-reset-*) */
    int64_t retry_ms; /* until used < limit again (0 when it is already) */
} rl_obs_t;

void rl_window_init(rl_window_t *w);
int64_t rl_window_used(const rl_window_t *w, int64_t now_ms, int64_t width_ms);
void rl_window_add(rl_window_t *w, int64_t now_ms, int64_t width_ms, int64_t n);
/* Fills o->used, reset_ms and retry_ms (o->limit is the caller's). */
void rl_window_observe(const rl_window_t *w, int64_t now_ms, int64_t width_ms, rl_obs_t *o);

/* GCRA: microseconds between two requests at requestsPerMinute (rounded up: never faster). */
int64_t rl_gcra_interval_us(int64_t requests_per_minute);
/* Fills o->used (requests still "in the bucket"), reset_ms, retry_ms from the stored tat (0: idle). */
void rl_gcra_observe(int64_t tat_us, int64_t now_us, int64_t interval_us, rl_obs_t *o);
/* The tat after admitting one request. */
int64_t rl_gcra_take(int64_t tat_us, int64_t now_us, int64_t interval_us);

#endif
