/* sessions.c — console and portal sessions, failed-login limits (sessions.h). */
#include "admin/sessions.h"
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/hash.h"

typedef struct {
    int used;
    unsigned char token_hash[32];
    char csrf[IG_SESSION_TOKEN_LEN + 1];
    unsigned char key_hash[32];
    char *api_key;                   /* portal only, malloc'd, wiped when the session ends */
    size_t api_key_len;
    int64_t created_ms, last_ms;
} session_t;

typedef struct {
    session_t *v;
    size_t n, cap;
} session_list_t;

#define LIMIT_BUCKETS 256
#define LIMIT_WAYS 4

typedef struct {
    unsigned char addr[16];
    int64_t window_start_ms;         /* 0: free */
    unsigned failures;
} limit_slot_t;

struct ig_sessions_s {
    pthread_mutex_t lock;
    session_list_t kinds[2];
    limit_slot_t limits[LIMIT_BUCKETS][LIMIT_WAYS];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t ig_base64url(const unsigned char *in, size_t n, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63];
        out[o++] = tbl[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = tbl[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
    return o;
}

int ig_random_token(char out[IG_SESSION_TOKEN_LEN + 1])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    ig_base64url(raw, sizeof(raw), out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

ig_sessions_t *ig_sessions_create(void)
{
    ig_sessions_t *s = calloc(1, sizeof(*s));
    if (s != NULL)
        pthread_mutex_init(&s->lock, NULL);
    return s;
}

static void wipe(session_t *e)
{
    if (e->api_key != NULL) {
        OPENSSL_cleanse(e->api_key, e->api_key_len);
        free(e->api_key);
    }
    OPENSSL_cleanse(e, sizeof(*e));
}

void ig_sessions_free(ig_sessions_t *s)
{
    if (s == NULL)
        return;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < s->kinds[k].n; i++)
            wipe(&s->kinds[k].v[i]);
        free(s->kinds[k].v);
    }
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int live(const session_t *e, int64_t now)
{
    return e->used && now - e->last_ms < IG_SESSION_IDLE_MS && now - e->created_ms < IG_SESSION_MAX_MS;
}

static int64_t expires_at(const session_t *e)
{
    int64_t idle = e->last_ms + IG_SESSION_IDLE_MS, max = e->created_ms + IG_SESSION_MAX_MS;
    return idle < max ? idle : max;
}

static void view_of(const session_t *e, ig_session_view_t *v)
{
    memcpy(v->csrf, e->csrf, sizeof(v->csrf));
    memcpy(v->key_hash, e->key_hash, sizeof(v->key_hash));
    v->api_key_len = e->api_key_len;
    if (e->api_key_len)
        memcpy(v->api_key, e->api_key, e->api_key_len);
    v->api_key[e->api_key_len] = '\0';
    v->expires_at_ms = expires_at(e);
}

/* A free slot: an unused or expired one, else room to grow, else the least recently used. Locked. */
static session_t *slot_for_new(session_list_t *l, int64_t now)
{
    session_t *lru = NULL;
    for (size_t i = 0; i < l->n; i++) {
        session_t *e = &l->v[i];
        if (!live(e, now)) {
            wipe(e);
            return e;
        }
        if (lru == NULL || e->last_ms < lru->last_ms)
            lru = e;
    }
    if (l->n < IG_SESSIONS_MAX) {
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            session_t *v = realloc(l->v, cap * sizeof(*v));
            if (v == NULL)
                return NULL;
            l->v = v;
            l->cap = cap;
        }
        session_t *e = &l->v[l->n++];
        memset(e, 0, sizeof(*e));
        return e;
    }
    wipe(lru);
    return lru;
}

int ig_sessions_open(ig_sessions_t *s, ig_session_kind_t kind, const unsigned char key_hash[32], const char *api_key,
                     size_t api_key_len, char token[IG_SESSION_TOKEN_LEN + 1], ig_session_view_t *view)
{
    if (api_key_len > IG_SESSION_MAX_API_KEY)
        return -1;
    char csrf[IG_SESSION_TOKEN_LEN + 1];
    char *key_copy = NULL;
    if (api_key_len) {
        if ((key_copy = malloc(api_key_len + 1)) == NULL)
            return -1;
        memcpy(key_copy, api_key, api_key_len);
        key_copy[api_key_len] = '\0';
    }
    if (ig_random_token(token) != 0 || ig_random_token(csrf) != 0) {
        free(key_copy);
        return -1;
    }
    int64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    session_t *e = slot_for_new(&s->kinds[kind], now);
    if (e == NULL) {
        pthread_mutex_unlock(&s->lock);
        free(key_copy);
        return -1;
    }
    e->used = 1;
    SHA256((const unsigned char *)token, IG_SESSION_TOKEN_LEN, e->token_hash);
    memcpy(e->csrf, csrf, sizeof(csrf));
    if (key_hash != NULL)
        memcpy(e->key_hash, key_hash, 32);
    e->api_key = key_copy;
    e->api_key_len = api_key_len;
    e->created_ms = e->last_ms = now;
    view_of(e, view);
    pthread_mutex_unlock(&s->lock);
    return 0;
}

/* The live session whose token hashes to h, or NULL. Locked. */
static session_t *find(session_list_t *l, const unsigned char h[32], int64_t now)
{
    for (size_t i = 0; i < l->n; i++) {
        session_t *e = &l->v[i];
        if (e->used && CRYPTO_memcmp(e->token_hash, h, 32) == 0)
            return live(e, now) ? e : NULL;
    }
    return NULL;
}

int ig_sessions_find(ig_sessions_t *s, ig_session_kind_t kind, const char *token, size_t len, ig_session_view_t *view)
{
    if (len != IG_SESSION_TOKEN_LEN)
        return -1;
    unsigned char h[32];
    SHA256((const unsigned char *)token, len, h);
    int64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    session_t *e = find(&s->kinds[kind], h, now);
    if (e != NULL) {
        e->last_ms = now;
        view_of(e, view);
    }
    pthread_mutex_unlock(&s->lock);
    return e != NULL ? 0 : -1;
}

void ig_sessions_close(ig_sessions_t *s, ig_session_kind_t kind, const char *token, size_t len)
{
    if (len != IG_SESSION_TOKEN_LEN)
        return;
    unsigned char h[32];
    SHA256((const unsigned char *)token, len, h);
    pthread_mutex_lock(&s->lock);
    session_t *e = find(&s->kinds[kind], h, now_ms());
    if (e != NULL)
        wipe(e);
    pthread_mutex_unlock(&s->lock);
}

size_t ig_sessions_count(ig_sessions_t *s, ig_session_kind_t kind)
{
    size_t n = 0;
    int64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->kinds[kind].n; i++)
        n += live(&s->kinds[kind].v[i], now);
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* The address a limit counts: IPv4 (also as mapped in IPv6) whole, IPv6 by its /64. */
static void limit_key(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa != NULL && sa->sa_family == AF_INET) {
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa != NULL && sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0)
            memcpy(key + 12, a + 12, 4);
        else
            memcpy(key, a, 8);
    }
}

