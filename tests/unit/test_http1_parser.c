/*
 * test_http1_parser.c — the HTTP/1.1 response parser against a table of
 * responses, each fed whole, split in two at every byte, one byte at a time,
 * and with the callbacks stopping the parser after every event. Every way of
 * feeding must give the same status, headers, body, keep-alive and error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream/http1_response_parser.h"
#include "ig_test.h"

typedef struct {
    const char *name;
    const char *input;
    int eof;               /* the peer closes after the input */
    int rc;                /* expected outcome: IG_HTTP1_DONE, IG_HTTP1_NEED_MORE or an error */
    int status;            /* of the final head, 0 if none expected */
    const char *headers;   /* "name=value\n" per header, as reported */
    const char *body;
    int keep_alive;
    size_t leftover;       /* bytes after the response (DONE only) */
    uint32_t max_head;     /* 0: default */
} case_t;

typedef struct {
    char headers[8192];
    size_t hlen;
    char *body;
    size_t blen, bcap;
    int status;
    int heads;
    int stop_every; /* callbacks return 1 */
    int rc;
    int keep_alive;
    size_t leftover;
} result_t;

static int on_head(void *data, int status, const ig_http1_header_t *h, size_t n)
{
    result_t *r = data;
    r->status = status;
    r->heads++;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(r->headers + r->hlen, sizeof(r->headers) - r->hlen, "%.*s=%.*s\n", (int)h[i].name_len,
                         h[i].name, (int)h[i].value_len, h[i].value);
        if (w > 0 && r->hlen + (size_t)w < sizeof(r->headers))
            r->hlen += (size_t)w;
    }
    return r->stop_every;
}

static int on_body(void *data, const char *p, size_t len)
{
    result_t *r = data;
    if (len == 0)
        r->rc = 99; /* never emit empty spans */
    if (r->blen + len > r->bcap) {
        r->bcap = (r->blen + len) * 2;
        r->body = realloc(r->body, r->bcap);
    }
    memcpy(r->body + r->blen, p, len);
    r->blen += len;
    return r->stop_every;
}

static const ig_http1_response_callbacks_t callbacks = {on_head, on_body};

/*
 * Feeds input in pieces ending at the given cut offsets, the way the upstream
 * connection does: unconsumed bytes stay pending and are presented again with
 * the next piece. Each feed gets an exact-size copy so ASan sees overreads.
 */
static void run(const case_t *c, const char *input, size_t len, const size_t *cuts, size_t ncuts, int stop_every,
                result_t *r)
{
    ig_http1_response_parser_t p;
    char *pending = malloc(len + 1);
    size_t plen = 0, fed = 0, consumed_total = 0;
    int rc = IG_HTTP1_NEED_MORE;

    memset(r, 0, sizeof(*r));
    r->stop_every = stop_every;
    ig_http1_response_init(&p, &callbacks, r, c->max_head);
    for (size_t k = 0; k <= ncuts && rc != IG_HTTP1_DONE && rc >= 0; k++) {
        size_t end = k < ncuts ? cuts[k] : len;
        memcpy(pending + plen, input + fed, end - fed);
        plen += end - fed;
        fed = end;
        for (;;) {
            char *exact = malloc(plen ? plen : 1);
            size_t used = 0;
            memcpy(exact, pending, plen);
            rc = ig_http1_response_feed(&p, exact, plen, &used);
            free(exact);
            if (used > plen) {
                rc = 98;
                break;
            }
            memmove(pending, pending + used, plen - used);
            plen -= used;
            consumed_total += used;
            if (rc != IG_HTTP1_STOPPED)
                break;
        }
    }
    if (rc == IG_HTTP1_NEED_MORE && c->eof)
        rc = ig_http1_response_eof(&p);
    if (r->rc == 0)
        r->rc = rc;
    r->keep_alive = ig_http1_response_keep_alive(&p);
    r->leftover = rc == IG_HTTP1_DONE ? len - consumed_total : 0;
    free(pending);
}

