/*
 * rl_redis_conn.c — per-worker Redis connections on the worker's libuv loop (see rl_redis_conn.h).
 *
 * hiredis's asynchronous context is driven by our own event hooks rather than Debian's
 * adapters/libuv.h, for two reasons: that adapter ignores a poll error (libuv then stops watching
 * the socket, so a reset or refused connection would sit silent until a timeout), and it restarts
 * the uv_poll for every command (an epoll_ctl per admission). Here a command only marks the
 * connection as having something to write; the write happens once, in a uv_check right after the
 * callbacks of the current poll (or in a uv_prepare before the next poll, for commands sent from
 * timers or close callbacks). The socket is polled for writing only while connecting or when the
 * kernel's buffer is full.
 */
#include "rl_redis_conn.h"
#include <arpa/inet.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#define RL_MAX_WORKERS 256 /* server.workers is at most 256 */
#define RL_BACKOFF_MIN_MS 100
#define RL_BACKOFF_MAX_MS 2000

struct rl_target_s {
    rl_target_t *next;
    rl_conns_t *cs;
    rl_redis_url_t url;
    char name[272]; /* host (255) and port */
    atomic_int refs; /* generations naming this server */
};

typedef struct rl_worker_s {
    rl_conns_t *cs;
    uv_loop_t *loop;
    rl_conn_t *conns; /* touched by this worker's thread only */
    int exited;
} rl_worker_t;

struct rl_conns_s {
    const ig_host_t *host;
    void (*on_connect)(rl_conn_t *c, int64_t timeout_ms);
    pthread_mutex_t mu; /* targets */
    rl_target_t *targets;
    _Atomic(rl_worker_t *) workers[RL_MAX_WORKERS];
    atomic_uint_least64_t last_warn_ms;
    atomic_uint_least64_t unwarned; /* messages left out since the last one */
};

/* The libuv side of one hiredis context. Outlives it until the poll handle is closed. */
typedef struct {
    rl_conn_t *conn; /* NULL once the context is gone */
    redisAsyncContext *ac;
    uv_poll_t poll;
    int events;
} rl_ev_t;

typedef struct {
    uv_getaddrinfo_t req;
    rl_conn_t *conn; /* NULL: the connection gave up on this lookup */
} rl_resolve_t;

enum { CONN_DOWN = 0, CONN_RESOLVING, CONN_UP };

/* AUTH or SELECT, sent first on every new context. */
typedef struct {
    rl_cmd_t cmd;
    char *buf;
    const char *what;
} rl_hello_t;

struct rl_conn_s {
    rl_conn_t *next; /* the worker's list */
    rl_worker_t *w;
    rl_target_t *target;
    int state;
    redisAsyncContext *ac; /* CONN_UP */
    rl_ev_t *ev;
    rl_resolve_t *resolving;
    rl_cmd_t *head, *tail; /* sent (or, while resolving, waiting), in the order replies come */
    rl_cmd_t *unsent;      /* CONN_UP: the first of the queue's last commands not handed to hiredis yet */
    uv_timer_t timer;      /* the head's deadline */
    uv_prepare_t prepare;  /* writes what was sent since the last poll ... */
    uv_check_t check;      /* ... or right after this poll's callbacks */
    int flush_wanted, flushing;
    int lost_work;         /* this context failed commands (or never connected): back off */
    uint64_t retry_at_ms;
    int64_t backoff_ms;
    char why[512];         /* why commands fail now */
    int closing, handles_open;
    int64_t timeout_ms;    /* the last command's: for AUTH and SELECT */
    rl_hello_t auth, select;
};

