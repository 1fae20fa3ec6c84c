/*
 * h1_framing.h — an HTTP/1.1 request head's message framing, judged as RFC 9112 §6 asks, before any
 * body byte is read: Content-Length and Transfer-Encoding together, conflicting or malformed lengths,
 * a transfer coding other than a single final chunked, and header lines no front proxy reads the same
 * way (whitespace before the colon, obs-fold) are refused with 400 and the connection closed, since
 * the body's end, and so the next request's start, is uncertain. Pure: no h2o, no state.
 */
#ifndef IG_H1_FRAMING_H
#define IG_H1_FRAMING_H

#include <stddef.h>
#include <stdint.h>

/* picohttpparser's header (libh2o exports the parser, the header is not installed) */
struct phr_header {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
};

typedef enum {
    IG_H1_BODY_NONE = 0,    /* no body */
    IG_H1_BODY_LENGTH,      /* Content-Length: length bytes */
    IG_H1_BODY_CHUNKED,     /* Transfer-Encoding: chunked */
} ig_h1_body_kind_t;

typedef struct {
    ig_h1_body_kind_t body;
    uint64_t length;        /* IG_H1_BODY_LENGTH */
    unsigned expect_continue : 1; /* Expect: 100-continue */
    unsigned keep_alive : 1;      /* what the client asked for (HTTP/1.1 unless "close"; 1.0 with "keep-alive") */
    unsigned has_upgrade : 1;     /* an Upgrade header */
    const char *error;      /* NULL: acceptable; else why the head is refused (400, close) */
} ig_h1_framing_t;

/* Judges headers[0..n) of an HTTP/1.minor_version request. 0, or -1 with out->error set. */
int ig_h1_framing_check(const struct phr_header *headers, size_t n, int minor_version, ig_h1_framing_t *out);

#endif
