/*
 * fuzz_http1_response.c — libFuzzer target for core/http1_response_parser.c.
 *
 * Input: 3 control bytes, then the response bytes.
 *   byte 0-1  where to split the response in two (little-endian, modulo its length + 1)
 *   byte 2    bit 0: callbacks stop the parser after every event in the split run
 *             bit 1: a small head limit (128 bytes) instead of the default
 *             bit 2: the peer closes after the last byte (ig_http1_response_eof)
 *
 * The response is parsed whole, split in two, and (when short) one byte at a
 * time with stops after every callback, feeding unconsumed bytes again the way
 * the upstream connection does. All runs must agree on outcome, status,
 * headers, body, keep-alive and trailing bytes, and every span handed out must
 * lie inside the buffer being fed. Violations abort().
 * fuzz_replay.c provides a main() to run inputs without libFuzzer.
 */
#include "upstream/http1_response_parser.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

#define FUZZ_CHECK(cond)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                              \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef struct {
    const char *buf; /* the buffer of the feed call in progress */
    size_t len;
    int stop_every;
    int heads, status;
    uint64_t header_hash, body_hash, body_len;
    int rc, keep_alive, head_done;
    size_t leftover;
} run_t;

static void check_span(const run_t *r, const char *p, size_t n)
{
    FUZZ_CHECK(p >= r->buf && n <= r->len && (size_t)(p - r->buf) <= r->len - n);
}

static int on_head(void *data, int status, const ig_http1_header_t *h, size_t n)
{
    run_t *r = data;
    FUZZ_CHECK(r->heads == 0 && r->body_len == 0);
    FUZZ_CHECK(status >= 200 && status <= 599);
    FUZZ_CHECK(n <= IG_HTTP1_MAX_HEADERS);
    r->heads++;
    r->status = status;
    r->header_hash = IG_FNV64_OFFSET;
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(h[i].name_len > 0);
        check_span(r, h[i].name, h[i].name_len);
        check_span(r, h[i].value, h[i].value_len);
        for (size_t k = 0; k < h[i].value_len; k++)
            FUZZ_CHECK(h[i].value[k] != '\r' && h[i].value[k] != '\n' && h[i].value[k] != '\0');
        r->header_hash = ig_fnv1a64(r->header_hash, h[i].name, h[i].name_len);
        r->header_hash = ig_fnv1a64(r->header_hash, ":", 1);
        r->header_hash = ig_fnv1a64(r->header_hash, h[i].value, h[i].value_len);
        r->header_hash = ig_fnv1a64(r->header_hash, "\n", 1);
    }
    return r->stop_every;
}

static int on_body(void *data, const char *p, size_t len)
{
    run_t *r = data;
    FUZZ_CHECK(r->heads == 1);
    FUZZ_CHECK(len > 0);
    check_span(r, p, len);
    r->body_hash = ig_fnv1a64(r->body_hash, p, len);
    r->body_len += len;
    return r->stop_every;
}

static const ig_http1_response_callbacks_t callbacks = {on_head, on_body};

/* Feeds data in pieces ending at cuts[], re-presenting unconsumed bytes; exact-size copies catch overreads. */
static void run(run_t *r, const char *data, size_t size, const size_t *cuts, size_t ncuts, int stop_every,
                uint32_t max_head, int eof)
{
    ig_http1_response_parser_t p;
    char *pending = malloc(size ? size : 1);
    size_t plen = 0, fed = 0, consumed = 0;
    int rc = IG_HTTP1_NEED_MORE;

    FUZZ_CHECK(pending);
    memset(r, 0, sizeof(*r));
    r->stop_every = stop_every;
    r->body_hash = IG_FNV64_OFFSET;
    ig_http1_response_init(&p, &callbacks, r, max_head);
    for (size_t k = 0; k <= ncuts && rc != IG_HTTP1_DONE && rc >= 0; k++) {
        size_t end = k < ncuts ? cuts[k] : size;
        memcpy(pending + plen, data + fed, end - fed);
        plen += end - fed;
        fed = end;
        for (int stops = 0;; stops++) {
            char *exact = malloc(plen ? plen : 1);
            size_t used = 0;
            FUZZ_CHECK(exact);
            memcpy(exact, pending, plen);
            r->buf = exact;
            r->len = plen;
            rc = ig_http1_response_feed(&p, exact, plen, &used);
            free(exact);
            FUZZ_CHECK(used <= plen);
            memmove(pending, pending + used, plen - used);
            plen -= used;
            consumed += used;
            if (rc != IG_HTTP1_STOPPED)
                break;
            FUZZ_CHECK(stop_every);
            FUZZ_CHECK(stops <= (int)size + 2); /* every stop follows progress */
        }
        FUZZ_CHECK(rc == IG_HTTP1_NEED_MORE || rc == IG_HTTP1_DONE || rc < 0);
        /* needing more with unconsumed bytes only happens inside an incomplete head */
        if (rc == IG_HTTP1_NEED_MORE && plen > 0)
            FUZZ_CHECK(!ig_http1_response_head_done(&p));
    }
    if (rc == IG_HTTP1_NEED_MORE && eof)
        rc = ig_http1_response_eof(&p);
    r->rc = rc;
    r->keep_alive = ig_http1_response_keep_alive(&p);
    r->head_done = ig_http1_response_head_done(&p);
    r->leftover = rc == IG_HTTP1_DONE ? size - consumed : 0;
    FUZZ_CHECK(rc != IG_HTTP1_DONE || ig_http1_response_done(&p));
    FUZZ_CHECK(!r->keep_alive || rc == IG_HTTP1_DONE);
    FUZZ_CHECK(r->heads == (r->head_done ? 1 : 0) || rc < 0);
    free(pending);
}

static void same(const run_t *a, const run_t *b)
{
    FUZZ_CHECK(a->rc == b->rc);
    FUZZ_CHECK(a->heads == b->heads);
    FUZZ_CHECK(a->status == b->status);
    FUZZ_CHECK(a->header_hash == b->header_hash);
    FUZZ_CHECK(a->body_len == b->body_len);
    FUZZ_CHECK(a->body_hash == b->body_hash);
    FUZZ_CHECK(a->keep_alive == b->keep_alive);
    FUZZ_CHECK(a->head_done == b->head_done);
    FUZZ_CHECK(a->leftover == b->leftover);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    size_t split = (size_t)(data[0] | (data[1] << 8));
    int flags = data[2];
    const char *msg = (const char *)data + 3;
    size_t n = size - 3;
    uint32_t max_head = (flags & 2) ? 128 : 0;
    int eof = (flags & 4) != 0;
    run_t whole, parts;

    split %= n + 1;
    run(&whole, msg, n, NULL, 0, 0, max_head, eof);
    run(&parts, msg, n, &split, 1, flags & 1, max_head, eof);
    same(&whole, &parts);
    if (n <= 2048) {
        size_t *cuts = malloc((n ? n : 1) * sizeof(size_t));
        FUZZ_CHECK(cuts);
        for (size_t i = 0; i < n; i++)
            cuts[i] = i + 1;
        run(&parts, msg, n, cuts, n ? n - 1 : 0, 1, max_head, eof);
        same(&whole, &parts);
        free(cuts);
    }
    return 0;
}
