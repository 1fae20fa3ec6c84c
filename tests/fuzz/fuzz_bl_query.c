/*
 * Fuzz target: the billing plugin's admin query strings (plugins/billing/bl_query.c): parameters,
 * their percent-decoding, dates and months (GET /admin/usage?customer=..&from=..&to=..,
 * /admin/invoices?month=..). Input: a byte choosing the output's room, the parameter's name up to
 * the first '\n', then the query string. Properties checked on every input:
 *  - found exactly when a '&'-separated piece's key (up to its '=') is the name, and never written
 *    past the room given: the value fits with its NUL, holds no NUL of its own;
 *  - decoding round-trips: the value found, percent-encoded again and put after a decoy parameter,
 *    is found again, the same; with exactly its length + 1 bytes of room it fits, with one less not;
 *  - a time it accepts is one it writes back the same: all digits are Unix seconds; otherwise
 *    formatting the result gives the input again, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (a leap
 *    second :60 is the next second), so no 31 February, no signs or spaces inside the fields;
 *  - a month it accepts is exactly "YYYY-MM" in digits, year >= 1970, month 01..12.
 *  - bl_query_unknown with only `name` allowed: says 1 exactly when some piece with a non-empty key
 *    has another key, writes a NUL-terminated name within the room; with every piece's key allowed
 *    it says 0.
 * The value found and the query itself are each tried as a time and as a month.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bl_query.h"

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

/* Is there a piece whose key is name? (the query's grammar, independently of bl_query_get) */
static int present(const char *q, size_t n, const char *name)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && q[j] != '&')
            j++;
        size_t k = i;
        while (k < j && q[k] != '=')
            k++;
        if (k - i == nl && memcmp(q + i, name, nl) == 0)
            return 1;
        i = j + 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    size_t cap = data[0] % 64 + 1;
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

    char *out = malloc(cap);
    memset(out, 'x', cap);
    int r = bl_query_get((ig_str_t){q, qlen}, name, out, cap);
    if (r < -1 || r > 1)
        abort();
    /* a name with a NUL is the C string before it */
    int p = present(q, qlen, name);
    if ((r != 0) != p)
        abort();
    if (r == 1) {
        size_t len = strnlen(out, cap);
        if (len == cap)
            abort(); /* no NUL inside the room */
        /* again, percent-encoded, after a decoy of the same name's prefix */
        size_t elen = 0;
        char *enc = malloc(3 * len + name_len + 16);
        memcpy(enc, "x=1&", 4);
        elen = 4;
        memcpy(enc + elen, name, strlen(name));
        elen += strlen(name);
        enc[elen++] = '=';
        for (size_t i = 0; i < len; i++) {
            unsigned char c = (unsigned char)out[i];
            if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                c == '.' || c == '~')
                enc[elen++] = (char)c;
            else
                elen += (size_t)sprintf(enc + elen, "%%%02X", c);
        }
        if (strcmp(name, "x") != 0 && strchr(name, '&') == NULL && strchr(name, '=') == NULL) {
            char *again = malloc(len + 1);
            if (bl_query_get((ig_str_t){enc, elen}, name, again, len + 1) != 1 || strcmp(again, out) != 0)
                abort();
            if (len > 0 && bl_query_get((ig_str_t){enc, elen}, name, again, len) != -1)
                abort();
            free(again);
        }
        free(enc);
        check_time(out);
        check_month(out);
    }
    /* unknown parameters: independently, is there a piece with a non-empty key other than name? */
    {
        int other = 0;
        const char *keys[64];
        char *kbuf = malloc(qlen + 64);
        size_t nkeys = 0, kused = 0;
        for (size_t i = 0; i <= qlen && qlen > 0;) {
            size_t j = i;
            while (j < qlen && q[j] != '&')
                j++;
            size_t k = i;
            while (k < j && q[k] != '=')
                k++;
            if (k > i && !(k - i == strlen(name) && memcmp(q + i, name, k - i) == 0))
                other = 1;
            if (k > i && nkeys < 63 && memchr(q + i, '\0', k - i) == NULL) {
                memcpy(kbuf + kused, q + i, k - i);
                kbuf[kused + k - i] = '\0';
                keys[nkeys++] = kbuf + kused;
                kused += k - i + 1;
            }
            i = j + 1;
        }
        keys[nkeys] = NULL;
        const char *only[] = {name, NULL};
        memset(out, 'x', cap);
        int u = bl_query_unknown((ig_str_t){q, qlen}, only, out, cap);
        if (u != other || (u && strnlen(out, cap) == cap))
            abort();
        /* every key allowed (when they all fit the list and hold no NUL): nothing unknown */
        size_t amps = 0;
        for (size_t i = 0; i < qlen; i++)
            amps += q[i] == '&';
        int all_listed = amps < 60 && memchr(q, '\0', qlen) == NULL;
        if (all_listed && bl_query_unknown((ig_str_t){q, qlen}, keys, out, cap) != 0)
            abort();
        free(kbuf);
    }
    /* the query itself as a time and a month, when it is a C string */
    if (qlen < 64 && memchr(q, '\0', qlen) == NULL) {
        char s[64];
        memcpy(s, q, qlen);
        s[qlen] = '\0';
        check_time(s);
        check_month(s);
    }
    free(out);
    free(q);
    free(name);
    return 0;
}