static void vwarn(rl_conns_t *cs, const char *fmt, va_list ap)
{
    uint64_t now = cs->host->now_ms(), last = atomic_load_explicit(&cs->last_warn_ms, memory_order_relaxed);
    if ((last && now - last < 1000) ||
        !atomic_compare_exchange_strong_explicit(&cs->last_warn_ms, &last, now, memory_order_relaxed,
                                                 memory_order_relaxed)) {
        atomic_fetch_add_explicit(&cs->unwarned, 1, memory_order_relaxed);
        return;
    }
    char msg[600];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    uint64_t more = atomic_exchange_explicit(&cs->unwarned, 0, memory_order_relaxed);
    if (more)
        cs->host->log(IG_LOG_WARN, "ratelimit", "%s (and %llu more Redis failures in the last second)", msg,
                      (unsigned long long)more);
    else
        cs->host->log(IG_LOG_WARN, "ratelimit", "%s", msg);
}

static void warn(rl_conns_t *cs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Redis trouble is logged at most once a second per process: an outage is one line a second,
 * which says how many it stands for. */
static void warn(rl_conns_t *cs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(cs, fmt, ap);
    va_end(ap);
}

void rl_conn_warn(const rl_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vwarn(c->w->cs, fmt, ap);
    va_end(ap);
}

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- the process-wide table ------------------------------------------------------------------ */

rl_conns_t *rl_conns_new(const ig_host_t *host, void (*on_connect)(rl_conn_t *c, int64_t timeout_ms))
{
    rl_conns_t *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return NULL;
    cs->host = host;
    cs->on_connect = on_connect;
    pthread_mutex_init(&cs->mu, NULL);
    return cs;
}

void rl_conns_free(rl_conns_t *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < RL_MAX_WORKERS; i++) {
        rl_worker_t *w = atomic_load(&cs->workers[i]);
        /* a connection still listed here belongs to a loop that never ran its exit hook: its
         * handles may still be registered there, so it is left alone rather than freed */
        if (w && !w->conns)
            free(w);
    }
    while (cs->targets) {
        rl_target_t *t = cs->targets;
        cs->targets = t->next;
        free(t);
    }
    pthread_mutex_destroy(&cs->mu);
    free(cs);
}

static int same_url(const rl_redis_url_t *a, const rl_redis_url_t *b)
{
    return a->port == b->port && a->unix_socket == b->unix_socket && a->db == b->db && !strcmp(a->host, b->host) &&
           !strcmp(a->user, b->user) && !strcmp(a->password, b->password);
}

rl_target_t *rl_target_acquire(rl_conns_t *cs, const rl_redis_url_t *url)
{
    pthread_mutex_lock(&cs->mu);
    rl_target_t *t = cs->targets;
    while (t && !same_url(&t->url, url))
        t = t->next;
    if (!t && (t = calloc(1, sizeof(*t)))) {
        /* kept until unload, even when no generation names it any more: workers' connections
         * point at it, and a later reload naming it again finds its connections still open */
        t->url = *url;
        t->cs = cs;
        if (url->unix_socket)
            snprintf(t->name, sizeof(t->name), "%s", url->host);
        else
            snprintf(t->name, sizeof(t->name), strchr(url->host, ':') ? "[%s]:%d" : "%s:%d", url->host, url->port);
        t->next = cs->targets;
        cs->targets = t;
    }
    if (t)
        atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&cs->mu);
    return t;
}

void rl_target_release(rl_target_t *t)
{
    if (t)
        atomic_fetch_sub(&t->refs, 1);
}

const char *rl_target_name(const rl_target_t *t)
{
    return t->name;
}

const char *rl_conn_name(const rl_conn_t *c)
{
    return c->target->name;
}

/* ---- one connection's queue and deadline --------------------------------------------------- */

static void on_timer(uv_timer_t *t);

