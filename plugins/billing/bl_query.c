#include "bl_query.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static int all_digits(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

/* The n digits at s as a number, or -1: no sign, no space (what sscanf's %d would let through). */
static int field(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

int bl_parse_time(const char *s, int64_t *ms)
{
    size_t len = strlen(s);
    if (all_digits(s) && len <= 12) {
        long long v;
        sscanf(s, "%lld", &v);
        *ms = (int64_t)v * 1000;
        return 0;
    }
    /* a day, or a UTC time: every field exactly its digits, and a day the month has */
    if (!(len == 10 || (len == 20 && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == 'Z')) || s[4] != '-' ||
        s[7] != '-')
        return -1;
    struct tm tm = {0};
    tm.tm_year = field(s, 4);
    tm.tm_mon = field(s + 5, 2);
    tm.tm_mday = field(s + 8, 2);
    if (len == 20) {
        tm.tm_hour = field(s + 11, 2);
        tm.tm_min = field(s + 14, 2);
        tm.tm_sec = field(s + 17, 2);
    }
    if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
        tm.tm_mday > days_in_month(tm.tm_year, tm.tm_mon) || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
        tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *ms = (int64_t)timegm(&tm) * 1000; /* a leap second (:60) is the next second */
    return 0;
}

int bl_parse_month(const char *s)
{
    if (strlen(s) != 7 || s[4] != '-')
        return -1;
    int y = field(s, 4), m = field(s + 5, 2);
    return y >= 1970 && m >= 1 && m <= 12 ? 0 : -1;
}
