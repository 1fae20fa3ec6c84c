/*
 * rl_redis.c — admissions and completions as batches: everything a worker thread asks of one Redis
 * during one loop iteration goes out as one call of the batch script (rl_redis_script.c), written
 * at the end of that iteration. Redis runs the batch atomically and in order (each entry seeing
 * the ones before it), so a batch admits exactly what the same calls one by one would; it only
 * costs Redis one script call instead of one per request.
 *
 * A batch is EVALSHA with the script's SHA-1 (computed here, and SCRIPT LOADed on every new
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
#include "util/buf.h"
#include "util/hash.h"
#include "util/hex.h"

#define RL_KEY_MAX 1024     /* prefix + scope id */
#define RL_BATCH_MAX 128    /* admissions + completions in one script call */

/* ---- RESP -------------------------------------------------------------------------------------- */

#define RL_NUM_MAX 32 /* "$20\r\n" + 20 digits + "\r\n" */

static char *put(char *o, const char *s, size_t n)
{
    if (n) /* (s may be an empty buffer's NULL) */
        memcpy(o, s, n);
    return o + n;
}

static char *put_len(char *o, char kind, size_t n)
{
    *o++ = kind;
    o += rl_format_int(o, (int64_t)n);
    return put(o, "\r\n", 2);
}

static char *put_bulk(char *o, const char *s, size_t n)
{
    o = put_len(o, '$', n);
    o = put(o, s, n);
    return put(o, "\r\n", 2);
}

static char *put_int(char *o, int64_t v)
{
    char num[24];
    return put_bulk(o, num, rl_format_int(num, v));
}

/* ---- the script ---------------------------------------------------------------------------------- */

/* Computed once; nothing here is allocated (the .so may be unloaded and loaded again). */
static struct {
    size_t lua_len;
    char sha[41];
    int ok;
} script;
static pthread_once_t script_once = PTHREAD_ONCE_INIT;

static void script_init(void)
{
    script.lua_len = strlen(rl_redis_batch_lua);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(rl_redis_batch_lua, script.lua_len, md, &mdlen, EVP_sha1(), NULL) != 1 || mdlen != 20)
        return;
    ig_hex_encode(md, 20, script.sha);
    script.ok = 1;
}

/* SCRIPT LOAD on a new connection: later EVALSHAs find the script even after Redis restarted. */
static void load_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    (void)err; /* the connection failed: everything on it says so */
    if (reply && (reply->type != REDIS_REPLY_STRING || reply->len != 40 || memcmp(reply->str, script.sha, 40) != 0))
        rl_conn_warn(cmd->conn, "redis %s: SCRIPT LOAD: %.200s (calls will fall back to EVAL)", rl_conn_name(cmd->conn),
                     reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected answer");
    free(cmd);
}

static void on_connect(rl_conn_t *c, int64_t timeout_ms)
{
    /* SCRIPT LOAD <lua>, with the command */
    rl_cmd_t *cmd = malloc(sizeof(*cmd) + script.lua_len + 4 * RL_NUM_MAX);
    if (!cmd)
        return; /* EVALSHA falls back to EVAL */
    memset(cmd, 0, sizeof(*cmd));
    char *buf = (char *)(cmd + 1);
    char *o = put_len(buf, '*', 3);
    o = put_bulk(o, "SCRIPT", 6);
    o = put_bulk(o, "LOAD", 4);
    o = put_bulk(o, rl_redis_batch_lua, script.lua_len);
    cmd->done = load_done;
    cmd->buf = buf;
    cmd->len = (size_t)(o - buf);
    char err[300];
    if (rl_conn_resend(c, cmd, timeout_ms, err, sizeof(err)) != 0)
        free(cmd);
}

rl_conns_t *rl_redis_conns_new(const ig_host_t *host)
{
    pthread_once(&script_once, script_init);
    return script.ok ? rl_conns_new(host, on_connect) : NULL;
}

/* ---- a generation's handle ------------------------------------------------------------------------ */

struct rl_redis_s {
    const ig_host_t *host;
    rl_target_t *target;
    char *prefix;
    size_t prefix_len;
    int64_t timeout_ms, lease_ms;
};

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

/* ---- calls and batches ------------------------------------------------------------------------------ */

