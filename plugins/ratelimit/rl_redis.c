/*
 * rl_redis.c — connections (one per worker thread, made lazily), scripts, and the two calls.
 */
#include "rl_redis.h"
#include <ctype.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "rl_memory.h" /* RL_CHARGE_*, RL_HOLD_CONC */

/* After a failure a thread does not try to reconnect for this long: a dead Redis costs one
 * connect timeout per thread per second, not one per request. */
#define RL_RECONNECT_MS 1000

enum { SLOT_FREE = 0, SLOT_CLAIMING, SLOT_READY };

typedef struct {
    atomic_int state;
    pthread_t tid;             /* written before state becomes SLOT_READY, then constant */
    redisContext *c;           /* used only by the owning thread */
    uint64_t retry_at_ms;
    char sha_admit[41], sha_complete[41];
} rl_conn_t;

struct rl_redis_s {
    const ig_host_t *host;
    rl_redis_url_t url;
    char *prefix;
    int64_t timeout_ms, lease_ms;
    rl_conn_t *conns;
    size_t nconns;
    pthread_mutex_t shared_mu; /* guards `shared`, the connection of threads beyond nconns */
    rl_conn_t shared;
};

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

/* The length of a URL scheme and its "://" at s (RFC 3986: a letter, then letters, digits, + - .), or 0. */
static size_t scheme_len(const char *s)
{
    size_t n = 0;
    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return strncmp(s + n, "://", 3) == 0 ? n + 3 : 0;
}

/* Digits only, at most max of them (strtol would take a sign, spaces, and more). */
static int plain_number(const char *s, const char *end, size_t max, long *out)
{
    if (s == end || (size_t)(end - s) > max)
        return -1;
    long v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return 0;
}

int rl_redis_parse_url(const char *full_url, rl_redis_url_t *out, char *err, size_t cap)
{
    /* messages show the URL without what is before its last '@' (credentials), whatever the scheme
     * (rediss://, a typo): they end up in logs */
    char url[300];
    const char *at = strrchr(full_url, '@');
    if (at) {
        size_t keep = scheme_len(full_url);
        snprintf(url, sizeof(url), "%.*s***%s", (int)(full_url + keep < at ? keep : 0), full_url, at);
    } else {
        snprintf(url, sizeof(url), "%s", full_url);
    }
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(full_url, "unix://", 7) == 0) {
        const char *p = full_url + 7;
        if (*p != '/' || strlen(p) >= sizeof(out->host))
            return fail(err, cap, "redisUrl \"%.200s\": expected unix:///absolute/path", url);
        out->unix_socket = 1;
        snprintf(out->host, sizeof(out->host), "%s", p);
        return 0;
    }
    if (strncmp(full_url, "redis://", 8) != 0)
        return fail(err, cap, "redisUrl \"%.200s\": expected redis://[[user]:password@]host[:port][/db]", url);
    const char *p = full_url + 8, *end = p + strlen(p);
    at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t ul = colon ? (size_t)(colon - p) : 0, pl = (size_t)(at - pw);
        if (ul >= sizeof(out->user) || pl >= sizeof(out->password))
            return fail(err, cap, "redisUrl \"%.200s\": user or password too long", url);
        memcpy(out->user, p, ul);
        memcpy(out->password, pw, pl);
        p = at + 1;
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    const char *hend = slash ? slash : end;
    const char *colon = NULL;
    if (*p == '[') { /* [::1]:6379 */
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        if (!rb)
            return fail(err, cap, "redisUrl \"%.200s\": unclosed '['", url);
        if (rb + 1 < hend && rb[1] != ':')
            return fail(err, cap, "redisUrl \"%.200s\": expected ':' after ']'", url);
        colon = rb + 1 < hend ? rb + 1 : NULL;
        size_t hl = (size_t)(rb - p - 1);
        if (hl == 0 || hl >= sizeof(out->host))
            return fail(err, cap, "redisUrl \"%.200s\": bad host", url);
        memcpy(out->host, p + 1, hl);
    } else {
        colon = memchr(p, ':', (size_t)(hend - p));
        size_t hl = (size_t)((colon ? colon : hend) - p);
        if (hl == 0 || hl >= sizeof(out->host))
            return fail(err, cap, "redisUrl \"%.200s\": missing or too long host", url);
        memcpy(out->host, p, hl);
    }
    if (colon) {
        long port;
        if (plain_number(colon + 1, hend, 5, &port) != 0 || port < 1 || port > 65535)
            return fail(err, cap, "redisUrl \"%.200s\": bad port", url);
        out->port = (int)port;
    }
    if (slash && slash + 1 < end) {
        long db;
        if (plain_number(slash + 1, end, 7, &db) != 0 || db > 1000000)
            return fail(err, cap, "redisUrl \"%.200s\": bad database number \"%.20s\"", url, slash + 1);
        out->db = (int)db;
    }
    return 0;
}

