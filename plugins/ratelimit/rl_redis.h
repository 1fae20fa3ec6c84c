/*
 * rl_redis.h — the shared backend: every gateway replica pointing at one Redis enforces one limit.
 *
 * A Lua script (rl_redis_script.c) does the checks and the increments atomically inside Redis
 * (EVALSHA; EVAL when Redis has forgotten it). Calls never block: they go out on the calling
 * worker's connection (rl_redis_conn.h) and answer on its loop. What one worker asks of one Redis
 * during one loop iteration (admissions, completions) is one script call, written at the end of
 * that iteration.
 */
#ifndef RL_REDIS_H
#define RL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"
#include "rl_redis_conn.h"
#include "rl_report.h"

extern const char rl_redis_batch_lua[];

/* The process's connections (rl_conns_new with the scripts loaded on every new connection). */
rl_conns_t *rl_redis_conns_new(const ig_host_t *host);

typedef struct rl_redis_s rl_redis_t; /* one generation's use of one Redis */

typedef struct {
    rl_conns_t *conns;
    const rl_redis_url_t *url;
    const char *key_prefix;
    int64_t timeout_ms;  /* connect and each command */
    int64_t lease_ms;    /* a concurrency slot not given back (the gateway died) frees itself after this */
} rl_redis_config_t;

rl_redis_t *rl_redis_new(const ig_host_t *host, const rl_redis_config_t *cfg);
void rl_redis_free(rl_redis_t *rd);

typedef struct rl_redis_call_s rl_redis_call_t;

/*
 * An admission's outcome, on the worker's loop: verdict 1 (admitted) or 0 (refused) with v->obs and
 * v->now_ms filled, or -1 with err (Redis failed: unreachable, timed out, answered an error).
 */
typedef void (*rl_redis_admit_cb_t)(void *arg, int verdict, const char *err);

/*
 * Sends the admission of v (scopes, limits) for ticket. 0: cb(arg, ...) runs exactly once, later,
 * unless rl_redis_admit_cancel(*call) comes first; v and ticket must stay valid until then. -1 with
 * err: nothing was sent, cb never runs.
 */
int rl_redis_admit(rl_redis_t *rd, rl_view_t *v, const char *ticket, rl_redis_admit_cb_t cb, void *arg,
                   rl_redis_call_t **call, char *err, size_t cap);
/*
 * The request left before its answer: cb never runs and v is never touched again. If Redis then
 * says admitted, the concurrency slots it took are given back (a completion without tokens); the
 * request it counted stays counted, as it would have had it been admitted at once.
 */
void rl_redis_admit_cancel(rl_redis_call_t *call);

/*
 * Charges tokens and releases concurrency slots per flags[] (RL_CHARGE_* / RL_HOLD_CONC), without
 * waiting: a failure later is logged (and a slot frees itself at the lease's end). 0, or -1 with
 * err when it could not even be sent.
 */
int rl_redis_complete(rl_redis_t *rd, const char *const *ids, const size_t *idlens, const unsigned *flags, size_t n,
                      const char *ticket, int64_t tokens, char *err, size_t cap);

#endif