static void q_push(rl_conn_t *c, rl_cmd_t *cmd)
{
    cmd->next = NULL;
    cmd->conn = c;
    if (c->tail)
        c->tail->next = cmd;
    else
        c->head = cmd;
    c->tail = cmd;
    /* replies come in order: the head's deadline is the next that matters */
    if (!uv_is_active((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_timer, (uint64_t)cmd->timeout_ms, 0);
}

static rl_cmd_t *q_pop(rl_conn_t *c)
{
    rl_cmd_t *cmd = c->head;
    if (cmd) {
        c->head = cmd->next;
        if (!c->head)
            c->tail = NULL;
        if (c->unsent == cmd)
            c->unsent = c->head;
        cmd->next = NULL;
    }
    return cmd;
}

static void back_off(rl_conn_t *c)
{
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : RL_BACKOFF_MIN_MS;
    if (c->backoff_ms > RL_BACKOFF_MAX_MS)
        c->backoff_ms = RL_BACKOFF_MAX_MS;
    c->retry_at_ms = uv_now(c->w->loop) + (uint64_t)c->backoff_ms;
}

/* Commands waiting without a context (resolving, or a context that could not be made). */
static void fail_queued(rl_conn_t *c)
{
    rl_cmd_t *cmd;
    while ((cmd = q_pop(c)))
        cmd->done(cmd, NULL, c->why);
}

static void abandon_resolve(rl_conn_t *c)
{
    if (c->resolving) {
        c->resolving->conn = NULL;
        uv_cancel((uv_req_t *)&c->resolving->req); /* the callback still runs, and frees it */
        c->resolving = NULL;
    }
}

static void conn_close_handles(rl_conn_t *c);

/* Everything sent on this connection fails with why; the connection is made again later. */
static void conn_fail(rl_conn_t *c, const char *why)
{
    snprintf(c->why, sizeof(c->why), "%s", why);
    c->lost_work = 1;
    if (c->ac) {
        /* commands fail with NULL replies (now, or once the callback we are in returns), then
         * ev_cleanup sees the context go */
        redisAsyncFree(c->ac);
        return;
    }
    abandon_resolve(c);
    c->state = CONN_DOWN;
    back_off(c);
    fail_queued(c);
    if (c->closing)
        conn_close_handles(c);
}

static void on_timer(uv_timer_t *t)
{
    rl_conn_t *c = t->data;
    rl_cmd_t *h = c->head;
    if (!h)
        return;
    uint64_t now = uv_now(c->w->loop);
    if (h->deadline_ms > now) {
        uv_timer_start(&c->timer, on_timer, h->deadline_ms - now, 0);
        return;
    }
    char why[512];
    snprintf(why, sizeof(why), "redis %s: no answer within %lld ms", c->target->name, (long long)h->timeout_ms);
    warn(c->w->cs, "%s: dropping the connection", why);
    conn_fail(c, why);
}

/* ---- hiredis's event hooks ------------------------------------------------------------------ */

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_set(rl_ev_t *e, int events)
{
    if (events == e->events)
        return;
    e->events = events;
    if (events)
        uv_poll_start(&e->poll, events, on_poll);
    else
        uv_poll_stop(&e->poll);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    rl_ev_t *e = h->data;
    if (status < 0) {
        /* libuv stopped watching the socket (POLLERR): a read makes hiredis find the error (a
         * refused connect or a reset) and tear the context down */
        e->events = 0;
        if (e->conn)
            redisAsyncHandleRead(e->ac);
        return;
    }
    if (e->conn && (events & UV_READABLE))
        redisAsyncHandleRead(e->ac);
    if (e->conn && (events & UV_WRITABLE))
        redisAsyncHandleWrite(e->ac);
}

static void finalize_unsent(rl_conn_t *c);

static void flush_stop(rl_conn_t *c)
{
    if (c->flush_wanted) {
        c->flush_wanted = 0;
        uv_prepare_stop(&c->prepare);
        uv_check_stop(&c->check);
    }
}

/* Writes everything sent since the last write: one write for all of this iteration's commands. */
static void flush(rl_conn_t *c)
{
    flush_stop(c);
    finalize_unsent(c);
    if (!c->ac || !(c->ac->c.flags & REDIS_CONNECTED))
        return;
    c->flushing = 1;
    redisAsyncHandleWrite(c->ac); /* may tear the context down; c stays valid */
    c->flushing = 0;
}

static void on_prepare(uv_prepare_t *p)
{
    flush(p->data);
}

static void on_check(uv_check_t *k)
{
    flush(k->data);
}

/* Write at the end of this loop iteration (or before the next poll). */
static void want_flush(rl_conn_t *c)
{
    if (!c->flush_wanted) {
        c->flush_wanted = 1;
        uv_prepare_start(&c->prepare, on_prepare);
        uv_check_start(&c->check, on_check);
    }
}

static void ev_add_read(void *data)
{
    rl_ev_t *e = data;
    if (e->conn)
        poll_set(e, e->events | UV_READABLE);
}

static void ev_del_read(void *data)
{
    rl_ev_t *e = data;
    if (e->conn)
        poll_set(e, e->events & ~UV_READABLE);
}

static void ev_add_write(void *data)
{
    rl_ev_t *e = data;
    rl_conn_t *c = e->conn;
    if (!c)
        return;
    /* connecting (writable = connected), or a write left bytes behind: wait for the socket */
    if (!(e->ac->c.flags & REDIS_CONNECTED) || c->flushing) {
        poll_set(e, e->events | UV_WRITABLE);
        return;
    }
    want_flush(c);
}

static void ev_del_write(void *data)
{
    rl_ev_t *e = data;
    if (!e->conn)
        return;
    poll_set(e, e->events & ~UV_WRITABLE);
    /* hiredis wrote all it held; commands queued since, not handed to it yet, still need their flush
     * (stopping it here left the first admissions made while connecting unsent until their timeout) */
    if (!e->conn->unsent)
        flush_stop(e->conn);
}

static void ev_closed(uv_handle_t *h)
{
    free(h->data);
}

/* The context is going away (hiredis frees it right after): every command it had has failed or
 * been answered already. Called once per context whatever ended it. */
static void ev_cleanup(void *data)
{
    rl_ev_t *e = data;
    rl_conn_t *c = e->conn;
    if (!c)
        return;
    e->conn = NULL;
    uv_close((uv_handle_t *)&e->poll, ev_closed);
    redisAsyncContext *ac = c->ac;
    c->ac = NULL;
    c->ev = NULL;
    c->state = CONN_DOWN;
    flush_stop(c);
    if (ac && ac->c.err && !c->why[0])
        snprintf(c->why, sizeof(c->why), "redis %s: %s", c->target->name, ac->c.errstr);
    if (c->closing) {
        fail_queued(c); /* (none: hiredis failed them before) */
        conn_close_handles(c);
        return;
    }
    if (c->lost_work) {
        back_off(c);
        if (ac && ac->c.err)
            warn(c->w->cs, "redis %s: %s (next attempt in %lld ms)", c->target->name, ac->c.errstr,
                 (long long)c->backoff_ms);
    } else {
        c->retry_at_ms = 0; /* an idle connection closed (Redis restarted, client timeout): reconnect on demand */
        c->why[0] = '\0';
    }
    fail_queued(c);
}

/* ---- making a connection ----------------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    rl_cmd_t *cmd = priv;
    rl_conn_t *c = cmd->conn;
    rl_cmd_t *h = q_pop(c);
    if (h != cmd) /* hiredis answers in order: this cannot happen */
        c->w->cs->host->log(IG_LOG_ERROR, "ratelimit", "redis %s: replies out of order", c->target->name);
    if (reply) {
        c->backoff_ms = 0;
        cmd->done(cmd, reply, NULL);
        return;
    }
    c->lost_work = 1;
    char why[512];
    if (c->why[0])
        snprintf(why, sizeof(why), "%s", c->why);
    else
        snprintf(why, sizeof(why), "redis %s: %s", c->target->name,
                 ac->c.err ? ac->c.errstr : "connection closed");
    cmd->done(cmd, NULL, why);
}

static void on_connected(const redisAsyncContext *ac, int status)
{
    rl_conn_t *c = ac->data;
    if (status == REDIS_OK) {
        c->w->cs->host->log(IG_LOG_INFO, "ratelimit", "worker %d: connected to redis %s",
                            c->w->cs->host->worker_index(), c->target->name);
        return;
    }
    c->lost_work = 1;
    snprintf(c->why, sizeof(c->why), "redis %s: connect: %s", c->target->name, ac->c.errstr);
}

static void hello_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    (void)err; /* a NULL reply fails everything behind it the same way */
    rl_hello_t *h = (rl_hello_t *)cmd;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        char why[512];
        snprintf(why, sizeof(why), "redis %s: %s: %.200s", cmd->conn->target->name, h->what, reply->str);
        warn(cmd->conn->w->cs, "%s", why);
        conn_fail(cmd->conn, why);
    }
}