/* What a cancelled admission gives back if Redis admits it anyway: its concurrency slots. */
typedef struct {
    size_t n;
    char *keys[RL_MAX_SCOPES];
    size_t lens[RL_MAX_SCOPES];
    char ticket[48];
} rl_release_t;

/* One admission, from rl_redis_admit to its answer. cb, v and rd are the request's: NULL once
 * it was cancelled. */
struct rl_redis_call_s {
    rl_redis_admit_cb_t cb;
    void *arg;
    rl_view_t *v;
    rl_redis_t *rd;
    const char *ticket;
    size_t nlimits;          /* limits the answer reports on */
    rl_release_t *release;   /* after a cancel */
};

typedef struct {
    uint32_t off, len;       /* the key's bytes in keys.p */
} rl_keyref_t;

/* A scope's limits as the batch sends them once, however many admissions name them. */
typedef struct {
    uint32_t key;            /* 1-based index in KEYS */
    uint32_t next;           /* the next descriptor of the same key, + 1 (0: none) */
    int64_t lease;
    int64_t lim[RL_NLIMITS];
} rl_desc_t;

typedef struct {
    rl_cmd_t cmd;            /* first: what the connection sees; lazy until written */
    ig_buf_t keys;           /* the distinct keys, as RESP bulk strings */
    rl_keyref_t *keyref;
    uint32_t nkeys, keycap;
    uint32_t *slots;         /* open addressing: key index + 1, 0 = empty */
    uint32_t nslots;
    rl_desc_t *desc;
    uint32_t ndesc, desccap;
    uint32_t *desc_of_key;   /* per key: its first descriptor + 1 */
    uint32_t dkcap;
    ig_buf_t descs;          /* the descriptors, formatted */
    ig_buf_t args;           /* the entries (completions and admissions, in order), formatted */
    uint32_t ncompl, nargs;
    int64_t tokens;          /* charged by the completions (for the message when they fail) */
    rl_redis_call_t **calls; /* the admissions, in order */
    uint32_t ncalls, callcap;
    ig_buf_t out;            /* the whole command, made by prepare */
    size_t hdr_len;          /* "*argc $7 EVALSHA $40 <sha>" at its front */
    uint32_t argc;
    char *eval;              /* the same call as EVAL, after NOSCRIPT */
} rl_batch_t;

static void release_free(rl_release_t *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->keys[i]);
    free(r);
}

static void call_free(rl_redis_call_t *call)
{
    release_free(call->release);
    free(call);
}

static void batch_free(rl_batch_t *b)
{
    for (uint32_t i = 0; i < b->ncalls; i++)
        call_free(b->calls[i]);
    free(b->calls);
    free(b->keys.p);
    free(b->keyref);
    free(b->slots);
    free(b->args.p);
    free(b->descs.p);
    free(b->desc);
    free(b->desc_of_key);
    free(b->out.p);
    free(b->eval);
    free(b);
}

/* FNV-1a of a then b: a key's slot, whether it is written in one piece or as prefix + id. */
static uint32_t key_hash(const char *a, size_t alen, const char *b, size_t blen)
{
    return ig_fnv1a32(ig_fnv1a32(IG_FNV32_OFFSET, a, alen), b, blen);
}

