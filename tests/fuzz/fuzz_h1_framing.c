/*
 * fuzz_h1_framing.c — libFuzzer target for the HTTP/1.1 request framing rules (core/http/h1_framing.c)
 * that every client's request head passes before h2o reads a body. Input: header lines split at '\n'
 * ("name:value"; a line without ':' or starting with a space is an obs-fold, i.e. no name); the first
 * byte picks HTTP/1.0 or 1.1.
 *
 * Invariants checked: a verdict is deterministic; a refusal has a reason and frames no body; an
 * accepted head has only token names, at most one Content-Length value and then body LENGTH with that
 * value (or NONE for 0), Transfer-Encoding only as a single "chunked" without Content-Length and only
 * in HTTP/1.1, and then body CHUNKED.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/h1_framing.h"

#define MAX_HEADERS 64

static int is_name(const struct phr_header *h, const char *lit)
{
    return h->name != NULL && h->name_len == strlen(lit) && strncasecmp(h->name, lit, h->name_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    if (size == 0)
        return 0;
    int minor = bytes[0] & 1;
    const char *p = (const char *)bytes + 1, *end = (const char *)bytes + size;
    struct phr_header h[MAX_HEADERS];
    size_t n = 0;
    while (p < end && n < MAX_HEADERS) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = eol ? (size_t)(eol - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', len);
        if (colon == NULL || *p == ' ')
            h[n++] = (struct phr_header){NULL, 0, p, len};
        else
            h[n++] = (struct phr_header){p, (size_t)(colon - p), colon + 1, (size_t)(p + len - colon - 1)};
        p += len + (eol ? 1 : 0);
    }
    ig_h1_framing_t a, b;
    int ra = ig_h1_framing_check(h, n, minor, &a);
    int rb = ig_h1_framing_check(h, n, minor, &b);
    if (ra != rb || a.body != b.body || a.length != b.length || a.error != b.error)
        abort();
    if (ra != 0) {
        if (a.error == NULL || a.body != IG_H1_BODY_NONE)
            abort();
        return 0;
    }
    if (a.error != NULL)
        abort();
    size_t cl = 0, te = 0;
    for (size_t i = 0; i < n; i++) {
        if (h[i].name == NULL || h[i].name_len == 0)
            abort(); /* an obs-fold was accepted */
        for (size_t k = 0; k < h[i].name_len; k++) {
            unsigned char c = (unsigned char)h[i].name[k];
            if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL)
                abort(); /* not a token */
        }
        cl += is_name(&h[i], "content-length");
        te += is_name(&h[i], "transfer-encoding");
    }
    if (te > 1 || (te && (cl || minor == 0)))
        abort();
    if (te == 1 && a.body != IG_H1_BODY_CHUNKED)
        abort();
    if (te == 0 && cl == 0 && a.body != IG_H1_BODY_NONE)
        abort();
    if (cl) {
        for (size_t i = 0; i < n; i++) {
            if (!is_name(&h[i], "content-length"))
                continue;
            const char *v = h[i].value;
            size_t vl = h[i].value_len;
            while (vl && (*v == ' ' || *v == '\t'))
                v++, vl--;
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            uint64_t x = 0;
            for (size_t k = 0; k < vl; k++) {
                if (v[k] < '0' || v[k] > '9')
                    abort(); /* a length that is not a number was accepted */
                x = x * 10 + (uint64_t)(v[k] - '0');
            }
            if (vl == 0 || (x == 0 ? a.body != IG_H1_BODY_NONE : a.body != IG_H1_BODY_LENGTH || a.length != x))
                abort();
        }
    }
    return 0;
}
