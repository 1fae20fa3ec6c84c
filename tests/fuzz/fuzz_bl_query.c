/*
 * Fuzz target: the billing plugin's admin query values (plugins/billing/bl_query.c): dates and
 * months (GET /admin/usage?start=..&end=.., /admin/invoices?month=..), read out of a query string by
 * util/query.c (whose own properties fuzz_query checks). Input: a byte (unused, kept for the
 * corpus), the parameter's name up to the first '\n', then the query string. Properties:
 *  - a time it accepts is one it writes back the same: all digits are Unix seconds; otherwise
 *    formatting the result gives the input again, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (a leap
 *    second :60 is the next second), so no 31 February, no signs or spaces inside the fields;
 *  - a month it accepts is exactly "YYYY-MM" in digits, year >= 1970, month 01..12.
 *    (unknown parameters are util/query.c's, checked by fuzz_query)
 * The value found and the query itself are each tried as a time and as a month.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bl_query.h"
#include "util/query.h"

static int digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static void check_time(const char *s)
{
    int64_t ms = 0;
    if (bl_parse_time(s, &ms) != 0)
        return;
    size_t n = strlen(s);
    if (n > 0 && n <= 12 && digits(s, n)) {
        if (ms != (int64_t)strtoll(s, NULL, 10) * 1000)
            abort();
        return;
    }
    if (n == 20 && memcmp(s + 17, "60", 2) == 0) { /* a leap second: the second after :59 */
        char prev[21];
        memcpy(prev, s, 21);
        memcpy(prev + 17, "59", 2);
        int64_t before;
        if (bl_parse_time(prev, &before) != 0 || ms != before + 1000)
            abort();
        return;
    }
    if (ms % 1000 != 0)
        abort();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char back[64];
    if (!gmtime_r(&t, &tm))
        abort();
    strftime(back, sizeof(back), n == 10 ? "%Y-%m-%d" : "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (strcmp(back, s) != 0)
        abort(); /* accepted, but it means another time than it says */
}

static void check_month(const char *s)
{
    int ok = strlen(s) == 7 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2);
    if (ok) {
        int y = atoi(s), m = atoi(s + 5);
        ok = y >= 1970 && m >= 1 && m <= 12;
    }
    if ((bl_parse_month(s) == 0) != ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    const char *in = (const char *)data + 1;
    const char *nl = memchr(in, '\n', size - 1);
    size_t name_len = nl ? (size_t)(nl - in) : 0;
    char *name = malloc(name_len + 1);
    memcpy(name, in, name_len);
    name[name_len] = '\0';
    const char *qs = nl ? nl + 1 : in;
    size_t qlen = (size_t)((const char *)data + size - qs);
    char *q = malloc(qlen ? qlen : 1); /* exact size: an overread is caught */
    memcpy(q, qs, qlen);
    /* the value as the routes read it (util/query.h, fuzzed on its own by fuzz_query) */
    char *mem = malloc(IG_QUERY_MEM(qlen));
    ig_query_t parsed;
    ig_query_error_t e;
    if (ig_query_parse(q, qlen, NULL, mem, IG_QUERY_MEM(qlen), &parsed, &e) == 0) {
        const char *v = ig_query_get(&parsed, name);
        if (v != NULL) {
            check_time(v);
            check_month(v);
        }
    }
    /* the query itself as a time and a month, when it is a C string */
    if (qlen < 64 && memchr(q, '\0', qlen) == NULL) {
        char s[64];
        memcpy(s, q, qlen);
        s[qlen] = '\0';
        check_time(s);
        check_month(s);
    }
    free(mem);
    free(q);
    free(name);
    return 0;
}
