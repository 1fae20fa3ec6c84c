/*
 * Fuzz target: the ratelimit plugin's redisUrl (rl_redis_parse_url: redis://[[user]:password@]host
 * [:port][/db] or unix:///path). Only the URL parser: the Redis backend around it is being rewritten.
 * Input: the URL. Properties checked on every input:
 *  - what it fills stays in its fields (NUL-terminated inside them), port 1..65535, db 0..1000000;
 *  - port and database are digits as written: no sign, no space, nothing after them;
 *  - credentials never reach the message: with every byte before the last '@' (after a scheme and
 *    its "://") replaced by 'x' — same length, ':' and '@' kept, so the parse goes the same way — the
 *    outcome and the message are the same (the message shows the URL, and it ends up in logs);
 *  - parse → print → parse round-trips: a URL it accepts, written back canonically, reads back the
 *    same fields.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if __has_include("rl_redis_conn.h")
#include "rl_redis_conn.h" /* where the parser lives once the backend is asynchronous */
#else
#include "rl_redis.h"
#endif

static void check_fields(const rl_redis_url_t *u)
{
    if (!memchr(u->host, '\0', sizeof(u->host)) || !memchr(u->user, '\0', sizeof(u->user)) ||
        !memchr(u->password, '\0', sizeof(u->password)))
        abort();
    if (u->port < 1 || u->port > 65535 || u->db < 0 || u->db > 1000000)
        abort();
}

static int same(const rl_redis_url_t *a, const rl_redis_url_t *b)
{
    return strcmp(a->host, b->host) == 0 && a->port == b->port && a->unix_socket == b->unix_socket &&
           strcmp(a->user, b->user) == 0 && strcmp(a->password, b->password) == 0 && a->db == b->db;
}

static int all_digits(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Where the port and db were written (after the last '@'), checked to be plain digits. */
static void check_digits(const char *url)
{
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at)
        p = at + 1;
    const char *slash = strchr(p, '/');
    const char *hend = slash ? slash : p + strlen(p);
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        colon = rb && rb + 1 < hend ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(hend - p));
    }
    if (colon && !all_digits(colon + 1, (size_t)(hend - colon - 1)))
        abort();
    if (slash && slash[1] && !all_digits(slash + 1, strlen(slash + 1)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1024)
        return 0;
    char *url = malloc(size + 1);
    memcpy(url, data, size);
    url[size] = '\0';

    rl_redis_url_t u, v;
    char err[512] = "", err2[512] = "";
    int rc = rl_redis_parse_url(url, &u, err, sizeof(err));
    if (rc != 0 && rc != -1)
        abort();
    if (rc == 0) {
        check_fields(&u);
        if (!u.unix_socket)
            check_digits(url);
    } else if (err[0] == '\0') {
        abort(); /* a refusal says why */
    }

    /* the same URL with other credentials: the same outcome, the same message */
    const char *at = strrchr(url, '@');
    if (at && strncmp(url, "unix://", 7) != 0) {
        char *masked = strdup(url);
        size_t from = 0; /* a scheme (RFC 3986: a letter, then letters, digits, + - .) and "://" stay */
        if (isalpha((unsigned char)url[0])) {
            while (isalnum((unsigned char)url[from]) || url[from] == '+' || url[from] == '-' || url[from] == '.')
                from++;
            from = strncmp(url + from, "://", 3) == 0 && url + from + 3 <= at ? from + 3 : 0;
        }
        for (size_t i = from; i < (size_t)(at - url); i++)
            if (masked[i] != ':' && masked[i] != '@')
                masked[i] = 'x';
        int rc2 = rl_redis_parse_url(masked, &v, err2, sizeof(err2));
        if (rc2 != rc || strcmp(err, err2) != 0)
            abort(); /* the message depends on what was before the '@' */
        if (rc == 0 && (strcmp(u.host, v.host) != 0 || u.port != v.port || u.db != v.db))
            abort();
        free(masked);
    }

    /* parse → print → parse */
    if (rc == 0) {
        char canon[1024];
        if (u.unix_socket)
            snprintf(canon, sizeof(canon), "unix://%s", u.host);
        else
        {
            int creds = u.user[0] || u.password[0], bracket = strchr(u.host, ':') || u.host[0] == '[';
            snprintf(canon, sizeof(canon), "redis://%s%s%s%s%s%s%s:%d/%d", u.user, creds ? ":" : "", u.password,
                     creds ? "@" : "", bracket ? "[" : "", u.host, bracket ? "]" : "", u.port, u.db);
        }
        char err3[512];
        if (rl_redis_parse_url(canon, &v, err3, sizeof(err3)) != 0 || !same(&u, &v))
            abort();
    }
    free(url);
    return 0;
}
