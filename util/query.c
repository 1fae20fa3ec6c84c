/* query.c — see util/query.h. */
#include "util/query.h"
#include <stdio.h>
#include <string.h>
#include "util/url.h"

static void set_error(ig_query_error_t *e, ig_query_status_t st, const char *p, size_t n)
{
    e->status = st;
    if (n >= sizeof(e->param))
        n = sizeof(e->param) - 1;
    memcpy(e->param, p, n);
    e->param[n] = '\0';
    /* a name cut short or written raw may hold bytes a message should not: keep printable ASCII */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)e->param[i] < 0x20 || (unsigned char)e->param[i] >= 0x7f)
            e->param[i] = '?';
}

int ig_query_parse(const char *q, size_t n, const char *const *allowed, char *mem, size_t memcap, ig_query_t *out,
                   ig_query_error_t *e)
{
    out->n = 0;
    e->status = IG_QUERY_OK;
    e->param[0] = '\0';
    if (n == 0)
        return 0; /* q may be NULL then: no arithmetic on it */
    size_t used = 0;
    const char *p = q, *end = q + n;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        const char *v = eq ? eq + 1 : pe;
        if (pe == p) {
            p = pe + 1;
            continue;
        }
        if (out->n == IG_QUERY_MAX_PARAMS) {
            set_error(e, IG_QUERY_TOO_MANY, p, (size_t)(ke - p));
            return -1;
        }
        /* a piece of len bytes needs at most len + 2 (its '=' gone, two NULs): within IG_QUERY_MEM */
        size_t klen = 0, vlen = 0;
        char *k = mem + used;
        if (ig_url_decode(p, (size_t)(ke - p), 1u, k, memcap - used, &klen) != 0) {
            set_error(e, IG_QUERY_MALFORMED, p, (size_t)(ke - p));
            return -1;
        }
        used += klen + 1;
        char *val = mem + used;
        if (ig_url_decode(v, (size_t)(pe - v), 1u, val, memcap - used, &vlen) != 0) {
            set_error(e, IG_QUERY_MALFORMED, k, klen);
            return -1;
        }
        used += vlen + 1;
        if (allowed != NULL) {
            size_t i = 0;
            while (allowed[i] != NULL && strcmp(allowed[i], k) != 0)
                i++;
            if (allowed[i] == NULL) {
                set_error(e, IG_QUERY_UNKNOWN, k, klen);
                return -1;
            }
        }
        if (ig_query_get(out, k) != NULL) {
            set_error(e, IG_QUERY_REPEATED, k, klen);
            return -1;
        }
        out->pairs[out->n++] = (ig_query_pair_t){k, val};
        p = pe + 1;
    }
    return 0;
}

const char *ig_query_get(const ig_query_t *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->pairs[i].key, name) == 0)
            return q->pairs[i].value;
    return NULL;
}

const char *ig_query_error_message(const ig_query_error_t *e, char *buf, size_t cap)
{
    switch (e->status) {
    case IG_QUERY_OK: snprintf(buf, cap, "no error"); break;
    case IG_QUERY_MALFORMED:
        snprintf(buf, cap, "query parameter `%s`: a malformed percent-escape (or an encoded NUL)", e->param);
        break;
    case IG_QUERY_UNKNOWN: snprintf(buf, cap, "unknown query parameter `%s`", e->param); break;
    case IG_QUERY_REPEATED: snprintf(buf, cap, "query parameter `%s` given more than once", e->param); break;
    case IG_QUERY_TOO_MANY: snprintf(buf, cap, "more than %d query parameters", IG_QUERY_MAX_PARAMS); break;
    }
    return buf;
}

const char *ig_query_error_code(const ig_query_error_t *e)
{
    return e->status == IG_QUERY_UNKNOWN ? "unknown_parameter" : "invalid_value";
}
