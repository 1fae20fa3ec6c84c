/*
 * rl_redis.c — the two script calls (admission, completion), formatted as RESP once, sent on the
 * worker's connection, and their replies.
 *
 * A call is EVALSHA with the script's SHA-1 (computed here, and SCRIPT LOADed on every new
 * connection); a NOSCRIPT answer (SCRIPT FLUSH, a Redis that lost its cache) runs the same
 * arguments again with EVAL, which loads the script for the next ones. NOSCRIPT means the script
 * did not run, so nothing is counted twice.
 */
#include "rl_redis.h"
#include <hiredis/hiredis.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rl_memory.h" /* RL_CHARGE_*, RL_HOLD_CONC */

#define RL_KEY_MAX 1024 /* prefix + scope id */

enum { SCRIPT_ADMIT = 0, SCRIPT_COMPLETE, SCRIPT_COUNT };

typedef struct {
    const char *lua;
    size_t lua_len;
    char sha[41];
    char *load;        /* SCRIPT LOAD <lua>, formatted */
    size_t load_len;
} rl_script_t;

static rl_script_t scripts[SCRIPT_COUNT];
static pthread_once_t scripts_once = PTHREAD_ONCE_INIT;
static int scripts_ok;

struct rl_redis_s {
    const ig_host_t *host;
    rl_target_t *target;
    char *prefix;
    size_t prefix_len;
    int64_t timeout_ms, lease_ms;
};

/* One script call in flight. Owned by the connection's queue from sending to done. */
struct rl_redis_call_s {
    rl_cmd_t cmd;              /* first: what the connection sees */
    int script;
    int argc;                  /* EVALSHA, sha, numkeys, keys, args */
    size_t hdr_len;            /* "*argc $7 EVALSHA $40 <sha>" at the front of buf */
    char *eval;                /* the same call as EVAL, after NOSCRIPT */
    /* admissions: cb and v are the request's, NULL once cancelled */
    rl_redis_admit_cb_t cb;
    void *arg;
    rl_view_t *v;
    rl_redis_t *rd;            /* the request's generation: valid while cb is set */
    const char *ticket;        /* the request's, idem */
    size_t nscopes;
    rl_redis_call_t *release;  /* after a cancel: gives back the slots if Redis admitted */
    /* completions */
    int64_t tokens;
    size_t len;
    char buf[];
};

/* ---- RESP ------------------------------------------------------------------------------------ */

typedef struct {
    char *p;
} resp_t;

static void put(resp_t *o, const char *s, size_t n)
{
    memcpy(o->p, s, n);
    o->p += n;
}

static void put_len(resp_t *o, char kind, size_t n)
{
    *o->p++ = kind;
    o->p += rl_format_int(o->p, (int64_t)n);
    put(o, "\r\n", 2);
}

static void put_bulk(resp_t *o, const char *s, size_t n)
{
    put_len(o, '$', n);
    put(o, s, n);
    put(o, "\r\n", 2);
}

static void put_int(resp_t *o, int64_t v)
{
    char num[24];
    put_bulk(o, num, rl_format_int(num, v));
}

/* A bulk string of prefix + id (a key). */
static void put_key(resp_t *o, const rl_redis_t *rd, const char *id, size_t idlen)
{
    put_len(o, '$', rd->prefix_len + idlen);
    put(o, rd->prefix, rd->prefix_len);
    put(o, id, idlen);
    put(o, "\r\n", 2);
}

#define RL_BULK_MAX(n) ((n) + 32) /* "$<len>\r\n" + "\r\n" around n bytes */
#define RL_NUM_MAX 64

static void put_header(resp_t *o, int argc, const char *sha)
{
    put_len(o, '*', (size_t)argc);
    put_bulk(o, "EVALSHA", 7);
    put_bulk(o, sha, 40);
}

/* ---- scripts ---------------------------------------------------------------------------------- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void scripts_init(void)
{
    const char *lua[SCRIPT_COUNT] = {rl_redis_admit_lua, rl_redis_complete_lua};
    scripts_ok = 1;
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        rl_script_t *s = &scripts[i];
        s->lua = lua[i];
        s->lua_len = strlen(lua[i]);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        if (EVP_Digest(s->lua, s->lua_len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20) {
            scripts_ok = 0;
            continue;
        }
        hex(md, 20, s->sha);
        s->load = malloc(RL_BULK_MAX(s->lua_len) + 64);
        if (!s->load) {
            scripts_ok = 0;
            continue;
        }
        resp_t o = {s->load};
        put_len(&o, '*', 3);
        put_bulk(&o, "SCRIPT", 6);
        put_bulk(&o, "LOAD", 4);
        put_bulk(&o, s->lua, s->lua_len);
        s->load_len = (size_t)(o.p - s->load);
    }
}

/* SCRIPT LOAD on a new connection: later EVALSHAs find the scripts even after Redis restarted. */
typedef struct {
    rl_cmd_t cmd;
    int script;
} rl_load_t;

