/*
 * h2_guard.c — the policy of infergate's HTTP/2 bounds (h2_guard.h); conn_guard.c applies it.
 *
 * Rapid reset: h2o 2.2 lets a client open and reset streams without end, each reset freeing a
 * place under SETTINGS_MAX_CONCURRENT_STREAMS. A reset of an open stream costs a token, a stream
 * answered to its end gives one back (up to the budget): a client that cancels now and then never
 * runs out, one that resets faster than it lets streams finish does, whatever the timing.
 *
 * Header lists: the decoded size (RFC 7541 sizes, an upper bound from hpack_scan.c) of one block.
 */
#include "http/h2_guard.h"
#include <stdatomic.h>

static _Atomic unsigned reset_budget = 100;
static _Atomic size_t max_header_list = 32 * 1024;
static _Atomic uint64_t stat_resets, stat_ended, stat_refused;

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
}
