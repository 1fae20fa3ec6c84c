/*
 * Fuzz target: API keys read from request headers and key hashes read from the configuration
 * (plugins/apikey/ak_key.c: ak_key_from_headers, ak_hash_parse/format). Input: the Authorization
 * header's value up to the first '\n', then the X-API-Key header's value. Properties checked:
 *  - the answer is 1 (a key), 0 (neither header has one: both blank) or -1 with a reason;
 *  - a key is a non-empty span of one header's bytes, at most AK_KEY_MAX long, without spaces or
 *    control characters;
 *  - "Authorization: Bearer <token>" with a well-formed token gives that token, whatever
 *    X-API-Key holds;
 *  - spaces and tabs around either value, and the case of "Bearer", change nothing;
 *  - the input as a configured hash: a "sha256:<hex>" it accepts is written back as the same text
 *    in lowercase, and a hash written is read back as the same bytes.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "ak_key.h"

static int inside(ig_str_t k, const char *p, size_t n)
{
    return k.ptr >= p && k.ptr + k.len <= p + n;
}

static size_t trimmed_len(const char *p, size_t n)
{
    size_t a = 0;
    while (a < n && (p[a] == ' ' || p[a] == '\t'))
        a++;
    while (n > a && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return n - a;
}

static int read_key(const char *auth, size_t alen, const char *xkey, size_t xlen, ig_str_t *key)
{
    const char *why = NULL;
    *key = (ig_str_t){NULL, 0};
    int r = ak_key_from_headers((ig_str_t){auth, alen}, (ig_str_t){xkey, xlen}, key, &why);
    if (r == -1) {
        if (why == NULL)
            abort();
        return r;
    }
    if (r == 0) {
        if (trimmed_len(auth, alen) != 0 || trimmed_len(xkey, xlen) != 0)
            abort();
        return r;
    }
    if (r != 1 || key->len == 0 || key->len > AK_KEY_MAX || !(inside(*key, auth, alen) || inside(*key, xkey, xlen)))
        abort();
    for (size_t i = 0; i < key->len; i++)
        if ((unsigned char)key->ptr[i] <= ' ' || (unsigned char)key->ptr[i] == 0x7f)
            abort();
    return r;
}

static int same(int r1, ig_str_t k1, int r2, ig_str_t k2)
{
    return r1 == r2 && (r1 != 1 || (k1.len == k2.len && memcmp(k1.ptr, k2.ptr, k1.len) == 0));
}

static void check_hash(const char *s, size_t n)
{
    uint8_t h[AK_HASH_LEN], h2[AK_HASH_LEN];
    const char *why = NULL;
    char text[80];
    if (ak_hash_parse(s, n, h, &why) != 0) {
        if (why == NULL)
            abort();
        return;
    }
    ak_hash_format(h, text);
    if (n != 71)
        abort();
    for (size_t i = 0; i < n; i++)
        if (text[i] != (char)tolower((unsigned char)s[i]))
            abort();
    if (ak_hash_parse(text, 71, h2, &why) != 0 || memcmp(h, h2, sizeof(h)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* exact-size copies: an overread is caught */
    const uint8_t *nl = memchr(data, '\n', size);
    size_t alen = nl ? (size_t)(nl - data) : size;
    size_t xlen = nl ? size - alen - 1 : 0;
    char *auth = malloc(alen + 1), *xkey = malloc(xlen + 1);
    memcpy(auth, data, alen);
    memcpy(xkey, nl ? (const char *)nl + 1 : "", xlen);

    ig_str_t key;
    int r = read_key(auth, alen, xkey, xlen, &key);

    /* a well-formed Bearer token wins */
    size_t a0 = 0;
    while (a0 < alen && (auth[a0] == ' ' || auth[a0] == '\t'))
        a0++;
    if (alen - a0 > 7 && strncasecmp(auth + a0, "bearer", 6) == 0 && (auth[a0 + 6] == ' ' || auth[a0 + 6] == '\t')) {
        size_t t0 = a0 + 7, t1 = alen;
        while (t0 < t1 && (auth[t0] == ' ' || auth[t0] == '\t'))
            t0++;
        while (t1 > t0 && (auth[t1 - 1] == ' ' || auth[t1 - 1] == '\t'))
            t1--;
        int good = t1 > t0 && t1 - t0 <= AK_KEY_MAX;
        for (size_t i = t0; good && i < t1; i++)
            good = (unsigned char)auth[i] > ' ' && (unsigned char)auth[i] != 0x7f;
        if (good && (r != 1 || key.ptr != auth + t0 || key.len != t1 - t0))
            abort();
        /* the scheme's case */
        char *flipped = malloc(alen + 1);
        memcpy(flipped, auth, alen);
        for (size_t i = a0; i < a0 + 6; i++)
            flipped[i] = (char)(islower((unsigned char)flipped[i]) ? toupper((unsigned char)flipped[i])
                                                                    : tolower((unsigned char)flipped[i]));
        ig_str_t k2;
        int r2 = read_key(flipped, alen, xkey, xlen, &k2);
        if (!same(r, key, r2, k2))
            abort();
        free(flipped);
    }

    /* padding */
    char *pa = malloc(alen + 4), *px = malloc(xlen + 4);
    memcpy(pa, " \t", 2), memcpy(pa + 2, auth, alen), memcpy(pa + 2 + alen, "\t ", 2);
    memcpy(px, "\t ", 2), memcpy(px + 2, xkey, xlen), memcpy(px + 2 + xlen, " \t", 2);
    ig_str_t k3;
    int r3 = read_key(pa, alen + 4, px, xlen + 4, &k3);
    if (!same(r, key, r3, k3))
        abort();
    free(pa);
    free(px);

    check_hash((const char *)data, size);
    free(auth);
    free(xkey);
    return 0;
}