static void load_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    (void)err; /* the connection failed: everything on it says so */
    rl_load_t *l = (rl_load_t *)cmd;
    const rl_script_t *s = &scripts[l->script];
    if (reply && (reply->type != REDIS_REPLY_STRING || reply->len != 40 || memcmp(reply->str, s->sha, 40) != 0))
        rl_conn_warn(cmd->conn, "redis %s: SCRIPT LOAD: %.200s (calls will fall back to EVAL)", rl_conn_name(cmd->conn),
                     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected answer");
    free(l);
}

static void on_connect(rl_conn_t *c, int64_t timeout_ms)
{
    for (int i = 0; i < SCRIPT_COUNT; i++) {
        rl_load_t *l = calloc(1, sizeof(*l));
        if (!l)
            return; /* EVALSHA falls back to EVAL */
        l->script = i;
        l->cmd.done = load_done;
        l->cmd.buf = scripts[i].load;
        l->cmd.len = scripts[i].load_len;
        char err[300];
        if (rl_conn_resend(c, &l->cmd, timeout_ms, err, sizeof(err)) != 0)
            free(l);
    }
}

rl_conns_t *rl_redis_conns_new(const ig_host_t *host)
{
    pthread_once(&scripts_once, scripts_init);
    if (!scripts_ok)
        return NULL;
    return rl_conns_new(host, on_connect);
}

/* ---- a generation's handle ---------------------------------------------------------------------- */

rl_redis_t *rl_redis_new(const ig_host_t *host, const rl_redis_config_t *cfg)
{
    rl_redis_t *rd = calloc(1, sizeof(*rd));
    if (!rd)
        return NULL;
    rd->host = host;
    rd->prefix = strdup(cfg->key_prefix);
    rd->prefix_len = rd->prefix ? strlen(rd->prefix) : 0;
    rd->timeout_ms = cfg->timeout_ms;
    rd->lease_ms = cfg->lease_ms;
    rd->target = rl_target_acquire(cfg->conns, cfg->url);
    if (!rd->prefix || !rd->target) {
        rl_redis_free(rd);
        return NULL;
    }
    return rd;
}

void rl_redis_free(rl_redis_t *rd)
{
    if (!rd)
        return;
    rl_target_release(rd->target);
    free(rd->prefix);
    free(rd);
}

/* ---- calls ------------------------------------------------------------------------------------ */

static void call_free(rl_redis_call_t *call)
{
    if (!call)
        return;
    call_free(call->release);
    free(call->eval);
    free(call);
}

static rl_redis_call_t *call_alloc(int script, int argc, size_t bound)
{
    rl_redis_call_t *call = calloc(1, sizeof(*call) + bound);
    if (!call)
        return NULL;
    call->script = script;
    call->argc = argc;
    return call;
}

static void call_seal(rl_redis_call_t *call, resp_t *o)
{
    call->len = (size_t)(o->p - call->buf);
    call->cmd.buf = call->buf;
    call->cmd.len = call->len;
}

/* NOSCRIPT: the same arguments with EVAL, on the same connection. 0, or -1 with err. */
static int retry_with_eval(rl_redis_call_t *call, char *err, size_t cap)
{
    const rl_script_t *s = &scripts[call->script];
    size_t args = call->len - call->hdr_len;
    call->eval = malloc(RL_NUM_MAX + RL_BULK_MAX(4) + RL_BULK_MAX(s->lua_len) + args);
    if (!call->eval) {
        snprintf(err, cap, "redis: out of memory");
        return -1;
    }
    resp_t o = {call->eval};
    put_len(&o, '*', (size_t)call->argc);
    put_bulk(&o, "EVAL", 4);
    put_bulk(&o, s->lua, s->lua_len);
    put(&o, call->buf + call->hdr_len, args);
    call->cmd.buf = call->eval;
    call->cmd.len = (size_t)(o.p - call->eval);
    return rl_conn_resend(call->cmd.conn, &call->cmd, call->cmd.timeout_ms, err, cap);
}

