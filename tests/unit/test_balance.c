/*
 * test_balance.c — the balancing stage (core/proxy/balance.c) with real endpoints and a counting
 * strategy: candidates are the untried endpoints, healthy ones first; the strategy is asked only
 * with two or more; the prefix it sees is the decoded text, decoded once per request (never when
 * the strategy is not asked), at most IG_LB_PREFIX_MAX bytes cut at a character boundary; the
 * Routing-Key header is handed over; in_flight counts the attempt under way; retries end when the
 * attempts or the endpoints run out.
 */
#include <string.h>
#include "ig_test.h"
#include "proxy/balance.h"

static struct {
    int calls;
    size_t n;
    ig_str_t prefix, routing_key;
} seen;

/* Picks the last candidate, and remembers what it was shown. */
static int last_pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c, size_t n)
{
    seen.calls++;
    seen.n = n;
    seen.prefix = req->prefix;
    seen.routing_key = req->routing_key;
    return (int)n - 1;
}

static const ig_lb_vtable_t counting_lb = {.size = sizeof(ig_lb_vtable_t), .pick = last_pick};

static unsigned in_flight(ig_endpoint_t *ep)
{
    return atomic_load(&ep->in_flight);
}

int main(void)
{
    ig_endpoint_registry_t *reg = ig_endpoint_registry_create();
    ig_endpoint_t *eps[3];
    char msg[256];
    for (int i = 0; i < 3; i++) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d", 9001 + i);
        eps[i] = ig_endpoint_acquire(reg, url, msg, sizeof(msg));
        CHECK(eps[i] != NULL);
    }
    ig_model_config_t mc;
    memset(&mc, 0, sizeof(mc));
    ig_model_rt_t m;
    memset(&m, 0, sizeof(m));
    m.cfg = &mc;
    m.lb = &counting_lb;
    m.endpoints = eps;
    h2o_req_t req;
    memset(&req, 0, sizeof(req));
    h2o_mem_init_pool(&req.pool);
    const char *raw = "caf\\u00e9 \\ud83d\\ude00"; /* as written between the quotes of the body */
    ig_balance_t b;

    /* one endpoint: no strategy, nothing decoded; the attempt is counted in in_flight until released */
    m.nendpoints = 1;
    ig_balance_init(&b, (ig_str_t){raw, strlen(raw)});
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_CHAT_COMPLETIONS, (ig_str_t){"", 0}) == eps[0]);
    CHECK(seen.calls == 0 && !b.decoded && b.attempts == 1 && in_flight(eps[0]) == 1);
    CHECK(ig_balance_last(&b) == eps[0]);
    ig_balance_release(&b, 0);
    CHECK(in_flight(eps[0]) == 0 && b.ep == NULL);
    ig_balance_release(&b, 0); /* nothing under way: no-op */
    CHECK(in_flight(eps[0]) == 0);
    CHECK(!ig_balance_can_retry(&b, &m, 10)); /* the only endpoint was tried */
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_CHAT_COMPLETIONS, (ig_str_t){"", 0}) == NULL);

    /* three: the strategy picks among them and sees the decoded text; a retry excludes what was tried
     * and hands the same decoded text again (decoded once) */
    m.nendpoints = 3;
    ig_balance_init(&b, (ig_str_t){raw, strlen(raw)});
    h2o_add_header_by_str(&req.pool, &req.headers, H2O_STRLIT("routing-key"), 0, NULL, H2O_STRLIT("session-7"));
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_CHAT_COMPLETIONS, (ig_str_t){"", 0}) == eps[2]);
    CHECK(seen.calls == 1 && seen.n == 3 && b.decoded);
    CHECK(seen.prefix.len == 10 && memcmp(seen.prefix.ptr, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10) == 0);
    CHECK(seen.routing_key.len == 9 && memcmp(seen.routing_key.ptr, "session-7", 9) == 0);
    const char *first_text = seen.prefix.ptr;
    ig_balance_release(&b, 1);
    CHECK(ig_balance_can_retry(&b, &m, 2));
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_CHAT_COMPLETIONS, (ig_str_t){"", 0}) == eps[1]);
    CHECK(seen.calls == 2 && seen.n == 2 && seen.prefix.ptr == first_text);
    ig_balance_release(&b, 0);
    CHECK(!ig_balance_can_retry(&b, &m, 1)); /* 1 + 1 retry made */
    CHECK(ig_balance_can_retry(&b, &m, 2));
    /* one candidate left: no strategy call */
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_CHAT_COMPLETIONS, (ig_str_t){"", 0}) == eps[0]);
    CHECK(seen.calls == 2 && b.attempts == 3);
    ig_balance_release(&b, 0);
    CHECK(!ig_balance_can_retry(&b, &m, 10));

    /* unhealthy endpoints are offered only when none is healthy */
    atomic_store(&eps[2]->healthy, 0);
    ig_balance_init(&b, (ig_str_t){"", 0});
    CHECK(ig_balance_model_ready(&m));
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_EMBEDDINGS, (ig_str_t){"", 0}) == eps[1] && seen.n == 2);
    CHECK(seen.prefix.len == 0);
    ig_balance_release(&b, 0);
    atomic_store(&eps[0]->healthy, 0);
    atomic_store(&eps[1]->healthy, 0);
    CHECK(!ig_balance_model_ready(&m));
    ig_balance_init(&b, (ig_str_t){"", 0});
    CHECK(ig_balance_pick(&b, &m, &req, IG_API_EMBEDDINGS, (ig_str_t){"", 0}) == eps[2] && seen.n == 3);
    ig_balance_release(&b, 0);
    for (int i = 0; i < 3; i++)
        atomic_store(&eps[i]->healthy, 1);

    /* long prefixes: at most IG_LB_PREFIX_MAX bytes, never half a character */
    static char longraw[3 * 4000 + 1];
    for (int i = 0; i < 4000; i++)
        memcpy(longraw + 3 * i, "\xe2\x82\xac", 3); /* € */
    ig_balance_init(&b, (ig_str_t){longraw, sizeof(longraw) - 1});
    ig_balance_pick(&b, &m, &req, IG_API_COMPLETIONS, (ig_str_t){"", 0});
    CHECKF(seen.prefix.len == IG_LB_PREFIX_MAX / 3 * 3, "%zu bytes of a long prefix", seen.prefix.len);
    CHECK(memcmp(seen.prefix.ptr, longraw, seen.prefix.len) == 0);
    CHECK(seen.prefix.ptr == longraw); /* no escape in it: the body's own bytes, not a copy */
    ig_balance_release(&b, 0);
    /* the same with an escape first: decoded into the pool, cut the same way */
    static char escraw[6 + 3 * 4000 + 1];
    memcpy(escraw, "\\u20ac", 6);
    memcpy(escraw + 6, longraw, 3 * 4000);
    ig_balance_init(&b, (ig_str_t){escraw, sizeof(escraw) - 1});
    ig_balance_pick(&b, &m, &req, IG_API_COMPLETIONS, (ig_str_t){"", 0});
    CHECKF(seen.prefix.len == IG_LB_PREFIX_MAX / 3 * 3, "%zu bytes of a long escaped prefix", seen.prefix.len);
    CHECK(memcmp(seen.prefix.ptr, longraw, seen.prefix.len) == 0 && seen.prefix.ptr != escraw);
    ig_balance_release(&b, 0);
    for (int i = 0; i < 3; i++)
        CHECK(in_flight(eps[i]) == 0);

    h2o_mem_clear_pool(&req.pool);
    for (int i = 0; i < 3; i++)
        ig_endpoint_release(reg, eps[i]);
    ig_endpoint_registry_free(reg);
    return ig_test_summary();
}