rl_redis_t *rl_redis_new(const ig_host_t *host, const rl_redis_config_t *cfg)
{
    rl_redis_t *rd = calloc(1, sizeof(*rd));
    if (!rd)
        return NULL;
    rd->host = host;
    rd->url = *cfg->url;
    rd->prefix = strdup(cfg->key_prefix);
    rd->timeout_ms = cfg->timeout_ms;
    rd->lease_ms = cfg->lease_ms;
    /* room for the workers, and a few threads more (the main thread, a drain) before sharing */
    rd->nconns = (size_t)cfg->threads + 4;
    rd->conns = calloc(rd->nconns, sizeof(*rd->conns));
    pthread_mutex_init(&rd->shared_mu, NULL);
    if (!rd->prefix || !rd->conns) {
        rl_redis_free(rd);
        return NULL;
    }
    return rd;
}

void rl_redis_free(rl_redis_t *rd)
{
    if (!rd)
        return;
    for (size_t i = 0; rd->conns && i < rd->nconns; i++)
        if (rd->conns[i].c)
            redisFree(rd->conns[i].c);
    if (rd->shared.c)
        redisFree(rd->shared.c);
    pthread_mutex_destroy(&rd->shared_mu);
    free(rd->conns);
    free(rd->prefix);
    free(rd);
}

/* This thread's connection slot: found without a lock (slots are claimed once, by CAS). NULL when
 * every slot belongs to another thread: the caller uses the shared one. */
static rl_conn_t *thread_conn(rl_redis_t *rd)
{
    pthread_t self = pthread_self();
    for (size_t i = 0; i < rd->nconns; i++) {
        rl_conn_t *k = &rd->conns[i];
        int st = atomic_load_explicit(&k->state, memory_order_acquire);
        if (st == SLOT_READY && pthread_equal(k->tid, self))
            return k;
        if (st == SLOT_FREE) {
            int expected = SLOT_FREE;
            if (atomic_compare_exchange_strong(&k->state, &expected, SLOT_CLAIMING)) {
                k->tid = self;
                atomic_store_explicit(&k->state, SLOT_READY, memory_order_release);
                return k;
            }
        }
    }
    return NULL;
}

static void conn_drop(rl_redis_t *rd, rl_conn_t *k)
{
    if (k->c)
        redisFree(k->c);
    k->c = NULL;
    k->retry_at_ms = rd->host->now_ms() + RL_RECONNECT_MS;
}

/* A command's reply, or NULL with err (the connection is dropped on I/O errors). */
static redisReply *command(rl_redis_t *rd, rl_conn_t *k, int argc, const char **argv, const size_t *lens, char *err,
                           size_t cap)
{
    redisReply *rep = redisCommandArgv(k->c, argc, argv, lens);
    if (!rep) {
        snprintf(err, cap, "redis %s:%d: %s", rd->url.host, rd->url.port, k->c->errstr[0] ? k->c->errstr : "no reply");
        conn_drop(rd, k);
    }
    return rep;
}

