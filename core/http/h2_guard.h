/*
 * h2_guard.h — infergate's own HTTP/2 bounds, whatever h2o's version (conn_guard.c calls them from
 * its hooks into libh2o): a per-connection budget of stream resets (rapid reset, CVE-2023-44487)
 * and a limit on a request's decoded header list (HPACK amplification).
 */
#ifndef IG_HTTP_H2_GUARD_H
#define IG_HTTP_H2_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include "http/hpack_scan.h"

/* Settings: any thread reads them, the worker adopting a generation writes them (atomics). */
void ig_h2_guard_configure(unsigned reset_budget, size_t max_header_list_bytes);
unsigned ig_h2_guard_reset_budget(void);
size_t ig_h2_guard_max_header_list(void);

/*
 * One connection's reset budget: a client may reset `budget` streams it opened, and one more for
 * each stream it let finish; the next reset ends the connection. 0 is off.
 */
typedef struct {
    uint32_t budget;
    uint32_t tokens;
    uint64_t resets;    /* resets of open streams */
    uint64_t completed; /* streams answered to their end */
} ig_h2_reset_budget_t;

void ig_h2_reset_budget_init(ig_h2_reset_budget_t *b, unsigned budget);
/* The client reset one of its open streams: 1 when that is over budget and the connection must end. */
int ig_h2_reset_budget_charge(ig_h2_reset_budget_t *b);
/* A stream was answered to its end: one more reset may follow. */
void ig_h2_reset_budget_refund(ig_h2_reset_budget_t *b);

/* 0 when a header block may be decoded, else -1 with why in *err_desc (a static string). */
int ig_h2_guard_check_headers(const uint8_t *src, size_t len, const ig_hpack_table_view_t *table,
                              const char **err_desc);

/*
 * Request bodies (h2o 2.2 would buffer a stream's DATA up to twice maxBodySize before infergate sees
 * the request, and count it nowhere): max_body is server.maxBodySize, budget
 * server.clientLimits.bodyBudgetBytes (shared with HTTP/1, body_budget.h), auth_on whether an auth
 * plugin is configured (a keyless API call is then refused before a large body).
 */
void ig_h2_guard_configure_bodies(size_t max_body, size_t budget, int auth_on);

typedef enum {
    IG_H2_BODY_OK = 0,
    IG_H2_BODY_KEYLESS,   /* an API POST without a key, its body past IG_H2_KEYLESS_BODY_MAX: CANCEL */
    IG_H2_BODY_BUSY,      /* the budget is spent: RST_STREAM REFUSED_STREAM (clients retry) */
} ig_h2_body_verdict_t;

/* A keyless API call may send this much, so that it is still answered 401 (as HTTP/1 does). */
#define IG_H2_KEYLESS_BODY_MAX (64 * 1024)

/* One stream's body as conn_guard.c counts it. */
typedef struct {
    size_t content_length; /* SIZE_MAX: none given */
    size_t received;       /* DATA payload bytes so far (padding included) */
    size_t taken;          /* of the budget */
    unsigned keyless : 1;
    unsigned over : 1;     /* passed maxBodySize (counted once in the statistics) */
} ig_h2_body_t;

/* At the head: OK, and sets keyless. A body over maxBodySize is not refused by the guard: h2o
 * 2.2 can answer a stream only once its body is complete, and a client that sent too much gets
 * the gateway's OpenAI-shaped 413 (up to h2o's own limit of twice maxBodySize, past which h2o
 * resets the stream), its bytes counted in the body budget meanwhile. */
ig_h2_body_verdict_t ig_h2_body_head(ig_h2_body_t *b, size_t content_length, int api_post, int has_key);
/* n more bytes of DATA: OK (counted, and taken from the budget) or why the stream is refused. */
ig_h2_body_verdict_t ig_h2_body_data(ig_h2_body_t *b, size_t n);
/* The stream ended: its bytes go back to the budget. */
void ig_h2_body_done(ig_h2_body_t *b);

/* What the guard did since start (any thread): /metrics and the bench read them. */
typedef struct {
    uint64_t resets_charged;
    uint64_t connections_ended;  /* GOAWAY ENHANCE_YOUR_CALM for resets */
    uint64_t header_blocks_refused;
    uint64_t bodies_too_large;   /* streams refused: body over maxBodySize */
    uint64_t bodies_keyless;     /* streams refused: keyless API call with a large body */
    uint64_t bodies_busy;        /* streams refused: bodyBudgetBytes spent */
} ig_h2_guard_stats_t;
void ig_h2_guard_stats(ig_h2_guard_stats_t *out);
void ig_h2_guard_count_ended(void);

#endif