/* The slot counting key's failures now, or NULL when it has none. Locked. */
static limit_slot_t *limit_find(ig_sessions_t *s, const unsigned char key[16], int64_t now)
{
    limit_slot_t *b = s->limits[ig_fnv1a32(IG_FNV32_OFFSET, key, 16) % LIMIT_BUCKETS];
    for (int i = 0; i < LIMIT_WAYS; i++)
        if (b[i].window_start_ms && now - b[i].window_start_ms < IG_LOGIN_WINDOW_MS && memcmp(b[i].addr, key, 16) == 0)
            return &b[i];
    return NULL;
}

int ig_login_allowed(ig_sessions_t *s, const struct sockaddr *sa, int *retry_after_s)
{
    unsigned char key[16];
    limit_key(sa, key);
    int64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    limit_slot_t *e = limit_find(s, key, now);
    int ok = e == NULL || e->failures < IG_LOGIN_MAX_FAILURES;
    if (!ok)
        *retry_after_s = (int)((e->window_start_ms + IG_LOGIN_WINDOW_MS - now + 999) / 1000);
    pthread_mutex_unlock(&s->lock);
    return ok ? 0 : -1;
}

void ig_login_failed(ig_sessions_t *s, const struct sockaddr *sa)
{
    unsigned char key[16];
    limit_key(sa, key);
    int64_t now = now_ms();
    pthread_mutex_lock(&s->lock);
    limit_slot_t *e = limit_find(s, key, now);
    if (e == NULL) {
        /* a free or expired way, else the one whose window started first */
        limit_slot_t *b = s->limits[ig_fnv1a32(IG_FNV32_OFFSET, key, 16) % LIMIT_BUCKETS];
        e = &b[0];
        for (int i = 0; i < LIMIT_WAYS; i++) {
            if (!b[i].window_start_ms || now - b[i].window_start_ms >= IG_LOGIN_WINDOW_MS) {
                e = &b[i];
                break;
            }
            if (b[i].window_start_ms < e->window_start_ms)
                e = &b[i];
        }
        memcpy(e->addr, key, 16);
        e->window_start_ms = now;
        e->failures = 0;
    }
    e->failures++;
    pthread_mutex_unlock(&s->lock);
}