/* The 1-based index of key prefix+id among the batch's KEYS, added if new; 0 on out of memory. */
static uint32_t batch_key(rl_batch_t *b, const char *prefix, size_t plen, const char *id, size_t idlen)
{
    size_t len = plen + idlen;
    if (b->nkeys * 2 >= b->nslots) { /* grow and rehash: at most half full */
        uint32_t n = b->nslots ? b->nslots * 2 : 16;
        uint32_t *slots = calloc(n, sizeof(*slots));
        if (!slots)
            return 0;
        for (uint32_t k = 0; k < b->nkeys; k++) {
            const rl_keyref_t *r = &b->keyref[k];
            uint32_t i = key_hash(b->keys.p + r->off, r->len, "", 0) & (n - 1);
            while (slots[i])
                i = (i + 1) & (n - 1);
            slots[i] = k + 1;
        }
        free(b->slots);
        b->slots = slots;
        b->nslots = n;
    }
    uint32_t i = key_hash(prefix, plen, id, idlen) & (b->nslots - 1);
    for (; b->slots[i]; i = (i + 1) & (b->nslots - 1)) {
        const rl_keyref_t *r = &b->keyref[b->slots[i] - 1];
        if (r->len == len && !memcmp(b->keys.p + r->off, prefix, plen) && !memcmp(b->keys.p + r->off + plen, id, idlen))
            return b->slots[i];
    }
    if (b->nkeys == b->keycap) {
        uint32_t cap = b->keycap ? b->keycap * 2 : 8;
        rl_keyref_t *kr = realloc(b->keyref, cap * sizeof(*kr));
        if (!kr)
            return 0;
        b->keyref = kr;
        b->keycap = cap;
    }
    if (ig_buf_reserve(&b->keys, len + RL_NUM_MAX) != 0)
        return 0;
    char *o = put_len(b->keys.p + b->keys.len, '$', len);
    rl_keyref_t *r = &b->keyref[b->nkeys];
    r->off = (uint32_t)(o - b->keys.p);
    r->len = (uint32_t)len;
    o = put(o, prefix, plen);
    o = put(o, id, idlen);
    o = put(o, "\r\n", 2);
    b->keys.len = (size_t)(o - b->keys.p);
    b->slots[i] = ++b->nkeys;
    return b->nkeys;
}

/* The 1-based index of the descriptor (key, lease, limits), added if new; 0 on out of memory. */
static uint32_t batch_desc(rl_batch_t *b, uint32_t key, int64_t lease, const int64_t *lim)
{
    if (key > b->dkcap) {
        uint32_t cap = b->dkcap ? b->dkcap : 8;
        while (cap < key)
            cap *= 2;
        uint32_t *dk = realloc(b->desc_of_key, cap * sizeof(*dk));
        if (!dk)
            return 0;
        memset(dk + b->dkcap, 0, (cap - b->dkcap) * sizeof(*dk));
        b->desc_of_key = dk;
        b->dkcap = cap;
    }
    for (uint32_t d = b->desc_of_key[key - 1]; d; d = b->desc[d - 1].next)
        if (b->desc[d - 1].lease == lease && !memcmp(b->desc[d - 1].lim, lim, sizeof(b->desc[0].lim)))
            return d;
    if (b->ndesc == b->desccap) {
        uint32_t cap = b->desccap ? b->desccap * 2 : 8;
        rl_desc_t *nd = realloc(b->desc, cap * sizeof(*nd));
        if (!nd)
            return 0;
        b->desc = nd;
        b->desccap = cap;
    }
    if (ig_buf_reserve(&b->descs, (2 + RL_NLIMITS) * RL_NUM_MAX) != 0)
        return 0;
    char *o = b->descs.p + b->descs.len;
    o = put_int(o, key);
    o = put_int(o, lease);
    for (int l = 0; l < RL_NLIMITS; l++)
        o = put_int(o, lim[l]);
    b->descs.len = (size_t)(o - b->descs.p);
    rl_desc_t *d = &b->desc[b->ndesc];
    d->key = key;
    d->lease = lease;
    memcpy(d->lim, lim, sizeof(d->lim));
    d->next = b->desc_of_key[key - 1];
    b->desc_of_key[key - 1] = ++b->ndesc;
    return b->ndesc;
}

/*
 * The script call: EVALSHA sha numkeys KEYS... ndescriptors (key lease 6-limits)... nentries, then
 * the entries in the order they came: a completion is 1 ticket tokens nscopes (key flags)..., an
 * admission 2 ticket nscopes descriptor...
 */
static int batch_prepare(rl_cmd_t *cmd)
{
    rl_batch_t *b = (rl_batch_t *)cmd;
    b->argc = 2 + 1 + b->nkeys + 1 + b->ndesc * (2 + RL_NLIMITS) + 1 + b->nargs;
    ig_buf_t *o = &b->out;
    if (ig_buf_reserve(o, 6 * RL_NUM_MAX + 40 + b->keys.len + b->descs.len + b->args.len) != 0)
        return -1;
    char *p = put_len(o->p, '*', b->argc);
    p = put_bulk(p, "EVALSHA", 7);
    p = put_bulk(p, script.sha, 40);
    b->hdr_len = (size_t)(p - o->p);
    p = put_int(p, b->nkeys);
    p = put(p, b->keys.p, b->keys.len);
    p = put_int(p, b->ndesc);
    p = put(p, b->descs.p, b->descs.len);
    p = put_int(p, b->ncompl + b->ncalls);
    p = put(p, b->args.p, b->args.len);
    o->len = (size_t)(p - o->p);
    cmd->buf = o->p;
    cmd->len = o->len;
    return 0;
}

