/*
 * rl_redis_url.c — redisUrl: redis://[[user]:password@]host[:port][/db] or unix:///path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "rl_redis_conn.h"

static int fail(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
    return -1;
}

int rl_redis_parse_url(const char *full_url, rl_redis_url_t *out, char *err, size_t cap)
{
    /* messages show the URL without its credentials: they end up in logs */
    char url[300];
    const char *at = strrchr(full_url, '@');
    if (at && strncmp(full_url, "redis://", 8) == 0)
        snprintf(url, sizeof(url), "redis://***%s", at);
    else
        snprintf(url, sizeof(url), "%s", full_url);
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
        char *e;
        long port = strtol(colon + 1, &e, 10);
        if (e != hend || colon + 1 == hend || port < 1 || port > 65535)
            return fail(err, cap, "redisUrl \"%.200s\": bad port", url);
        out->port = (int)port;
    }
    if (slash && slash + 1 < end) {
        char *e;
        long db = strtol(slash + 1, &e, 10);
        if (*e || db < 0 || db > 1000000)
            return fail(err, cap, "redisUrl \"%.200s\": bad database number \"%s\"", url, slash + 1);
        out->db = (int)db;
    }
    return 0;
}