static int same(const case_t *c, const result_t *r, const char *mode, size_t at)
{
    size_t want_blen = strlen(c->body);
    int ok = 1;
    ok &= CHECKF(r->rc == c->rc, "%s [%s @%zu]: rc %d (%s), want %d (%s)", c->name, mode, at, r->rc,
                 ig_http1_strerror(r->rc), c->rc, ig_http1_strerror(c->rc));
    ok &= CHECKF(r->status == c->status, "%s [%s @%zu]: status %d, want %d", c->name, mode, at, r->status, c->status);
    ok &= CHECKF(r->heads == (c->status ? 1 : 0), "%s [%s @%zu]: on_head called %d times", c->name, mode, at,
                 r->heads);
    ok &= CHECKF(strlen(c->headers) == r->hlen && memcmp(c->headers, r->headers, r->hlen) == 0,
                 "%s [%s @%zu]: headers\n%.*s\nwant\n%s", c->name, mode, at, (int)r->hlen, r->headers, c->headers);
    ok &= CHECKF(r->blen == want_blen && (want_blen == 0 || memcmp(r->body, c->body, want_blen) == 0),
                 "%s [%s @%zu]: body '%.*s', want '%s'", c->name, mode, at, (int)r->blen, r->body ? r->body : "",
                 c->body);
    ok &= CHECKF(r->keep_alive == c->keep_alive, "%s [%s @%zu]: keep_alive %d, want %d", c->name, mode, at,
                 r->keep_alive, c->keep_alive);
    ok &= CHECKF(r->leftover == c->leftover, "%s [%s @%zu]: leftover %zu, want %zu", c->name, mode, at, r->leftover,
                 c->leftover);
    return ok;
}

static void run_case(const case_t *c)
{
    const char *input = c->input;
    size_t len = strlen(input);
    result_t r;
    size_t *cuts = malloc((len + 1) * sizeof(size_t));

    run(c, input, len, NULL, 0, 0, &r);
    same(c, &r, "whole", 0);
    free(r.body);
    run(c, input, len, NULL, 0, 1, &r);
    same(c, &r, "whole, stopping", 0);
    free(r.body);

    /* split in two at every byte; stop reporting a case after its first failing split */
    for (size_t i = 1; i < len; i++) {
        cuts[0] = i;
        run(c, input, len, cuts, 1, (int)(i & 1), &r);
        int ok = same(c, &r, "split", i);
        free(r.body);
        if (!ok)
            break;
    }
    for (size_t i = 0; i < len; i++)
        cuts[i] = i + 1;
    run(c, input, len, cuts, len ? len - 1 : 0, 0, &r);
    same(c, &r, "bytewise", 0);
    free(r.body);
    run(c, input, len, cuts, len ? len - 1 : 0, 1, &r);
    same(c, &r, "bytewise, stopping", 0);
    free(r.body);
    free(cuts);
}

#define OK200 "HTTP/1.1 200 OK\r\n"

