/* balance.c — candidates, the tried set and the strategy's pick for each attempt (balance.h). */
#include "proxy/balance.h"
#include "util/json.h"
#include <string.h>

#define MAX_CANDIDATES 64 /* endpoints considered per pick */

void ig_balance_init(ig_balance_t *b, ig_str_t raw_prefix)
{
    b->attempts = 0; /* tried[] is read only below attempts */
    b->ep = NULL;
    b->raw_prefix = raw_prefix;
    b->prefix = (ig_str_t){"", 0};
    b->decoded = 0;
}

static int is_healthy(const ig_endpoint_t *ep)
{
    return atomic_load_explicit(&((ig_endpoint_t *)ep)->healthy, memory_order_relaxed) != 0;
}

int ig_balance_model_ready(const ig_model_rt_t *m)
{
    for (size_t i = 0; i < m->nendpoints; i++)
        if (is_healthy(m->endpoints[i]))
            return 1;
    for (size_t i = 0; m->replicas != NULL && i < IG_REPLICA_SLOTS; i++) {
        ig_endpoint_t *ep = ig_replica_set_serving(m->replicas, i);
        if (ep != NULL && is_healthy(ep))
            return 1;
    }
    return 0;
}

static int was_tried(const ig_balance_t *b, const ig_endpoint_t *ep)
{
    for (unsigned i = 0; i < b->attempts; i++)
        if (b->tried[i] == ep)
            return 1;
    return 0;
}

/* Adds the model's untried endpoints (static, then serving replicas; healthy ones only if asked) to out[n..]. */
static size_t add_untried(const ig_balance_t *b, const ig_model_rt_t *m, ig_endpoint_t **out, size_t n,
                          int healthy_only)
{
    for (size_t i = 0; i < m->nendpoints && n < MAX_CANDIDATES; i++) {
        ig_endpoint_t *ep = m->endpoints[i];
        if (!was_tried(b, ep) && (!healthy_only || is_healthy(ep)))
            out[n++] = ep;
    }
    for (size_t i = 0; m->replicas != NULL && i < IG_REPLICA_SLOTS && n < MAX_CANDIDATES; i++) {
        ig_endpoint_t *ep = ig_replica_set_serving(m->replicas, i);
        if (ep != NULL && !was_tried(b, ep) && (!healthy_only || is_healthy(ep)))
            out[n++] = ep;
    }
    return n;
}

static size_t candidates(const ig_balance_t *b, const ig_model_rt_t *m, ig_endpoint_t **out)
{
    size_t n = add_untried(b, m, out, 0, 1);
    /* every endpoint looks unhealthy: still try the untried ones rather than refuse outright */
    return n != 0 ? n : add_untried(b, m, out, 0, 0);
}

int ig_balance_can_retry(const ig_balance_t *b, const ig_model_rt_t *m, unsigned retries)
{
    ig_endpoint_t *c[MAX_CANDIDATES];
    if (retries > IG_BALANCE_MAX_ATTEMPTS - 1)
        retries = IG_BALANCE_MAX_ATTEMPTS - 1;
    return b->attempts < 1 + retries && candidates(b, m, c) > 0;
}

/*
 * The prefix as text, decoded on first use. Without an escape in the part that counts, the text is
 * the body's own bytes (cut at a character boundary): nothing is copied. Otherwise it is decoded into
 * the pool (the decoded text is never longer than the raw one).
 */
static ig_str_t decoded_prefix(ig_balance_t *b, h2o_mem_pool_t *pool)
{
    if (b->decoded)
        return b->prefix;
    b->decoded = 1;
    const char *raw = b->raw_prefix.ptr;
    size_t cap = b->raw_prefix.len < IG_LB_PREFIX_MAX ? b->raw_prefix.len : IG_LB_PREFIX_MAX, len = 0;
    if (cap == 0) {
        b->prefix = (ig_str_t){"", 0};
    } else if (memchr(raw, '\\', cap) == NULL) {
        len = cap;
        if (cap < b->raw_prefix.len) /* validated UTF-8: back off to the start of the character cut in two */
            while (len > 0 && ((unsigned char)raw[len] & 0xC0) == 0x80)
                len--;
        b->prefix = (ig_str_t){raw, len};
    } else {
        char *buf = h2o_mem_alloc_pool(pool, cap);
        ig_json_unescape_prefix(raw, b->raw_prefix.len, buf, cap, &len);
        b->prefix = (ig_str_t){buf, len};
    }
    return b->prefix;
}

ig_endpoint_t *ig_balance_pick(ig_balance_t *b, const ig_model_rt_t *m, h2o_req_t *req, ig_api_t api,
                               ig_str_t adapter)
{
    ig_endpoint_t *cand[MAX_CANDIDATES];
    size_t n = candidates(b, m, cand);
    if (n == 0 || b->attempts >= IG_BALANCE_MAX_ATTEMPTS)
        return NULL; /* every endpoint was tried (or the model lost them all) */
    int idx = 0;
    if (n > 1 && m->lb != NULL) {
        ig_lb_request_t lreq = {.api = api, .adapter = adapter, .prefix = decoded_prefix(b, &req->pool)};
        ssize_t rk = h2o_find_header_by_str(&req->headers, H2O_STRLIT("routing-key"), -1);
        if (rk >= 0)
            lreq.routing_key = (ig_str_t){req->headers.entries[rk].value.base, req->headers.entries[rk].value.len};
        idx = m->lb->pick(m->lb_plugin_state, &m->cfg->model, &lreq, cand, n);
        if (idx < 0 || (size_t)idx >= n)
            idx = 0;
    }
    ig_endpoint_t *ep = cand[idx];
    b->ep = ep;
    b->tried[b->attempts++] = ep;
    atomic_fetch_add_explicit(&ep->in_flight, 1, memory_order_relaxed);
    return ep;
}

void ig_balance_release(ig_balance_t *b, int failed)
{
    ig_endpoint_t *ep = b->ep;
    if (ep == NULL)
        return;
    b->ep = NULL;
    atomic_fetch_sub_explicit(&ep->in_flight, 1, memory_order_relaxed);
    if (failed)
        ig_endpoint_record_failure(ep);
    else
        ig_endpoint_record_success(ep);
}