static int hello_format(rl_hello_t *h, const char *what, int argc, const char **argv)
{
    h->what = what;
    h->cmd.done = hello_done;
    int n = redisFormatCommandArgv(&h->buf, argc, argv, NULL);
    if (n < 0)
        return -1;
    h->cmd.buf = h->buf;
    h->cmd.len = (size_t)n;
    return 0;
}

/* Formats a lazy command (once) and hands it to hiredis. 0 or -1. */
static int hand_over(rl_conn_t *c, rl_cmd_t *cmd)
{
    int (*prepare)(rl_cmd_t *) = cmd->prepare;
    cmd->prepare = NULL;
    if (prepare && prepare(cmd) != 0)
        return -1;
    return redisAsyncFormattedCommand(c->ac, on_reply, cmd, cmd->buf, cmd->len) == REDIS_OK ? 0 : -1;
}

static int send_now(rl_conn_t *c, rl_cmd_t *cmd)
{
    if (hand_over(c, cmd) != 0)
        return -1;
    q_push(c, cmd);
    return 0;
}

/* The lazy commands at the queue's end go to hiredis, in order. */
static void finalize_unsent(rl_conn_t *c)
{
    while (c->unsent && c->ac) {
        rl_cmd_t *cmd = c->unsent;
        if (hand_over(c, cmd) != 0) {
            /* (out of memory, or the context is already going): what is left fails with it */
            if (!(c->ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING))) {
                char why[512];
                snprintf(why, sizeof(why), "redis %s: cannot send a command (out of memory)", c->target->name);
                conn_fail(c, why);
            }
            return;
        }
        c->unsent = cmd->next;
    }
}

