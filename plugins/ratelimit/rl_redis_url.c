/*
 * rl_redis_url.c — redisUrl: redis://[[user]:password@]host[:port][/db] or unix:///path.
 */
#include <ctype.h>
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