static void batch_done(rl_cmd_t *cmd, redisReply *reply, const char *err);

/* The batch still open on conn c (created when there is none, or the last one is full). */
static rl_batch_t *batch_open(rl_conn_t *c, int64_t timeout_ms, char *err, size_t cap)
{
    rl_cmd_t *tail = rl_conn_unsent_tail(c);
    if (tail && tail->prepare == batch_prepare) {
        rl_batch_t *b = (rl_batch_t *)tail;
        if (b->ncompl + b->ncalls < RL_BATCH_MAX)
            return b;
    }
    rl_batch_t *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, cap, "redis %s: out of memory", rl_conn_name(c));
        return NULL;
    }
    b->cmd.prepare = batch_prepare;
    b->cmd.done = batch_done;
    if (rl_conn_resend(c, &b->cmd, timeout_ms, err, cap) != 0) {
        batch_free(b);
        return NULL;
    }
    return b;
}

/* Adds a completion (keys already prefixed when plen is 0). 0, or -1 on out of memory. */
static int batch_add_completion(rl_batch_t *b, const char *prefix, size_t plen, const char *const *ids,
                                const size_t *idlens, const unsigned *flags, size_t n, const char *ticket,
                                int64_t tokens)
{
    uint32_t keys[RL_MAX_SCOPES];
    for (size_t i = 0; i < n; i++)
        if (!(keys[i] = batch_key(b, prefix, plen, ids[i], idlens[i])))
            return -1;
    size_t tlen = strlen(ticket);
    if (ig_buf_reserve(&b->args, tlen + (4 + 2 * n) * RL_NUM_MAX) != 0)
        return -1;
    char *o = b->args.p + b->args.len;
    o = put_int(o, 1);
    o = put_bulk(o, ticket, tlen);
    o = put_int(o, tokens);
    o = put_int(o, (int64_t)n);
    for (size_t i = 0; i < n; i++) {
        o = put_int(o, keys[i]);
        o = put_int(o, flags[i]);
    }
    b->args.len = (size_t)(o - b->args.p);
    b->ncompl++;
    b->nargs += (uint32_t)(4 + 2 * n);
    b->tokens += tokens;
    return 0;
}

/* A cancelled admission that Redis admitted: its slots go back in the next batch. */
static void send_release(rl_conn_t *c, int64_t timeout_ms, rl_release_t *r)
{
    char err[300];
    const char *ids[RL_MAX_SCOPES];
    unsigned flags[RL_MAX_SCOPES];
    for (size_t i = 0; i < r->n; i++) {
        ids[i] = r->keys[i];
        flags[i] = RL_HOLD_CONC;
    }
    rl_batch_t *b = batch_open(c, timeout_ms, err, sizeof(err));
    if (!b || batch_add_completion(b, "", 0, ids, r->lens, flags, r->n, r->ticket, 0) != 0)
        rl_conn_warn(c, "%s: a cancelled request's concurrency slot frees itself at its lease's end",
                     b ? "out of memory" : err);
}

static int is_noscript(const redisReply *reply)
{
    return reply->type == REDIS_REPLY_ERROR && reply->len >= 8 && memcmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* NOSCRIPT: the same arguments with EVAL, on the same connection. 0, or -1 with err. */
static int retry_with_eval(rl_batch_t *b, char *err, size_t cap)
{
    size_t args = b->out.len - b->hdr_len;
    if (!(b->eval = malloc(3 * RL_NUM_MAX + script.lua_len + args))) {
        snprintf(err, cap, "redis: out of memory");
        return -1;
    }
    char *o = put_len(b->eval, '*', b->argc);
    o = put_bulk(o, "EVAL", 4);
    o = put_bulk(o, rl_redis_batch_lua, script.lua_len);
    o = put(o, b->out.p + b->hdr_len, args);
    b->cmd.buf = b->eval;
    b->cmd.len = (size_t)(o - b->eval);
    return rl_conn_resend(b->cmd.conn, &b->cmd, b->cmd.timeout_ms, err, cap);
}

/* Is the answer {now, then per admission: admitted, then 3 numbers per limit it has}? */
static int answer_fits(const rl_batch_t *b, const redisReply *rep)
{
    size_t want = 1;
    for (uint32_t i = 0; i < b->ncalls; i++)
        want += 1 + 3 * b->calls[i]->nlimits;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != want)
        return 0;
    for (size_t i = 0; i < want; i++)
        if (rep->element[i]->type != REDIS_REPLY_INTEGER)
            return 0;
    return 1;
}

