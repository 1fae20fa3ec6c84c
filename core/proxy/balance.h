/*
 * balance.h — the balancing stage: which endpoint of the model each attempt of a request goes to.
 *
 * Candidates are the model's endpoints — static ones and the scheduler's serving replicas — that
 * this request has not tried yet; healthy ones only, unless none looks healthy, then the untried
 * ones anyway rather than refusing outright. With more than one candidate the model's strategy
 * plugin picks; the prompt prefix it sees is decoded (JSON escapes, at most IG_LB_PREFIX_MAX bytes,
 * cut at a character boundary) on the first such pick of the request, into its pool, and kept for
 * the next attempts. A request with one candidate, or whose strategy is never asked, never decodes.
 *
 * The picked endpoint counts the attempt in its in_flight (read by strategies on every thread)
 * until ig_balance_release, which also tells the endpoint's passive health how the attempt went.
 * Worker thread; the model must stay valid (its generation held) while a pick may run.
 */
#ifndef IG_BALANCE_H
#define IG_BALANCE_H

#include <h2o.h>
#include "config/generation.h"

#define IG_BALANCE_MAX_ATTEMPTS 11 /* the first try + server.retries (at most 10) */

typedef struct {
    ig_endpoint_t *tried[IG_BALANCE_MAX_ATTEMPTS];
    unsigned attempts;          /* tried[0..attempts): every attempt so far, the last one included */
    ig_endpoint_t *ep;          /* the attempt under way (in its in_flight), or NULL */
    ig_str_t raw_prefix;        /* as written in the body, JSON escapes and all */
    ig_str_t prefix;            /* decoded, once a strategy needed it */
    int decoded;
} ig_balance_t;

void ig_balance_init(ig_balance_t *b, ig_str_t raw_prefix);

/* The model has an endpoint that looks healthy now (else the request waits in the queue). */
int ig_balance_model_ready(const ig_model_rt_t *m);

/* Another attempt is allowed (at most 1 + retries in all) and some endpoint is left to try. */
int ig_balance_can_retry(const ig_balance_t *b, const ig_model_rt_t *m, unsigned retries);

/*
 * Starts an attempt: picks a candidate (the strategy's choice, or the only one), records it as tried
 * and counts it in the endpoint's in_flight. NULL when every endpoint was tried (or the model has
 * none left). req gives the Routing-Key header and the pool the decoded prefix lives in.
 */
ig_endpoint_t *ig_balance_pick(ig_balance_t *b, const ig_model_rt_t *m, h2o_req_t *req, ig_api_t api,
                               ig_str_t adapter);

/* The attempt under way is over (failed: it counts against the endpoint's health). No-op without one. */
void ig_balance_release(ig_balance_t *b, int failed);

/* The endpoint of the last attempt, or NULL when none was made. */
static inline ig_endpoint_t *ig_balance_last(const ig_balance_t *b)
{
    return b->attempts ? b->tried[b->attempts - 1] : NULL;
}

#endif
