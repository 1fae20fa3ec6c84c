/*
 * Fuzz target: util/query.c, the query-string reader every plugin route uses (billing's usage and
 * invoice routes, apikey's admin routes). Input: a mode byte (bit 0: with the allowed list
 * {a, customer, start_date, month} or none), then the query string. Properties checked:
 *  - the answer is 0 or -1; never a byte written past IG_QUERY_MEM(n) (the memory is exactly that);
 *  - accepted exactly when an independent reading accepts: every non-empty '&'-piece's key and
 *    value percent-decode ('+' a space) without NUL, no key twice, at most IG_QUERY_MAX_PARAMS,
 *    every key allowed; on -1 the status says which rule failed first and names its parameter;
 *  - accepted pairs are the pieces in order, decoded, and ig_query_get finds each;
 *  - the pairs percent-encoded again parse to the same pairs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/query.h"
#include "util/url.h"

static const char *const allowed_list[] = {"a", "customer", "start_date", "month", NULL};

static int in_list(const char *k)
{
    for (size_t i = 0; allowed_list[i]; i++)
        if (strcmp(allowed_list[i], k) == 0)
            return 1;
    return 0;
}

/* the reference: what ig_query_parse must say */
static ig_query_status_t reference(const char *q, size_t n, int with_list, char keys[][256], char vals[][256],
                                   size_t *count)
{
    *count = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i, e;
        while (j < n && q[j] != '&')
            j++;
        for (e = i; e < j && q[e] != '='; e++)
            ;
        if (j > i) {
            if (*count == IG_QUERY_MAX_PARAMS)
                return IG_QUERY_TOO_MANY;
            char *k = keys[*count], *v = vals[*count];
            size_t vs = e < j ? e + 1 : j;
            if (ig_url_decode(q + i, e - i, IG_URL_PLUS_SPACE, k, 256, NULL) != 0 ||
                ig_url_decode(q + vs, j - vs, IG_URL_PLUS_SPACE, v, 256, NULL) != 0)
                return IG_QUERY_MALFORMED;
            if (with_list && !in_list(k))
                return IG_QUERY_UNKNOWN;
            for (size_t m = 0; m < *count; m++)
                if (strcmp(keys[m], k) == 0)
                    return IG_QUERY_REPEATED;
            (*count)++;
        }
        i = j + 1;
    }
    return IG_QUERY_OK;
}

static size_t encode(char *out, const char *s)
{
    size_t o = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
            c == '.')
            out[o++] = (char)c;
        else
            o += (size_t)sprintf(out + o, "%%%02X", c);
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* pieces are at most 255 bytes decoded here so the reference's fixed rooms suffice */
    if (size < 1 || size > 255)
        return 0;
    int with_list = data[0] & 1;
    size_t n = size - 1;
    char *q = malloc(n ? n : 1);
    memcpy(q, data + 1, n);
    char *mem = malloc(IG_QUERY_MEM(n));
    ig_query_t out;
    ig_query_error_t e;
    int rc = ig_query_parse(q, n, with_list ? allowed_list : NULL, mem, IG_QUERY_MEM(n), &out, &e);
    static char keys[IG_QUERY_MAX_PARAMS + 1][256], vals[IG_QUERY_MAX_PARAMS + 1][256];
    size_t count;
    ig_query_status_t want = reference(q, n, with_list, keys, vals, &count);
    if (rc != 0 && rc != -1)
        abort();
    if ((rc == 0) != (want == IG_QUERY_OK) || e.status != want)
        abort();
    if (rc != 0) {
        char msg[160];
        if (strlen(ig_query_error_message(&e, msg, sizeof(msg))) == 0 || strlen(e.param) >= sizeof(e.param))
            abort();
    } else {
        if (out.n != count)
            abort();
        char *enc = malloc(6 * n + 8);
        size_t el = 0;
        for (size_t i = 0; i < out.n; i++) {
            if (strcmp(out.pairs[i].key, keys[i]) != 0 || strcmp(out.pairs[i].value, vals[i]) != 0 ||
                ig_query_get(&out, keys[i]) != out.pairs[i].value)
                abort();
            if (i)
                enc[el++] = '&';
            el += encode(enc + el, keys[i]);
            enc[el++] = '=';
            el += encode(enc + el, vals[i]);
        }
        char *mem2 = malloc(IG_QUERY_MEM(el));
        ig_query_t again;
        if (ig_query_parse(enc, el, with_list ? allowed_list : NULL, mem2, IG_QUERY_MEM(el), &again, &e) != 0 ||
            again.n != out.n)
            abort();
        for (size_t i = 0; i < out.n; i++)
            if (strcmp(again.pairs[i].key, keys[i]) != 0 || strcmp(again.pairs[i].value, vals[i]) != 0)
                abort();
        free(mem2);
        free(enc);
    }
    free(mem);
    free(q);
    return 0;
}