static void batch_done(rl_cmd_t *cmd, redisReply *reply, const char *err)
{
    rl_batch_t *b = (rl_batch_t *)cmd;
    rl_conn_t *c = cmd->conn;
    char msg[400];
    if (reply && is_noscript(reply) && !b->eval) {
        if (retry_with_eval(b, msg, sizeof(msg)) == 0)
            return; /* comes back here with the answer */
        err = msg;
        reply = NULL;
    }
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        snprintf(msg, sizeof(msg), "redis %s: script: %.300s", rl_conn_name(c), reply->str);
        err = msg;
        reply = NULL;
    } else if (reply && !answer_fits(b, reply)) {
        snprintf(msg, sizeof(msg), "redis %s: the script answered something unexpected", rl_conn_name(c));
        err = msg;
        reply = NULL;
    }
    if (!reply) {
        if (!err)
            err = "redis: no answer";
        /* at shutdown the connection says once how many went unanswered */
        if (b->ncompl && !rl_conn_closing(c))
            rl_conn_warn(c, "%s: %u completions not counted (%lld tokens not charged; concurrency slots free "
                         "themselves at their lease's end)", err, b->ncompl, (long long)b->tokens);
        for (uint32_t i = 0; i < b->ncalls; i++)
            if (b->calls[i]->cb)
                b->calls[i]->cb(b->calls[i]->arg, -1, err);
        batch_free(b);
        return;
    }
    int64_t now = reply->element[0]->integer;
    redisReply **e = reply->element + 1;
    for (uint32_t i = 0; i < b->ncalls; i++) {
        rl_redis_call_t *call = b->calls[i];
        int admitted = (*e++)->integer == 1;
        rl_view_t *v = call->v;
        if (v) {
            v->now_ms = now;
            for (size_t s = 0; s < v->n; s++)
                for (int l = 0; l < RL_NLIMITS; l++) {
                    if (v->scopes[s].lim[l] < 0)
                        continue; /* (reported on only when it exists) */
                    rl_obs_t *o = &v->obs[s][l];
                    o->used = e[0]->integer;
                    o->reset_ms = e[1]->integer;
                    o->retry_ms = e[2]->integer;
                    e += 3;
                }
        } else {
            e += 3 * call->nlimits;
        }
        if (call->cb)
            call->cb(call->arg, admitted, NULL);
        else if (admitted && call->release) /* the client left while we waited */
            send_release(c, cmd->timeout_ms, call->release);
    }
    batch_free(b);
}

int rl_redis_complete(rl_redis_t *rd, const char *const *ids, const size_t *idlens, const unsigned *flags, size_t n,
                      const char *ticket, int64_t tokens, char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++)
        if (rd->prefix_len + idlens[i] > RL_KEY_MAX) {
            snprintf(err, cap, "a rate-limit key is longer than %d bytes", RL_KEY_MAX);
            return -1;
        }
    rl_conn_t *c = rl_conn_here(rd->target, err, cap);
    rl_batch_t *b = c ? batch_open(c, rd->timeout_ms, err, cap) : NULL;
    if (!b)
        return -1;
    if (batch_add_completion(b, rd->prefix, rd->prefix_len, ids, idlens, flags, n, ticket, tokens) != 0) {
        snprintf(err, cap, "redis %s: out of memory", rl_target_name(rd->target));
        return -1;
    }
    return 0;
}

