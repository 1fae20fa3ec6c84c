#include "bl_query.h"
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "util/url.h"

int bl_query_get(ig_str_t query, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = query.ptr, *end = query.ptr + query.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
            const char *v = eq ? eq + 1 : pe;
            return ig_url_decode(v, (size_t)(pe - v), IG_URL_PLUS_SPACE, out, cap, NULL) == 0 ? 1 : -1;
        }
        p = amp ? amp + 1 : end;
    }
    return 0;
}

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int bl_parse_time(const char *s, int64_t *ms)
{
    if (all_digits(s) && strlen(s) <= 12) {
        long long v;
        sscanf(s, "%lld", &v);
        *ms = (int64_t)v * 1000;
        return 0;
    }
    struct tm tm = {0};
    char tail[8] = "";
    int n = 0;
    size_t len = strlen(s);
    if (len == 10 && sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) == 3 && n == 10) {
        /* a day */
    } else if (len == 20 && sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%1s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                                   &tm.tm_min, &tm.tm_sec, tail) == 7 && strcmp(tail, "Z") == 0) {
        /* a UTC time */
    } else {
        return -1;
    }
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60 || tm.tm_year < 1970)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (int64_t)timegm(&tm) * 1000;
    return 0;
}

int bl_parse_month(const char *s)
{
    int y, m, n = 0;
    if (strlen(s) != 7 || sscanf(s, "%4d-%2d%n", &y, &m, &n) != 2 || n != 7 || s[4] != '-')
        return -1;
    return y >= 1970 && m >= 1 && m <= 12 ? 0 : -1;
}
