/*
 * rl_redis.h — the shared backend: every gateway replica pointing at one Redis enforces one limit.
 *
 * One Lua script per admission and one per completion (rl_redis_script.c) do the check and the
 * increment atomically inside Redis (EVALSHA; EVAL when Redis has forgotten the script). Each
 * worker thread has its own blocking hiredis connection, made on its first request: calls block
 * that thread for one round trip (tens of microseconds on loopback, more across a network).
 */
#ifndef RL_REDIS_H
#define RL_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"
#include "rl_report.h"

extern const char rl_redis_admit_lua[];
extern const char rl_redis_complete_lua[];

typedef struct {
    char host[256];      /* or a unix socket path when unix_socket */
    int port;
    int unix_socket;
    char user[128];      /* Redis 6 ACL user, or empty */
    char password[256];  /* empty: no AUTH */
    int db;
} rl_redis_url_t;

/* redis://[[user]:password@]host[:port][/db] or unix:///path/to/redis.sock. 0, or -1 with err. */
int rl_redis_parse_url(const char *url, rl_redis_url_t *out, char *err, size_t cap);

typedef struct rl_redis_s rl_redis_t;

typedef struct {
    const rl_redis_url_t *url;
    const char *key_prefix;
    int64_t timeout_ms;  /* connect and each command */
    int64_t lease_ms;    /* a concurrency slot not given back (the gateway died) frees itself after this */
    unsigned threads;    /* connections to expect (worker threads); more threads share one, locked */
} rl_redis_config_t;

rl_redis_t *rl_redis_new(const ig_host_t *host, const rl_redis_config_t *cfg);
void rl_redis_free(rl_redis_t *rd);

/* Admission in Redis: fills v->obs and v->now_ms. 1 admitted, 0 refused, -1 Redis failed (err filled). */
int rl_redis_admit(rl_redis_t *rd, rl_view_t *v, const char *ticket, char *err, size_t cap);
/* Charges tokens and releases concurrency slots per flags[] (RL_CHARGE_* / RL_HOLD_CONC). 0 or -1. */
int rl_redis_complete(rl_redis_t *rd, const char *const *ids, const size_t *idlens, const unsigned *flags, size_t n,
                      const char *ticket, int64_t tokens, char *err, size_t cap);

#endif