static int is_noscript(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* The completion script's call: KEYS scope bases, ARGV ticket, tokens, flags per scope. */
static rl_redis_call_t *complete_call(const rl_redis_t *rd, const char *const *ids, const size_t *idlens,
                                      const unsigned *flags, size_t n, const char *ticket, int64_t tokens)
{
    size_t tlen = strlen(ticket), bound = RL_NUM_MAX * 4 + RL_BULK_MAX(tlen) + n * RL_NUM_MAX;
    for (size_t i = 0; i < n; i++) {
        if (rd->prefix_len + idlens[i] > RL_KEY_MAX)
            return NULL;
        bound += RL_BULK_MAX(rd->prefix_len + idlens[i]);
    }
    /* EVALSHA sha numkeys keys... ticket tokens flags... */
    rl_redis_call_t *call = call_alloc(SCRIPT_COMPLETE, (int)(2 + 1 + n + 2 + n), bound);
    if (!call)
        return NULL;
    resp_t o = {call->buf};
    put_header(&o, call->argc, scripts[SCRIPT_COMPLETE].sha);
    call->hdr_len = (size_t)(o.p - call->buf);
    put_int(&o, (int64_t)n);
    for (size_t i = 0; i < n; i++)
        put_key(&o, rd, ids[i], idlens[i]);
    put_bulk(&o, ticket, tlen);
    put_int(&o, tokens);
    for (size_t i = 0; i < n; i++)
        put_int(&o, flags[i]);
    call_seal(call, &o);
    call->tokens = tokens;
    return call;
}

static void complete_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    rl_redis_call_t *call = (rl_redis_call_t *)cmd;
    char msg[400];
    if (reply && is_noscript(reply) && !call->eval) {
        if (retry_with_eval(call, msg, sizeof(msg)) == 0)
            return;
        err = msg;
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        snprintf(msg, sizeof(msg), "redis %s: completion script: %.300s", rl_conn_name(cmd->conn), reply->str);
        err = msg;
    } else if (reply) {
        err = NULL;
    }
    if (err)
        rl_conn_warn(cmd->conn, "%s: %lld tokens not charged; a concurrency slot frees itself at its lease's end", err,
                     (long long)call->tokens);
    call_free(call);
}

int rl_redis_complete(rl_redis_t *rd, const char *const *ids, const size_t *idlens, const unsigned *flags, size_t n,
                      const char *ticket, int64_t tokens, char *err, size_t cap)
{
    rl_redis_call_t *call = complete_call(rd, ids, idlens, flags, n, ticket, tokens);
    if (!call) {
        snprintf(err, cap, "redis %s: out of memory or a key longer than %d bytes", rl_target_name(rd->target),
                 RL_KEY_MAX);
        return -1;
    }
    call->cmd.done = complete_done;
    if (rl_conn_send(rd->target, &call->cmd, rd->timeout_ms, err, cap) != 0) {
        call_free(call);
        return -1;
    }
    return 0;
}

/* The admission script's answer: {admitted, now_ms, then per scope and limit: used, reset, retry}.
 * Fills v when there is one. 1, 0, or -1 with msg. */
static int admit_parse(rl_redis_call_t *call, const redisReply *rep, char *msg, size_t cap)
{
    size_t want = 2 + call->nscopes * RL_NLIMITS * 3;
    int ok = rep->type == REDIS_REPLY_ARRAY && rep->elements == want;
    for (size_t i = 0; ok && i < want; i++)
        ok = rep->element[i]->type == REDIS_REPLY_INTEGER;
    if (!ok) {
        snprintf(msg, cap, "redis %s: the admission script answered something unexpected", rl_conn_name(call->cmd.conn));
        return -1;
    }
    rl_view_t *v = call->v;
    if (v) {
        v->now_ms = rep->element[1]->integer;
        for (size_t s = 0; s < call->nscopes; s++)
            for (int l = 0; l < RL_NLIMITS; l++) {
                redisReply **e = rep->element + 2 + (s * RL_NLIMITS + (size_t)l) * 3;
                rl_obs_t *o = &v->obs[s][l];
                o->used = e[0]->integer;
                o->reset_ms = e[1]->integer;
                o->retry_ms = e[2]->integer;
            }
    }
    return rep->element[0]->integer == 1;
}