/* A context for ip (NULL: the unix socket); then AUTH, SELECT, on_connect's commands, and what
 * waited for the address. 0, or -1 with c->why (nothing was waiting when this fails at once). */
static int start_context(rl_conn_t *c, const char *ip)
{
    const rl_redis_url_t *u = &c->target->url;
    redisAsyncContext *ac = u->unix_socket ? redisAsyncConnectUnix(u->host) : redisAsyncConnect(ip, u->port);
    if (!ac || ac->err) {
        snprintf(c->why, sizeof(c->why), "redis %s: connect: %s", c->target->name, ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        return -1;
    }
    rl_ev_t *e = calloc(1, sizeof(*e));
    if (!e || uv_poll_init(c->w->loop, &e->poll, ac->c.fd) != 0) {
        free(e);
        redisAsyncFree(ac);
        snprintf(c->why, sizeof(c->why), "redis %s: cannot watch the socket", c->target->name);
        return -1;
    }
    uv_unref((uv_handle_t *)&e->poll); /* an idle connection does not keep the loop alive */
    if (!u->unix_socket) {
        int on = 1;
        (void)setsockopt(ac->c.fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
    }
    e->poll.data = e;
    e->conn = c;
    e->ac = ac;
    ac->data = c;
    ac->ev.data = e;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    c->ac = ac;
    c->ev = e;
    c->state = CONN_UP;
    c->why[0] = '\0';
    c->lost_work = 0;
    redisAsyncSetConnectCallback(ac, on_connected); /* also starts watching for the connect */

    rl_cmd_t *waiting = c->head;
    c->head = c->tail = c->unsent = NULL;
    uint64_t now = uv_now(c->w->loop);
    int64_t timeout = c->timeout_ms;
    if (u->password[0] && c->auth.buf) {
        c->auth.cmd.timeout_ms = timeout;
        c->auth.cmd.deadline_ms = now + (uint64_t)timeout;
        send_now(c, &c->auth.cmd);
    }
    if (u->db && c->select.buf) {
        c->select.cmd.timeout_ms = timeout;
        c->select.cmd.deadline_ms = now + (uint64_t)timeout;
        send_now(c, &c->select.cmd);
    }
    if (c->w->cs->on_connect)
        c->w->cs->on_connect(c, timeout);
    while (waiting) {
        rl_cmd_t *cmd = waiting;
        waiting = cmd->next;
        if (!c->ac || send_now(c, cmd) != 0)
            cmd->done(cmd, NULL, c->why[0] ? c->why : "redis: connection closing");
    }
    return 0;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rl_resolve_t *r = (rl_resolve_t *)req;
    rl_conn_t *c = r->conn;
    char ip[INET6_ADDRSTRLEN] = "";
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; status == 0 && a; a = a->ai_next)
        if (a->ai_family == AF_INET) { /* as hiredis itself prefers */
            pick = a;
            break;
        }
    if (status == 0 && pick) {
        if (pick->ai_family == AF_INET6)
            uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, ip, sizeof(ip));
        else
            uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, ip, sizeof(ip));
    }
    if (res)
        uv_freeaddrinfo(res);
    free(r);
    if (!c)
        return; /* given up (timeout, shutdown) */
    c->resolving = NULL;
    if (status != 0 || !ip[0]) {
        char why[512];
        snprintf(why, sizeof(why), "redis %s: cannot resolve: %s", c->target->name,
                 status ? uv_strerror(status) : "no address");
        warn(c->w->cs, "%s", why);
        conn_fail(c, why);
        return;
    }
    if (start_context(c, ip) != 0) {
        warn(c->w->cs, "%s", c->why);
        char why[512];
        snprintf(why, sizeof(why), "%s", c->why);
        conn_fail(c, why);
    }
}