static const case_t cases[] = {
    {"content-length", OK200 "Content-Type: application/json\r\nContent-Length: 5\r\n\r\nhello", 0, IG_HTTP1_DONE,
     200, "Content-Type=application/json\nContent-Length=5\n", "hello", 1, 0, 0},
    {"content-length zero", OK200 "Content-Length: 0\r\n\r\n", 0, IG_HTTP1_DONE, 200, "Content-Length=0\n", "", 1, 0,
     0},
    {"content-length, then extra bytes", OK200 "Content-Length: 2\r\n\r\nokEXTRA", 0, IG_HTTP1_DONE, 200,
     "Content-Length=2\n", "ok", 1, 5, 0},
    {"content-length truncated by close", OK200 "Content-Length: 10\r\n\r\nabc", 1, IG_HTTP1_E_TRUNCATED, 200,
     "Content-Length=10\n", "abc", 0, 0, 0},
    {"content-length incomplete", OK200 "Content-Length: 10\r\n\r\nabc", 0, IG_HTTP1_NEED_MORE, 200,
     "Content-Length=10\n", "abc", 0, 0, 0},
    {"content-length with leading zeros", OK200 "Content-Length: 0003\r\n\r\nabc", 0, IG_HTTP1_DONE, 200,
     "Content-Length=0003\n", "abc", 1, 0, 0},
    {"chunked with extensions and trailers",
     OK200 "Transfer-Encoding: chunked\r\n\r\n5;foo=bar\r\nhello\r\n6 ; a=\"x;y\"\r\n world\r\n0\r\nX-Trailer: 1\r\n"
           "Y:z\r\n\r\n",
     0, IG_HTTP1_DONE, 200, "Transfer-Encoding=chunked\n", "hello world", 1, 0, 0},
    {"chunked, upper-case hex and leading zeros",
     OK200 "transfer-encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0001\r\n!\r\n000\r\n\r\n", 0, IG_HTTP1_DONE, 200,
     "transfer-encoding=Chunked\n", "0123456789!", 1, 0, 0},
    {"chunked, then extra bytes", OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nXY", 0, IG_HTTP1_DONE,
     200, "Transfer-Encoding=chunked\n", "ok", 1, 2, 0},
    {"chunked truncated by close", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhel", 1, IG_HTTP1_E_TRUNCATED, 200,
     "Transfer-Encoding=chunked\n", "hel", 0, 0, 0},
    {"chunked missing final CRLF", OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n", 1,
     IG_HTTP1_E_TRUNCATED, 200, "Transfer-Encoding=chunked\n", "ok", 0, 0, 0},
    {"chunked with Connection: close", OK200 "Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0,
     IG_HTTP1_DONE, 200, "Connection=close\nTransfer-Encoding=chunked\n", "", 0, 0, 0},
    {"close-delimited", OK200 "Content-Type: text/plain\r\n\r\nabcdef", 1, IG_HTTP1_DONE, 200,
     "Content-Type=text/plain\n", "abcdef", 0, 0, 0},
    {"close-delimited, empty", OK200 "\r\n", 1, IG_HTTP1_DONE, 200, "", "", 0, 0, 0},
    {"interim responses skipped",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" OK200 "Content-Length: 2\r\n\r\nok",
     0, IG_HTTP1_DONE, 200, "Content-Length=2\n", "ok", 1, 0, 0},
    {"204 ignores Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", 0, IG_HTTP1_DONE, 204,
     "Content-Length=10\n", "", 1, 0, 0},
    {"304 has no body", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\nZ", 0, IG_HTTP1_DONE, 304, "ETag=\"x\"\n", "",
     1, 1, 0},
    {"HTTP/1.0 is not kept alive", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, IG_HTTP1_DONE, 200,
     "Content-Length=2\n", "ok", 0, 0, 0},
    {"Connection: close in a list", OK200 "Connection: keep-alive, Close\r\nContent-Length: 0\r\n\r\n", 0,
     IG_HTTP1_DONE, 200, "Connection=keep-alive, Close\nContent-Length=0\n", "", 0, 0, 0},
    {"no reason phrase", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, IG_HTTP1_DONE, 200, "Content-Length=0\n", "",
     1, 0, 0},
    {"empty reason phrase", "HTTP/1.1 503 \r\nContent-Length: 0\r\n\r\n", 0, IG_HTTP1_DONE, 503,
     "Content-Length=0\n", "", 1, 0, 0},
    {"value whitespace trimmed", OK200 "X:  a b \t\r\nEmpty:\r\nObs: caf\xc3\xa9\r\nContent-Length: 0\r\n\r\n", 0,
     IG_HTTP1_DONE, 200, "X=a b\nEmpty=\nObs=caf\xc3\xa9\nContent-Length=0\n", "", 1, 0, 0},
    {"EOF before anything", "", 1, IG_HTTP1_E_TRUNCATED, 0, "", "", 0, 0, 0},
    {"EOF inside the head", OK200 "Content-Len", 1, IG_HTTP1_E_TRUNCATED, 0, "", "", 0, 0, 0},
    {"EOF after an interim response", "HTTP/1.1 100 Continue\r\n\r\n", 1, IG_HTTP1_E_TRUNCATED, 0, "", "", 0, 0, 0},

    /* malformed */
    {"HTTP/2 status line", "HTTP/2 200 OK\r\n\r\n", 0, IG_HTTP1_E_VERSION, 0, "", "", 0, 0, 0},
    {"not HTTP", "ICY 200 OK\r\n\r\n", 0, IG_HTTP1_E_VERSION, 0, "", "", 0, 0, 0},
    {"version without space", "HTTP/1.1200 OK\r\n\r\n", 0, IG_HTTP1_E_VERSION, 0, "", "", 0, 0, 0},
    {"two-digit status", "HTTP/1.1 20 OK\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0, "", "", 0, 0, 0},
    {"status 600", "HTTP/1.1 600 X\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0, "", "", 0, 0, 0},
    {"status 099", "HTTP/1.1 099 X\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0, "", "", 0, 0, 0},
    {"status followed by junk", "HTTP/1.1 2000 OK\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0, "", "", 0, 0, 0},
    {"control character in reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0, "", "", 0, 0, 0},
    {"bare LF line endings", "HTTP/1.1 200 OK\nContent-Length: 0\n\n", 0, IG_HTTP1_E_LINE_ENDING, 0, "", "", 0, 0,
     0},
    {"bare CR in a header", OK200 "X: a\rb\r\n\r\n", 0, IG_HTTP1_E_LINE_ENDING, 0, "", "", 0, 0, 0},
    {"obs-fold", OK200 "X: a\r\n b\r\nContent-Length: 0\r\n\r\n", 0, IG_HTTP1_E_OBS_FOLD, 0, "", "", 0, 0, 0},
    {"space before colon", OK200 "X : a\r\n\r\n", 0, IG_HTTP1_E_HEADER, 0, "", "", 0, 0, 0},
    {"empty header name", OK200 ": a\r\n\r\n", 0, IG_HTTP1_E_HEADER, 0, "", "", 0, 0, 0},
    {"non-token header name", OK200 "X@Y: a\r\n\r\n", 0, IG_HTTP1_E_HEADER, 0, "", "", 0, 0, 0},
    {"header without colon", OK200 "Junk\r\n\r\n", 0, IG_HTTP1_E_HEADER, 0, "", "", 0, 0, 0},
    {"DEL in a header value", OK200 "X: a\x7f\r\n\r\n", 0, IG_HTTP1_E_HEADER, 0, "", "", 0, 0, 0},
    {"duplicate Content-Length", OK200 "Content-Length: 2\r\nContent-Length: 2\r\n\r\nok", 0,
     IG_HTTP1_E_CONTENT_LENGTH, 0, "", "", 0, 0, 0},
    {"conflicting Content-Length", OK200 "Content-Length: 2\r\ncontent-length: 3\r\n\r\nok", 0,
     IG_HTTP1_E_CONTENT_LENGTH, 0, "", "", 0, 0, 0},
    {"Content-Length list", OK200 "Content-Length: 2, 2\r\n\r\nok", 0, IG_HTTP1_E_CONTENT_LENGTH, 0, "", "", 0, 0, 0},
    {"signed Content-Length", OK200 "Content-Length: +2\r\n\r\nok", 0, IG_HTTP1_E_CONTENT_LENGTH, 0, "", "", 0, 0, 0},
    {"empty Content-Length", OK200 "Content-Length:\r\n\r\nok", 0, IG_HTTP1_E_CONTENT_LENGTH, 0, "", "", 0, 0, 0},
    {"overflowing Content-Length", OK200 "Content-Length: 18446744073709551616\r\n\r\n", 0, IG_HTTP1_E_CONTENT_LENGTH,
     0, "", "", 0, 0, 0},
    {"Content-Length and Transfer-Encoding",
     OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, IG_HTTP1_E_CL_AND_TE, 0, "", "", 0, 0,
     0},
    {"Transfer-Encoding and Content-Length",
     OK200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 0, IG_HTTP1_E_CL_AND_TE, 0, "", "", 0, 0,
     0},
    {"gzip transfer coding", OK200 "Transfer-Encoding: gzip\r\n\r\n", 0, IG_HTTP1_E_TRANSFER_ENCODING, 0, "", "", 0,
     0, 0},
    {"stacked transfer codings", OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n", 0, IG_HTTP1_E_TRANSFER_ENCODING, 0,
     "", "", 0, 0, 0},
    {"repeated Transfer-Encoding", OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
     IG_HTTP1_E_TRANSFER_ENCODING, 0, "", "", 0, 0, 0},
    {"Transfer-Encoding in HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0,
     IG_HTTP1_E_TRANSFER_ENCODING, 0, "", "", 0, 0, 0},
    {"101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", 0, IG_HTTP1_E_STATUS, 0,
     "", "", 0, 0, 0},
    {"chunk size overflow", OK200 "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n", 0, IG_HTTP1_E_CHUNK, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"chunk size not hex", OK200 "Transfer-Encoding: chunked\r\n\r\ng\r\n", 0, IG_HTTP1_E_CHUNK, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"chunk size missing", OK200 "Transfer-Encoding: chunked\r\n\r\n;x\r\n", 0, IG_HTTP1_E_CHUNK, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"chunk data not followed by CRLF", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n", 0,
     IG_HTTP1_E_CHUNK, 200, "Transfer-Encoding=chunked\n", "hello", 0, 0, 0},
    {"chunk size line with bare LF", OK200 "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n", 0, IG_HTTP1_E_CHUNK, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"control character in chunk extension", OK200 "Transfer-Encoding: chunked\r\n\r\n5;a=\x01\r\nhello\r\n", 0,
     IG_HTTP1_E_CHUNK, 200, "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"junk after chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\n5 x\r\nhello\r\n", 0, IG_HTTP1_E_CHUNK, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"folded trailer", OK200 "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\r\n 2\r\n\r\n", 0, IG_HTTP1_E_OBS_FOLD, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"bad trailer name", OK200 "Transfer-Encoding: chunked\r\n\r\n0\r\nA B: 1\r\n\r\n", 0, IG_HTTP1_E_TRAILER, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"trailer with bare LF", OK200 "Transfer-Encoding: chunked\r\n\r\n0\r\nA: 1\n\r\n", 0, IG_HTTP1_E_TRAILER, 200,
     "Transfer-Encoding=chunked\n", "", 0, 0, 0},
    {"head over the size limit", OK200 "X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
     0, IG_HTTP1_E_HEAD_TOO_LARGE, 0, "", "", 0, 0, 64},
    {"head within the size limit", OK200 "Content-Length: 0\r\n\r\n", 0, IG_HTTP1_DONE, 200, "Content-Length=0\n", "",
     1, 0, 38},
    {"head one over the size limit", OK200 "Content-Length: 0\r\n\r\n", 0, IG_HTTP1_E_HEAD_TOO_LARGE, 0, "", "", 0, 0,
     37},
};

/* Builds a head with n "Hn: v" headers. */
static char *many_headers(int n, char *expect, size_t cap)
{
    char *s = malloc(64 + (size_t)n * 16);
    size_t len = 0, elen = 0;
    len += (size_t)sprintf(s + len, OK200);
    for (int i = 0; i < n; i++) {
        len += (size_t)sprintf(s + len, "H%d: v\r\n", i);
        elen += (size_t)snprintf(expect + elen, cap - elen, "H%d=v\n", i);
    }
    sprintf(s + len, "\r\n");
    return s;
}

/* A long chunk extension (bounded) and many 1xx responses (bounded). */
static void bounds_cases(void)
{
    static char expect[4096];
    char *in = many_headers(IG_HTTP1_MAX_HEADERS, expect, sizeof(expect));
    case_t c = {"64 headers", in, 1, IG_HTTP1_DONE, 200, expect, "", 0, 0, 0};
    run_case(&c);
    free(in);

    in = many_headers(IG_HTTP1_MAX_HEADERS + 1, expect, sizeof(expect));
    case_t c2 = {"65 headers", in, 0, IG_HTTP1_E_TOO_MANY_HEADERS, 0, "", "", 0, 0, 0};
    run_case(&c2);
    free(in);

    char *s = malloc(IG_HTTP1_MAX_CHUNK_LINE + 256);
    int n = sprintf(s, OK200 "Transfer-Encoding: chunked\r\n\r\n1;");
    memset(s + n, 'x', IG_HTTP1_MAX_CHUNK_LINE);
    strcpy(s + n + IG_HTTP1_MAX_CHUNK_LINE, "\r\na\r\n0\r\n\r\n");
    case_t c3 = {"chunk extension too long", s, 0, IG_HTTP1_E_CHUNK, 200, "Transfer-Encoding=chunked\n", "", 0, 0, 0};
    /* splitting 4 KB at every byte is slow and adds nothing over the short cases: whole and bytewise only */
    result_t r;
    run(&c3, s, strlen(s), NULL, 0, 0, &r);
    same(&c3, &r, "whole", 0);
    free(r.body);
    free(s);

    s = malloc(64 * 32);
    s[0] = 0;
    for (int i = 0; i <= IG_HTTP1_MAX_INTERIM; i++)
        strcat(s, "HTTP/1.1 100 Continue\r\n\r\n");
    case_t c4 = {"too many interim responses", s, 0, IG_HTTP1_E_TOO_MANY_INTERIM, 0, "", "", 0, 0, 0};
    run(&c4, s, strlen(s), NULL, 0, 0, &r);
    same(&c4, &r, "whole", 0);
    free(r.body);
    free(s);
}

/* The body is handed over in place: spans point into the fed buffer, in one piece when it is contiguous. */
static const char *zc_buf;
static int zc_in_place, zc_spans;
static int zc_on_body(void *data, const char *p, size_t len)
{
    zc_spans++;
    zc_in_place &= p >= zc_buf && p + len <= zc_buf + strlen(zc_buf);
    return 0;
}

static void zero_copy_case(void)
{
    static const ig_http1_response_callbacks_t cb = {NULL, zc_on_body};
    ig_http1_response_parser_t p;
    size_t used;
    zc_buf = OK200 "Transfer-Encoding: chunked\r\n\r\n400\r\n"
                   "0123456789012345678901234567890123456789012345678901234567890123456789";
    zc_in_place = 1;
    zc_spans = 0;
    ig_http1_response_init(&p, &cb, NULL, 0);
    int rc = ig_http1_response_feed(&p, zc_buf, strlen(zc_buf), &used);
    CHECK(rc == IG_HTTP1_NEED_MORE);
    CHECK(used == strlen(zc_buf));
    CHECK(zc_spans == 1);
    CHECK(zc_in_place);
    CHECK(ig_http1_response_head_done(&p));
    CHECK(!ig_http1_response_done(&p));
    /* an error is sticky */
    ig_http1_response_init(&p, &cb, NULL, 0);
    CHECK(ig_http1_response_feed(&p, "XTTP", 4, &used) == IG_HTTP1_E_VERSION);
    CHECK(ig_http1_response_feed(&p, OK200 "\r\n", 19, &used) == IG_HTTP1_E_VERSION && used == 0);
    CHECK(ig_http1_response_eof(&p) == IG_HTTP1_E_VERSION);
}

int main(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(&cases[i]);
    bounds_cases();
    zero_copy_case();
    return ig_test_summary();
}