int rl_redis_admit(rl_redis_t *rd, rl_view_t *v, const char *ticket, rl_redis_admit_cb_t cb, void *arg,
                   rl_redis_call_t **out, char *err, size_t cap)
{
    char label[512];
    size_t n = v->n;
    for (size_t s = 0; s < n; s++)
        if (rd->prefix_len + v->scopes[s].idlen > RL_KEY_MAX) {
            snprintf(err, cap, "rate-limit key for %.200s is too long",
                     rl_scope_label(&v->scopes[s], label, sizeof(label)));
            return -1;
        }
    rl_redis_call_t *call = calloc(1, sizeof(*call));
    if (!call) {
        snprintf(err, cap, "redis: out of memory");
        return -1;
    }
    call->cb = cb;
    call->arg = arg;
    call->v = v;
    call->rd = rd;
    call->ticket = ticket;
    for (size_t s = 0; s < n; s++)
        for (int l = 0; l < RL_NLIMITS; l++)
            call->nlimits += v->scopes[s].lim[l] >= 0;
    rl_conn_t *c = rl_conn_here(rd->target, err, cap);
    rl_batch_t *b = c ? batch_open(c, rd->timeout_ms, err, cap) : NULL;
    if (!b) {
        call_free(call);
        return -1;
    }
    uint32_t desc[RL_MAX_SCOPES];
    /* the ticket names a concurrency slot: without one, it is not sent */
    size_t tlen = 0;
    for (size_t s = 0; s < n; s++)
        if (v->scopes[s].lim[RL_CONC] >= 0)
            tlen = strlen(ticket);
    int ok = 1;
    if (b->ncalls == b->callcap) {
        uint32_t ncap = b->callcap ? b->callcap * 2 : 16;
        rl_redis_call_t **calls = realloc(b->calls, ncap * sizeof(*calls));
        if ((ok = calls != NULL)) {
            b->calls = calls;
            b->callcap = ncap;
        }
    }
    for (size_t s = 0; ok && s < n; s++) {
        uint32_t key = batch_key(b, rd->prefix, rd->prefix_len, v->scopes[s].id, v->scopes[s].idlen);
        ok = key && (desc[s] = batch_desc(b, key, rd->lease_ms, v->scopes[s].lim)) != 0;
    }
    if (!ok || ig_buf_reserve(&b->args, tlen + (3 + n) * RL_NUM_MAX) != 0) {
        /* (the batch stays as it was: its other entries are whole) */
        call_free(call);
        snprintf(err, cap, "redis %s: out of memory", rl_target_name(rd->target));
        return -1;
    }
    char *o = b->args.p + b->args.len;
    o = put_int(o, 2);
    o = put_bulk(o, ticket, tlen);
    o = put_int(o, (int64_t)n);
    for (size_t s = 0; s < n; s++)
        o = put_int(o, desc[s]);
    b->args.len = (size_t)(o - b->args.p);
    b->nargs += (uint32_t)(3 + n);
    b->calls[b->ncalls++] = call;
    *out = call;
    return 0;
}

void rl_redis_admit_cancel(rl_redis_call_t *call)
{
    rl_view_t *v = call->v;
    if (v) {
        /* what it will hold if Redis admits it: its concurrency slots (the request, counted, stays
         * counted: the same as a request admitted at once whose client then left) */
        rl_release_t *r = calloc(1, sizeof(*r));
        const rl_redis_t *rd = call->rd;
        for (size_t s = 0; r && s < v->n; s++) {
            if (v->scopes[s].lim[RL_CONC] < 0)
                continue;
            size_t len = rd->prefix_len + v->scopes[s].idlen;
            char *k = malloc(len + 1);
            if (!k) {
                release_free(r);
                r = NULL;
                break;
            }
            memcpy(k, rd->prefix, rd->prefix_len);
            memcpy(k + rd->prefix_len, v->scopes[s].id, v->scopes[s].idlen);
            k[len] = '\0';
            r->keys[r->n] = k;
            r->lens[r->n++] = len;
        }
        if (r && r->n) {
            snprintf(r->ticket, sizeof(r->ticket), "%s", call->ticket);
            call->release = r;
        } else {
            if (!r)
                rd->host->log(IG_LOG_WARN, "ratelimit", "out of memory: a cancelled request's concurrency slot "
                                                        "frees itself at its lease's end");
            release_free(r);
        }
    }
    call->cb = NULL;
    call->arg = NULL;
    call->v = NULL;
    call->rd = NULL;
    call->ticket = NULL;
}
