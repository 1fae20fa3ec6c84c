/*
 * rl_redis_conn.h — connections to Redis on the worker threads' event loops, never blocking them.
 *
 * One connection per worker thread and Redis server (a URL: host, port or socket, user, password,
 * database), made on that thread the first time it needs one (hiredis's asynchronous API on the
 * worker's libuv loop), kept across reloads (the table lives in the plugin's process state), and
 * closed on that thread once no configuration names its URL any more, or when the worker exits.
 *
 * Commands are RESP, formatted by the sender, or lazily right before they are written (a batch
 * that gathers what the loop iteration sends). Whatever is sent while a worker's loop runs its
 * callbacks is written in one write at the end of that loop iteration, without waiting for the
 * answers to what was sent before (pipelined). Replies come back in order; every command has a
 * deadline (redisTimeout)
 * kept by one timer per connection, and a command with no answer by then fails the connection
 * (and so every command behind it). After a failure the connection is made again on demand, with a
 * backoff (100 ms doubling to 2 s) during which sends fail at once: a dead Redis costs one attempt
 * per worker per backoff, not a timeout per request. Host names are resolved with
 * uv_getaddrinfo, off the loop (hiredis would resolve them on the calling thread).
 */
#ifndef RL_REDIS_CONN_H
#define RL_REDIS_CONN_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"

struct redisReply;

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

typedef struct rl_conns_s rl_conns_t;   /* process-wide: the servers, and each worker's connections */
typedef struct rl_target_s rl_target_t; /* one Redis server (URL), shared by the generations naming it */
typedef struct rl_conn_s rl_conn_t;     /* one worker's connection to one target */
typedef struct rl_cmd_s rl_cmd_t;

/*
 * A command's outcome, on the worker's loop: reply (an error reply too: reply->type) or NULL with
 * err saying why (no answer in time, connection lost or refused, shutting down). Runs exactly once
 * per command sent; it may send further commands (rl_conn_resend on cmd->conn, rl_conn_send).
 */
typedef void (*rl_cmd_done_t)(rl_cmd_t *cmd, struct redisReply *reply, const char *err);

struct rl_cmd_s {
    rl_cmd_t *next;          /* the connection's queue (owned by the connection while sent) */
    rl_conn_t *conn;         /* set when sent */
    uint64_t deadline_ms;    /* loop time */
    int64_t timeout_ms;
    rl_cmd_done_t done;
    const char *buf;         /* the formatted command; the sender's, valid until done runs */
    size_t len;
    /*
     * Optional: a command that gathers what is sent during this loop iteration. It waits in the
     * queue and prepare(cmd) fills buf and len right before it is written, once (0, or -1: it
     * fails). rl_conn_unsent_tail finds it meanwhile, to add to it.
     */
    int (*prepare)(rl_cmd_t *cmd);
};

/*
 * on_connect runs on the worker thread each time a connection is (re)made, before anything queued
 * on it is written: it may send commands every connection needs (SCRIPT LOAD) with rl_conn_resend.
 */
rl_conns_t *rl_conns_new(const ig_host_t *host, void (*on_connect)(rl_conn_t *c, int64_t timeout_ms));
/* At unload: every worker's exit hook has run (and its loop closed what it opened). */
void rl_conns_free(rl_conns_t *cs);

/* The server of url (shared with every generation naming the same one), counted once more. NULL
 * on out of memory. */
rl_target_t *rl_target_acquire(rl_conns_t *cs, const rl_redis_url_t *url);
/* A generation no longer names it: each worker closes its connection once idle (on its thread). */
void rl_target_release(rl_target_t *t);
/* "host:port" or the socket path, for messages. */
const char *rl_target_name(const rl_target_t *t);
const char *rl_conn_name(const rl_conn_t *c);

/*
 * Sends cmd on the calling worker thread's connection to t, made first when there is none.
 * 0: cmd->done runs exactly once, later, from this thread's loop. -1 with err: nothing was sent and
 * done never runs (not a worker thread, Redis failed a moment ago and the backoff has not passed).
 */
int rl_conn_send(rl_target_t *t, rl_cmd_t *cmd, int64_t timeout_ms, char *err, size_t cap);
/* Sends on a given connection (from a done callback or on_connect). 0 or -1 as rl_conn_send. */
int rl_conn_resend(rl_conn_t *c, rl_cmd_t *cmd, int64_t timeout_ms, char *err, size_t cap);
/* The calling worker thread's connection to t (made on first use, not connected yet), or NULL with
 * err (not a worker thread, out of memory). */
rl_conn_t *rl_conn_here(rl_target_t *t, char *err, size_t cap);
/* The last command queued on c if it is a lazy one not yet written (still open to additions). */
rl_cmd_t *rl_conn_unsent_tail(rl_conn_t *c);

/* c is being closed (shutdown, or no configuration names its server): its failures are expected. */
int rl_conn_closing(const rl_conn_t *c);

/* A warning about c's server, at most one line a second per process (the line counts the rest). */
void rl_conn_warn(const rl_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* For tests: connections open (or opening) on the calling worker thread. */
size_t rl_conns_open_here(rl_conns_t *cs);

#endif