static int simple(rl_redis_t *rd, rl_conn_t *k, int argc, const char **argv, char *err, size_t cap)
{
    redisReply *rep = command(rd, k, argc, argv, NULL, err, cap);
    if (!rep)
        return -1;
    int ok = rep->type != REDIS_REPLY_ERROR;
    if (!ok) {
        snprintf(err, cap, "redis %s:%d: %s: %.200s", rd->url.host, rd->url.port, argv[0], rep->str);
        conn_drop(rd, k);
    }
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int load_script(rl_redis_t *rd, rl_conn_t *k, const char *script, char sha[41], char *err, size_t cap)
{
    const char *argv[] = {"SCRIPT", "LOAD", script};
    redisReply *rep = command(rd, k, 3, argv, NULL, err, cap);
    if (!rep)
        return -1;
    int ok = rep->type == REDIS_REPLY_STRING && rep->len == 40;
    if (ok)
        memcpy(sha, rep->str, 41);
    else {
        snprintf(err, cap, "redis %s:%d: SCRIPT LOAD: %.200s", rd->url.host, rd->url.port,
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        conn_drop(rd, k);
    }
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int conn_ready(rl_redis_t *rd, rl_conn_t *k, char *err, size_t cap)
{
    if (k->c)
        return 0;
    if (rd->host->now_ms() < k->retry_at_ms) {
        snprintf(err, cap, "redis %s:%d unreachable (retrying within %d ms)", rd->url.host, rd->url.port,
                 RL_RECONNECT_MS);
        return -1;
    }
    struct timeval tv = {(time_t)(rd->timeout_ms / 1000), (suseconds_t)(rd->timeout_ms % 1000) * 1000};
    k->c = rd->url.unix_socket ? redisConnectUnixWithTimeout(rd->url.host, tv)
                               : redisConnectWithTimeout(rd->url.host, rd->url.port, tv);
    if (!k->c || k->c->err) {
        snprintf(err, cap, "redis %s:%d: connect: %s", rd->url.host, rd->url.port,
                 k->c ? k->c->errstr : "out of memory");
        conn_drop(rd, k);
        return -1;
    }
    redisSetTimeout(k->c, tv);
    redisEnableKeepAlive(k->c);
    if (rd->url.password[0]) {
        const char *a[] = {"AUTH", rd->url.user, rd->url.password};
        int r = rd->url.user[0] ? simple(rd, k, 3, a, err, cap) : simple(rd, k, 2, (const char *[]){"AUTH", rd->url.password}, err, cap);
        if (r != 0)
            return -1;
    }
    if (rd->url.db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", rd->url.db);
        if (simple(rd, k, 2, (const char *[]){"SELECT", db}, err, cap) != 0)
            return -1;
    }
    if (load_script(rd, k, rl_redis_admit_lua, k->sha_admit, err, cap) != 0 ||
        load_script(rd, k, rl_redis_complete_lua, k->sha_complete, err, cap) != 0)
        return -1;
    rd->host->log(IG_LOG_INFO, "ratelimit", "connected to redis %s:%d", rd->url.host, rd->url.port);
    return 0;
}

/*
 * Runs a script: EVALSHA, and EVAL when Redis answers NOSCRIPT (restarted, SCRIPT FLUSH). argv[0]
 * and argv[1] are left for the command and the script/sha. A reply of the script's or NULL.
 */
static redisReply *run_script(rl_redis_t *rd, rl_conn_t *k, const char *script, const char *sha, int argc,
                              const char **argv, size_t *lens, char *err, size_t cap)
{
    argv[0] = "EVALSHA";
    argv[1] = sha;
    lens[0] = 7;
    lens[1] = 40;
    redisReply *rep = command(rd, k, argc, argv, lens, err, cap);
    if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(rep);
        argv[0] = "EVAL";
        argv[1] = script;
        lens[0] = 4;
        lens[1] = strlen(script);
        rep = command(rd, k, argc, argv, lens, err, cap);
    }
    if (rep && rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, cap, "redis %s:%d: script: %.300s", rd->url.host, rd->url.port, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

/* Runs fn on this thread's connection (or the shared one, locked). */
typedef int (*conn_fn_t)(rl_redis_t *rd, rl_conn_t *k, void *arg, char *err, size_t cap);

static int with_conn(rl_redis_t *rd, conn_fn_t fn, void *arg, char *err, size_t cap)
{
    rl_conn_t *k = thread_conn(rd);
    if (k)
        return conn_ready(rd, k, err, cap) != 0 ? -1 : fn(rd, k, arg, err, cap);
    pthread_mutex_lock(&rd->shared_mu);
    int r = conn_ready(rd, &rd->shared, err, cap) != 0 ? -1 : fn(rd, &rd->shared, arg, err, cap);
    pthread_mutex_unlock(&rd->shared_mu);
    return r;
}

/* Numbers for a script call, kept alive next to argv. */
#define RL_ARGS_MAX (4 + RL_MAX_SCOPES * (1 + RL_NLIMITS))
typedef struct {
    const char *argv[RL_ARGS_MAX];
    size_t lens[RL_ARGS_MAX];
    char keys[RL_MAX_SCOPES][1024];
    char nums[RL_ARGS_MAX][24];
    int argc;
} script_args_t;

static void arg_str(script_args_t *a, const char *s, size_t n)
{
    a->argv[a->argc] = s;
    a->lens[a->argc++] = n;
}

static void arg_num(script_args_t *a, int64_t v)
{
    int n = snprintf(a->nums[a->argc], sizeof(a->nums[0]), "%lld", (long long)v);
    arg_str(a, a->nums[a->argc], (size_t)n);
}

static int arg_key(rl_redis_t *rd, script_args_t *a, size_t i, const char *id, size_t idlen)
{
    int n = snprintf(a->keys[i], sizeof(a->keys[i]), "%s%.*s", rd->prefix, (int)idlen, id);
    if (n < 0 || (size_t)n >= sizeof(a->keys[i]))
        return -1;
    arg_str(a, a->keys[i], (size_t)n);
    return 0;
}

typedef struct {
    rl_view_t *v;
    const char *ticket;
    int admitted;
} admit_call_t;

static int admit_on(rl_redis_t *rd, rl_conn_t *k, void *arg, char *err, size_t cap)
{
    admit_call_t *call = arg;
    rl_view_t *v = call->v;
    script_args_t a = {.argc = 2};
    char label[512];
    arg_num(&a, (int64_t)v->n);
    for (size_t s = 0; s < v->n; s++)
        if (arg_key(rd, &a, s, v->scopes[s].id, v->scopes[s].idlen) != 0)
            return fail(err, cap, "rate-limit key for %.200s is too long", rl_scope_label(&v->scopes[s], label, sizeof(label)));
    arg_num(&a, rd->lease_ms);
    arg_str(&a, call->ticket, strlen(call->ticket));
    for (size_t s = 0; s < v->n; s++)
        for (int l = 0; l < RL_NLIMITS; l++)
            arg_num(&a, v->scopes[s].lim[l]);
    redisReply *rep = run_script(rd, k, rl_redis_admit_lua, k->sha_admit, a.argc, a.argv, a.lens, err, cap);
    if (!rep)
        return -1;
    size_t want = 2 + v->n * RL_NLIMITS * 3;
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == want;
    for (size_t i = 0; ok && i < want; i++)
        ok = rep->element[i]->type == REDIS_REPLY_INTEGER;
    if (!ok) {
        freeReplyObject(rep);
        return fail(err, cap, "redis %s: the admission script answered something unexpected", rd->url.host);
    }
    call->admitted = rep->element[0]->integer == 1;
    v->now_ms = rep->element[1]->integer;
    for (size_t s = 0; s < v->n; s++)
        for (int l = 0; l < RL_NLIMITS; l++) {
            redisReply **e = rep->element + 2 + (s * RL_NLIMITS + (size_t)l) * 3;
            rl_obs_t *o = &v->obs[s][l];
            o->used = e[0]->integer;
            o->reset_ms = e[1]->integer;
            o->retry_ms = e[2]->integer;
        }
    freeReplyObject(rep);
    return 0;
}

int rl_redis_admit(rl_redis_t *rd, rl_view_t *v, const char *ticket, char *err, size_t cap)
{
    admit_call_t call = {v, ticket, 0};
    if (with_conn(rd, admit_on, &call, err, cap) != 0)
        return -1;
    return call.admitted;
}

typedef struct {
    const char *const *ids;
    const size_t *idlens;
    const unsigned *flags;
    size_t n;
    const char *ticket;
    int64_t tokens;
} complete_call_t;

static int complete_on(rl_redis_t *rd, rl_conn_t *k, void *arg, char *err, size_t cap)
{
    complete_call_t *call = arg;
    script_args_t a = {.argc = 2};
    arg_num(&a, (int64_t)call->n);
    for (size_t s = 0; s < call->n; s++)
        if (arg_key(rd, &a, s, call->ids[s], call->idlens[s]) != 0)
            return fail(err, cap, "rate-limit key too long");
    arg_str(&a, call->ticket, strlen(call->ticket));
    arg_num(&a, call->tokens);
    for (size_t s = 0; s < call->n; s++)
        arg_num(&a, call->flags[s]);
    redisReply *rep = run_script(rd, k, rl_redis_complete_lua, k->sha_complete, a.argc, a.argv, a.lens, err, cap);
    if (!rep)
        return -1;
    freeReplyObject(rep);
    return 0;
}

int rl_redis_complete(rl_redis_t *rd, const char *const *ids, const size_t *idlens, const unsigned *flags, size_t n,
                      const char *ticket, int64_t tokens, char *err, size_t cap)
{
    complete_call_t call = {ids, idlens, flags, n, ticket, tokens};
    return with_conn(rd, complete_on, &call, err, cap);
}