static int is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Starts a connection: at once for an address or a socket, after uv_getaddrinfo for a name. */
static int conn_connect(rl_conn_t *c, char *err, size_t cap)
{
    const rl_redis_url_t *u = &c->target->url;
    if (u->unix_socket || is_ip(u->host)) {
        if (start_context(c, u->host) != 0) {
            c->lost_work = 1;
            back_off(c);
            warn(c->w->cs, "%s (next attempt in %lld ms)", c->why, (long long)c->backoff_ms);
            return fail(err, cap, "%s", c->why);
        }
        return 0;
    }
    rl_resolve_t *r = calloc(1, sizeof(*r));
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = r ? uv_getaddrinfo(c->w->loop, &r->req, on_resolved, u->host, NULL, &hints) : UV_ENOMEM;
    if (rc != 0) {
        free(r);
        snprintf(c->why, sizeof(c->why), "redis %s: cannot resolve: %s", c->target->name,
                 uv_strerror(rc));
        back_off(c);
        return fail(err, cap, "%s", c->why);
    }
    r->conn = c;
    c->resolving = r;
    c->state = CONN_RESOLVING;
    return 0;
}

/* ---- connections of a worker ------------------------------------------------------------------- */

static void conn_handle_closed(uv_handle_t *h)
{
    rl_conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    redisFreeCommand(c->auth.buf);
    redisFreeCommand(c->select.buf);
    free(c);
}

