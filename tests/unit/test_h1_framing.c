/* test_h1_framing.c — RFC 9112 §6 framing of request heads (core/http/h1_framing.c). */
#include <string.h>
#include "http/h1_framing.h"
#include "ig_test.h"

/* headers from "Name: value\n..." (a line starting with a space is an obs-fold: no name) */
static size_t heads(const char *text, struct phr_header *h, size_t cap)
{
    size_t n = 0;
    for (const char *p = text; *p && n < cap;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (*p == ' ' || colon == NULL) {
            h[n++] = (struct phr_header){NULL, 0, p, len};
        } else {
            const char *v = colon + 1;
            while (v < p + len && *v == ' ')
                v++;
            h[n++] = (struct phr_header){p, (size_t)(colon - p), v, (size_t)(p + len - v)};
        }
        p += len + (eol ? 1 : 0);
    }
    return n;
}

static int check(const char *text, int minor, ig_h1_framing_t *f)
{
    struct phr_header h[32];
    return ig_h1_framing_check(h, heads(text, h, 32), minor, f);
}

int main(void)
{
    ig_h1_framing_t f;
    CHECK(check("Host: x", 1, &f) == 0 && f.body == IG_H1_BODY_NONE && f.keep_alive);
    CHECK(check("Host: x\nConnection: close", 1, &f) == 0 && !f.keep_alive);
    CHECK(check("Host: x", 0, &f) == 0 && !f.keep_alive);
    CHECK(check("Connection: Keep-Alive", 0, &f) == 0 && f.keep_alive);
    CHECK(check("Content-Length: 12", 1, &f) == 0 && f.body == IG_H1_BODY_LENGTH && f.length == 12);
    CHECK(check("Content-Length: 0", 1, &f) == 0 && f.body == IG_H1_BODY_NONE);
    CHECK(check("content-length:  7  \nContent-Length: 7", 1, &f) == 0 && f.length == 7); /* the same twice */
    CHECK(check("Transfer-Encoding: Chunked\nExpect: 100-continue", 1, &f) == 0 && f.body == IG_H1_BODY_CHUNKED &&
          f.expect_continue);
    CHECK(check("Upgrade: h2c\nContent-Length: 1", 1, &f) == 0 && f.has_upgrade);
    CHECK(check("Content-Length: 18446744073709551615", 1, &f) == -1); /* 20 digits */
    CHECK(check("Content-Length: 9999999999999999999", 1, &f) == 0 && f.length == 9999999999999999999ull);

    /* refused, each with its reason */
    CHECK(check("Content-Length: 5\nTransfer-Encoding: chunked", 1, &f) == -1 &&
          strstr(f.error, "Content-Length and Transfer-Encoding") != NULL);
    CHECK(check("Transfer-Encoding: chunked\nContent-Length: 5", 1, &f) == -1);
    CHECK(check("Content-Length: 5\nContent-Length: 6", 1, &f) == -1 && strstr(f.error, "two different") != NULL);
    CHECK(check("Content-Length: 5, 5", 1, &f) == -1);
    CHECK(check("Content-Length: +5", 1, &f) == -1);
    CHECK(check("Content-Length: 0x10", 1, &f) == -1);
    CHECK(check("Content-Length:", 1, &f) == -1);
    CHECK(check("Transfer-Encoding: gzip, chunked", 1, &f) == -1);
    CHECK(check("Transfer-Encoding: chunked, chunked", 1, &f) == -1);
    CHECK(check("Transfer-Encoding: chunked\nTransfer-Encoding: chunked", 1, &f) == -1);
    CHECK(check("Transfer-Encoding: identity", 1, &f) == -1);
    CHECK(check("Transfer-Encoding: chunked", 0, &f) == -1 && strstr(f.error, "HTTP/1.0") != NULL);
    CHECK(check("Transfer-Encoding : chunked", 1, &f) == -1 && strstr(f.error, "token") != NULL);
    CHECK(check("X-A: 1\n folded", 1, &f) == -1 && strstr(f.error, "obs-fold") != NULL);
    CHECK(f.body == IG_H1_BODY_NONE); /* nothing half-filled */
    return ig_test_summary();
}
