/*
 * h2_guard.c — the policy of infergate's HTTP/2 bounds (h2_guard.h); conn_guard.c applies it.
 *
 * Rapid reset: h2o 2.2 lets a client open and reset streams without end, each reset freeing a
 * place under SETTINGS_MAX_CONCURRENT_STREAMS. A reset of an open stream costs a token, a stream
 * answered to its end gives one back (up to the budget): a client that cancels now and then never
 * runs out, one that resets faster than it lets streams finish does, whatever the timing.
 *
 * Header lists: the decoded size (RFC 7541 sizes, an upper bound from hpack_scan.c) of one block.
 *
 * Bodies: a stream's DATA is counted as it arrives against the budget HTTP/1 bodies share
 * (body_budget.h): over it, or a keyless API call past 64 KiB, the stream is refused before h2o
 * buffers more of it. Over maxBodySize it is counted, and answered 413 once complete.
 */
#include "http/h2_guard.h"
#include <stdatomic.h>
#include "http/body_budget.h"

static _Atomic unsigned reset_budget = 100;
static _Atomic size_t max_header_list = 32 * 1024;
static _Atomic uint64_t stat_resets, stat_ended, stat_refused;
static _Atomic size_t max_body = 16 << 20, body_budget = (size_t)256 << 20;
static _Atomic int auth_on;
static _Atomic uint64_t stat_too_large, stat_keyless, stat_busy;

void ig_h2_guard_configure(unsigned budget, size_t max_header_list_bytes)
{
    atomic_store_explicit(&reset_budget, budget, memory_order_relaxed);
    atomic_store_explicit(&max_header_list, max_header_list_bytes, memory_order_relaxed);
}

unsigned ig_h2_guard_reset_budget(void)
{
    return atomic_load_explicit(&reset_budget, memory_order_relaxed);
}

size_t ig_h2_guard_max_header_list(void)
{
    return atomic_load_explicit(&max_header_list, memory_order_relaxed);
}

void ig_h2_reset_budget_init(ig_h2_reset_budget_t *b, unsigned budget)
{
    *b = (ig_h2_reset_budget_t){.budget = budget, .tokens = budget};
}

int ig_h2_reset_budget_charge(ig_h2_reset_budget_t *b)
{
    b->resets++;
    if (b->budget == 0)
        return 0;
    atomic_fetch_add_explicit(&stat_resets, 1, memory_order_relaxed);
    if (b->tokens == 0)
        return 1;
    b->tokens--;
    return 0;
}

void ig_h2_reset_budget_refund(ig_h2_reset_budget_t *b)
{
    b->completed++;
    if (b->tokens < b->budget)
        b->tokens++;
}

int ig_h2_guard_check_headers(const uint8_t *src, size_t len, const ig_hpack_table_view_t *table,
                              const char **err_desc)
{
    size_t limit = ig_h2_guard_max_header_list();
    if (limit == 0)
        return 0;
    ig_hpack_scan_t scan;
    if (ig_hpack_scan(src, len, table, limit, &scan) != IG_HPACK_SCAN_OVER)
        return 0; /* within, or malformed: h2o's decoder answers a malformed block itself */
    atomic_fetch_add_explicit(&stat_refused, 1, memory_order_relaxed);
    *err_desc = "header list larger than server.clientLimits.maxHeaderListBytes";
    return -1;
}

void ig_h2_guard_count_ended(void)
{
    atomic_fetch_add_explicit(&stat_ended, 1, memory_order_relaxed);
}

void ig_h2_guard_stats(ig_h2_guard_stats_t *out)
{
    out->resets_charged = atomic_load_explicit(&stat_resets, memory_order_relaxed);
    out->connections_ended = atomic_load_explicit(&stat_ended, memory_order_relaxed);
    out->header_blocks_refused = atomic_load_explicit(&stat_refused, memory_order_relaxed);
    out->bodies_too_large = atomic_load_explicit(&stat_too_large, memory_order_relaxed);
    out->bodies_keyless = atomic_load_explicit(&stat_keyless, memory_order_relaxed);
    out->bodies_busy = atomic_load_explicit(&stat_busy, memory_order_relaxed);
}

void ig_h2_guard_configure_bodies(size_t max_body_bytes, size_t budget, int auth)
{
    atomic_store_explicit(&max_body, max_body_bytes, memory_order_relaxed);
    atomic_store_explicit(&body_budget, budget, memory_order_relaxed);
    atomic_store_explicit(&auth_on, auth, memory_order_relaxed);
}

static ig_h2_body_verdict_t refused(ig_h2_body_verdict_t v)
{
    atomic_fetch_add_explicit(v == IG_H2_BODY_KEYLESS ? &stat_keyless : &stat_busy,
                              1, memory_order_relaxed);
    return v;
}

ig_h2_body_verdict_t ig_h2_body_head(ig_h2_body_t *b, size_t content_length, int api_post, int has_key)
{
    *b = (ig_h2_body_t){.content_length = content_length};
    b->keyless = api_post && !has_key && atomic_load_explicit(&auth_on, memory_order_relaxed);
    return IG_H2_BODY_OK;
}

ig_h2_body_verdict_t ig_h2_body_data(ig_h2_body_t *b, size_t n)
{
    size_t total = b->received + n;
    if (total > atomic_load_explicit(&max_body, memory_order_relaxed) && !b->over) {
        b->over = 1; /* answered 413 once complete: counted, not refused (h2_guard.h) */
        atomic_fetch_add_explicit(&stat_too_large, 1, memory_order_relaxed);
    }
    if (b->keyless && total > IG_H2_KEYLESS_BODY_MAX)
        return refused(IG_H2_BODY_KEYLESS);
    if (ig_body_budget_take(n, atomic_load_explicit(&body_budget, memory_order_relaxed)) != 0)
        return refused(IG_H2_BODY_BUSY);
    b->received = total;
    b->taken += n;
    return IG_H2_BODY_OK;
}

void ig_h2_body_done(ig_h2_body_t *b)
{
    ig_body_budget_give(b->taken);
    b->taken = 0;
}