static void admit_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    rl_redis_call_t *call = (rl_redis_call_t *)cmd;
    char msg[400];
    int verdict = -1;
    if (reply && is_noscript(reply) && !call->eval) {
        if (retry_with_eval(call, msg, sizeof(msg)) == 0)
            return;
    } else if (reply && reply->type == REDIS_REPLY_ERROR) {
        snprintf(msg, sizeof(msg), "redis %s: admission script: %.300s", rl_conn_name(cmd->conn), reply->str);
    } else if (reply) {
        verdict = admit_parse(call, reply, msg, sizeof(msg));
    } else {
        snprintf(msg, sizeof(msg), "%s", err ? err : "redis: no answer");
    }
    if (call->cb) {
        call->cb(call->arg, verdict, msg);
    } else if (verdict == 1 && call->release) {
        /* the client left while we waited, and Redis admitted it: give its slots back */
        rl_redis_call_t *rel = call->release;
        call->release = NULL;
        char e[300];
        if (rl_conn_resend(cmd->conn, &rel->cmd, cmd->timeout_ms, e, sizeof(e)) != 0) {
            rl_conn_warn(cmd->conn, "%s: a cancelled request's concurrency slot frees itself at its lease's end", e);
            call_free(rel);
        }
    }
    call_free(call);
}

int rl_redis_admit(rl_redis_t *rd, rl_view_t *v, const char *ticket, rl_redis_admit_cb_t cb, void *arg,
                   rl_redis_call_t **out, char *err, size_t cap)
{
    char label[512];
    size_t tlen = strlen(ticket), n = v->n;
    size_t bound = RL_NUM_MAX * 4 + RL_BULK_MAX(tlen) + (1 + n * RL_NLIMITS) * RL_NUM_MAX;
    for (size_t s = 0; s < n; s++) {
        if (rd->prefix_len + v->scopes[s].idlen > RL_KEY_MAX) {
            snprintf(err, cap, "rate-limit key for %.200s is too long",
                     rl_scope_label(&v->scopes[s], label, sizeof(label)));
            return -1;
        }
        bound += RL_BULK_MAX(rd->prefix_len + v->scopes[s].idlen);
    }
    /* EVALSHA sha numkeys keys... lease ticket limits... */
    int argc = (int)(2 + 1 + n + 2 + n * RL_NLIMITS);
    rl_redis_call_t *call = call_alloc(SCRIPT_ADMIT, argc, bound);
    if (!call) {
        snprintf(err, cap, "redis: out of memory");
        return -1;
    }
    resp_t o = {call->buf};
    put_header(&o, argc, scripts[SCRIPT_ADMIT].sha);
    call->hdr_len = (size_t)(o.p - call->buf);
    put_int(&o, (int64_t)n);
    for (size_t s = 0; s < n; s++)
        put_key(&o, rd, v->scopes[s].id, v->scopes[s].idlen);
    put_int(&o, rd->lease_ms);
    put_bulk(&o, ticket, tlen);
    for (size_t s = 0; s < n; s++)
        for (int l = 0; l < RL_NLIMITS; l++)
            put_int(&o, v->scopes[s].lim[l]);
    call_seal(call, &o);
    call->cmd.done = admit_done;
    call->cb = cb;
    call->arg = arg;
    call->v = v;
    call->rd = rd;
    call->ticket = ticket;
    call->nscopes = n;
    if (rl_conn_send(rd->target, &call->cmd, rd->timeout_ms, err, cap) != 0) {
        call_free(call);
        return -1;
    }
    *out = call;
    return 0;
}

void rl_redis_admit_cancel(rl_redis_call_t *call)
{
    rl_view_t *v = call->v;
    if (v) {
        /* what it will hold if Redis admits it: its concurrency slots (the request, counted, stays
         * counted: the same as a request admitted at once whose client then left) */
        const char *ids[RL_MAX_SCOPES];
        size_t idlens[RL_MAX_SCOPES];
        unsigned flags[RL_MAX_SCOPES];
        size_t n = 0;
        for (size_t s = 0; s < v->n; s++)
            if (v->scopes[s].lim[RL_CONC] >= 0) {
                ids[n] = v->scopes[s].id;
                idlens[n] = v->scopes[s].idlen;
                flags[n++] = RL_HOLD_CONC;
            }
        if (n && !(call->release = complete_call(call->rd, ids, idlens, flags, n, call->ticket, 0)))
            rl_conn_warn(call->cmd.conn, "redis %s: out of memory: a cancelled request's concurrency slot frees "
                         "itself at its lease's end", rl_conn_name(call->cmd.conn));
        if (call->release)
            call->release->cmd.done = complete_done;
    }
    call->cb = NULL;
    call->arg = NULL;
    call->v = NULL;
    call->rd = NULL;
    call->ticket = NULL;
}