static void conn_close_handles(rl_conn_t *c)
{
    if (c->handles_open != 3)
        return; /* already closing */
    uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
    uv_close((uv_handle_t *)&c->prepare, conn_handle_closed);
    uv_close((uv_handle_t *)&c->check, conn_handle_closed);
}

static void unlink_conn(rl_conn_t *c)
{
    for (rl_conn_t **p = &c->w->conns; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
}

/* Closes c on its thread, now: the core tears the loop down right after its exit hooks, so nothing
 * may stay open waiting for answers. What was sent is written first (Redis runs what it received);
 * commands still unanswered fail quietly, and one line says how many. */
static void conn_close(rl_conn_t *c)
{
    unlink_conn(c);
    c->closing = 1;
    size_t unanswered = 0;
    for (rl_cmd_t *k = c->head; k; k = k->next)
        unanswered++;
    snprintf(c->why, sizeof(c->why), "redis %s: the connection was closed before the answer came", c->target->name);
    if (unanswered)
        c->w->cs->host->log(IG_LOG_INFO, "ratelimit",
                            "redis %s: closing with %zu commands unanswered (those written reach Redis all the same)",
                            c->target->name, unanswered);
    if (c->ac) {
        flush(c);
        if (c->ac)
            redisAsyncFree(c->ac); /* commands fail with NULL replies, then ev_cleanup closes the handles */
        return;
    }
    abandon_resolve(c);
    fail_queued(c);
    conn_close_handles(c);
}

int rl_conn_closing(const rl_conn_t *c)
{
    return c->closing;
}

static void worker_exit(void *arg)
{
    rl_worker_t *w = arg;
    w->exited = 1;
    while (w->conns)
        conn_close(w->conns);
}

static rl_worker_t *worker_here(rl_conns_t *cs, char *err, size_t cap)
{
    const ig_host_t *host = cs->host;
    int idx = host->worker_index();
    uv_loop_t *loop = host->worker_loop();
    if (idx < 0 || idx >= RL_MAX_WORKERS || !loop) {
        fail(err, cap, "redis: called outside a worker thread");
        return NULL;
    }
    rl_worker_t *w = atomic_load_explicit(&cs->workers[idx], memory_order_acquire);
    if (!w) {
        /* only this thread ever creates its slot */
        if (!(w = calloc(1, sizeof(*w)))) {
            fail(err, cap, "redis: out of memory");
            return NULL;
        }
        w->cs = cs;
        w->loop = loop;
        /* without the exit hook the connections could not be closed before the loop ends */
        if (host->on_worker_exit(worker_exit, w) != 0) {
            free(w);
            fail(err, cap, "redis: the gateway cannot close connections at exit (on_worker_exit failed)");
            return NULL;
        }
        atomic_store_explicit(&cs->workers[idx], w, memory_order_release);
    }
    if (w->exited || w->loop != loop) {
        fail(err, cap, "redis: worker %d is shutting down", idx);
        return NULL;
    }
    return w;
}

static rl_conn_t *conn_new(rl_worker_t *w, rl_target_t *t)
{
    rl_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->w = w;
    c->target = t;
    const rl_redis_url_t *u = &t->url;
    if ((u->password[0] && (u->user[0] ? hello_format(&c->auth, "AUTH", 3, (const char *[]){"AUTH", u->user, u->password})
                                       : hello_format(&c->auth, "AUTH", 2, (const char *[]){"AUTH", u->password})) != 0)) {
        free(c);
        return NULL;
    }
    if (u->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", u->db);
        if (hello_format(&c->select, "SELECT", 2, (const char *[]){"SELECT", db}) != 0) {
            redisFreeCommand(c->auth.buf);
            free(c);
            return NULL;
        }
    }
    uv_timer_init(w->loop, &c->timer);
    uv_prepare_init(w->loop, &c->prepare);
    uv_check_init(w->loop, &c->check);
    c->timer.data = c->prepare.data = c->check.data = c;
    /* an idle connection does not keep the loop alive; commands in flight do (the timer runs) */
    uv_unref((uv_handle_t *)&c->prepare);
    uv_unref((uv_handle_t *)&c->check);
    c->handles_open = 3;
    c->next = w->conns;
    w->conns = c;
    return c;
}

int rl_conn_resend(rl_conn_t *c, rl_cmd_t *cmd, int64_t timeout_ms, char *err, size_t cap)
{
    if (c->closing)
        return fail(err, cap, "redis %s: the connection is closing", c->target->name);
    cmd->timeout_ms = timeout_ms;
    cmd->deadline_ms = uv_now(c->w->loop) + (uint64_t)timeout_ms;
    c->timeout_ms = timeout_ms;
    switch (c->state) {
    case CONN_DOWN: {
        uint64_t now = uv_now(c->w->loop);
        if (now < c->retry_at_ms)
            return fail(err, cap, "%s (next attempt in %llu ms)", c->why[0] ? c->why : "redis: unreachable",
                        (unsigned long long)(c->retry_at_ms - now));
        if (conn_connect(c, err, cap) != 0)
            return -1;
        if (c->state == CONN_RESOLVING) {
            q_push(c, cmd);
            return 0;
        }
        break;
    }
    case CONN_RESOLVING:
        q_push(c, cmd);
        return 0;
    default:
        break;
    }
    if (!c->ac || (c->ac->c.flags & (REDIS_FREEING | REDIS_DISCONNECTING)))
        return fail(err, cap, "%s", c->why[0] ? c->why : "redis: the connection is closing");
    if (cmd->prepare) { /* formatted and written at the end of this loop iteration */
        q_push(c, cmd);
        if (!c->unsent)
            c->unsent = cmd;
        want_flush(c);
        return 0;
    }
    finalize_unsent(c); /* (keeps the order) */
    if (!c->ac || send_now(c, cmd) != 0)
        return fail(err, cap, "%s", c->why[0] ? c->why : "redis: the connection is closing");
    return 0;
}

rl_conn_t *rl_conn_here(rl_target_t *t, char *err, size_t cap)
{
    rl_worker_t *w = worker_here(t->cs, err, cap);
    if (!w)
        return NULL;
    rl_conn_t *c = NULL;
    for (rl_conn_t *k = w->conns, *next; k; k = next) {
        next = k->next;
        if (k->target == t)
            c = k;
        else if (atomic_load_explicit(&k->target->refs, memory_order_relaxed) == 0 && !k->head &&
                 !(k->ac && (k->ac->c.flags & REDIS_IN_CALLBACK)))
            conn_close(k); /* no configuration names its server any more (a reload changed redisUrl) */
    }
    if (!c && !(c = conn_new(w, t)))
        fail(err, cap, "redis %s: out of memory", t->name);
    return c;
}

rl_cmd_t *rl_conn_unsent_tail(rl_conn_t *c)
{
    if (c->state == CONN_RESOLVING || (c->state == CONN_UP && c->unsent))
        return c->tail;
    return NULL;
}

int rl_conn_send(rl_target_t *t, rl_cmd_t *cmd, int64_t timeout_ms, char *err, size_t cap)
{
    rl_conn_t *c = rl_conn_here(t, err, cap);
    return c ? rl_conn_resend(c, cmd, timeout_ms, err, cap) : -1;
}

size_t rl_conns_open_here(rl_conns_t *cs)
{
    int idx = cs->host->worker_index();
    if (idx < 0 || idx >= RL_MAX_WORKERS)
        return 0;
    rl_worker_t *w = atomic_load(&cs->workers[idx]);
    size_t n = 0;
    for (rl_conn_t *c = w ? w->conns : NULL; c; c = c->next)
        n++;
    return n;
}
