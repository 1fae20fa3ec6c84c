/* model_address.c — hosts and path prefixes of models (model_address.h). */
#include "config/model_address.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* First segments the gateway serves itself: a prefix there would hide them. */
static const char *const reserved[] = {"v1", "admin", "ui", "portal", "healthz", "readyz", "metrics", "public",
                                       "openrouter", "rerank", "score", NULL};

int ig_address_host_valid(const char *s, char *msg, size_t msgcap)
{
    size_t n = strlen(s), label = 0;
    int only_digits = 1;
    if (n == 0 || n > IG_ADDRESS_HOST_MAX) {
        snprintf(msg, msgcap, "a host name has 1 to %d characters", IG_ADDRESS_HOST_MAX);
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') {
                snprintf(msg, msgcap, "\"%.80s\" is not a host name (labels of 1 to 63 of a-z 0-9 -, not starting "
                         "or ending with -, joined by dots)", s);
                return -1;
            }
            label = 0;
            continue;
        }
        if (c >= 'A' && c <= 'Z') {
            snprintf(msg, msgcap, "\"%.80s\": write host names in lowercase", s);
            return -1;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            snprintf(msg, msgcap, "\"%.80s\" is not a host name (a-z 0-9 - and dots; no port, no scheme)", s);
            return -1;
        }
        only_digits &= c >= '0' && c <= '9';
        label++;
    }
    if (only_digits) {
        snprintf(msg, msgcap, "\"%.80s\" is an IP address, not a host name", s);
        return -1;
    }
    return 0;
}

static int segment_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '~' || c == '-';
}

int ig_address_prefix_valid(const char *s, char *msg, size_t msgcap)
{
    size_t n = strlen(s);
    if (n < 2 || n > IG_ADDRESS_PREFIX_MAX || s[0] != '/' || s[n - 1] == '/') {
        snprintf(msg, msgcap, "\"%.80s\": a path prefix starts with '/', does not end with one, and has 2 to %d "
                 "characters", s, IG_ADDRESS_PREFIX_MAX);
        return -1;
    }
    size_t first_end = 0;
    for (size_t i = 1, seg = 1; i <= n; i++) {
        if (i == n || s[i] == '/') {
            size_t len = i - seg;
            if (len == 0 || (len == 1 && s[seg] == '.') || (len == 2 && s[seg] == '.' && s[seg + 1] == '.')) {
                snprintf(msg, msgcap, "\"%.80s\": empty, \".\" or \"..\" segment", s);
                return -1;
            }
            if (!first_end)
                first_end = i;
            seg = i + 1;
        } else if (!segment_char(s[i])) {
            snprintf(msg, msgcap, "\"%.80s\": path segments are A-Z a-z 0-9 . _ ~ -", s);
            return -1;
        }
    }
    for (size_t r = 0; reserved[r]; r++)
        if (first_end - 1 == strlen(reserved[r]) && memcmp(s + 1, reserved[r], first_end - 1) == 0) {
            snprintf(msg, msgcap, "\"%.80s\": /%s is the gateway's own", s, reserved[r]);
            return -1;
        }
    return 0;
}

size_t ig_address_host_of(const char *a, size_t len, char *out, size_t cap)
{
    if (len == 0 || a[0] == '[' || cap < IG_ADDRESS_HOST_MAX + 1)
        return 0;
    const char *colon = memchr(a, ':', len);
    size_t n = colon ? (size_t)(colon - a) : len;
    if (colon) /* the port: digits only */
        for (size_t i = n + 1; i < len; i++)
            if (a[i] < '0' || a[i] > '9')
                return 0;
    if (n > 0 && a[n - 1] == '.')
        n--; /* "example.com." is example.com */
    if (n == 0 || n > IG_ADDRESS_HOST_MAX || a[0] == '.' || a[n - 1] == '.')
        return 0; /* an empty label names no model: refused, so the result reduces to itself */
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c == '.' && a[i + 1] == '.')
            return 0;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return 0;
        out[i] = c;
    }
    out[n] = '\0';
    return n;
}

static int add(ig_address_entry_t **v, size_t *n, const char *key, uint32_t model)
{
    ig_address_entry_t *g = realloc(*v, (*n + 1) * sizeof(**v));
    if (!g)
        return -1;
    g[*n] = (ig_address_entry_t){key, strlen(key), model};
    *v = g;
    (*n)++;
    return 0;
}

int ig_address_index_add(ig_address_index_t *ix, int prefix, const char *key, uint32_t model)
{
    return prefix ? add(&ix->prefixes, &ix->nprefixes, key, model) : add(&ix->hosts, &ix->nhosts, key, model);
}

static int cmp_key(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c ? c : (alen > blen) - (alen < blen);
}

static int cmp_entry(const void *x, const void *y)
{
    const ig_address_entry_t *a = x, *b = y;
    return cmp_key(a->key, a->len, b->key, b->len);
}

void ig_address_index_seal(ig_address_index_t *ix)
{
    if (ix->nhosts)
        qsort(ix->hosts, ix->nhosts, sizeof(*ix->hosts), cmp_entry);
    if (ix->nprefixes)
        qsort(ix->prefixes, ix->nprefixes, sizeof(*ix->prefixes), cmp_entry);
}

void ig_address_index_free(ig_address_index_t *ix)
{
    free(ix->hosts);
    free(ix->prefixes);
    ix->hosts = ix->prefixes = NULL;
    ix->nhosts = ix->nprefixes = 0;
}

static long find(const ig_address_entry_t *v, size_t n, const char *key, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_key(v[mid].key, v[mid].len, key, len);
        if (c == 0)
            return (long)v[mid].model;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

long ig_address_find_host(const ig_address_index_t *ix, const char *name, size_t len)
{
    return ix->nhosts ? find(ix->hosts, ix->nhosts, name, len) : -1;
}

long ig_address_find_prefix(const ig_address_index_t *ix, const char *path, size_t len, size_t *rest_at)
{
    if (!ix->nprefixes || len < 2 || path[0] != '/')
        return -1;
    /* every '/' after the first segment ends a candidate prefix; bounded by the longest prefix */
    for (size_t i = 1; i < len && i <= IG_ADDRESS_PREFIX_MAX; i++) {
        if (path[i] != '/')
            continue;
        long m = find(ix->prefixes, ix->nprefixes, path, i);
        if (m >= 0) {
            *rest_at = i;
            return m;
        }
    }
    return -1;
}
