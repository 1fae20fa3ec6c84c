/*
 * ratelimit.h — the rate-limiting stage: every rate limiter of the generation admits the request,
 * in plugins.load order, or the client gets 429 rate_limit_exceeded with Retry-After. Each
 * limiter's x-ratelimit-* headers go on the response, admitted or not.
 *
 * A limiter may answer later (admit() returns IG_PENDING, then host->admit_done). Contract:
 *  - ig_ratelimit_admit returns 0 (every limiter admitted), -1 (the client was answered: 429, or 500
 *    for a limiter that answers IG_PENDING without a cancel function), or IG_PENDING: resume(s, rc)
 *    follows exactly once, from the worker's loop, unless ig_ratelimit_cancel comes first (rc as
 *    for the immediate answer).
 *  - ig_ratelimit_cancel: the request is going away; the limiter whose answer is awaited gets its
 *    cancel (and never complete()). Harmless in any other state.
 *  - ig_ratelimit_complete: the request ended; every limiter that admitted it gets complete() with
 *    the usage, once (a refusal by a later limiter does not undo an earlier admission).
 *  - s and its ig_rl_request_t's stay where they are until resume or cancel (limiters hold them),
 *    and the caller holds the generation as long.
 */
#ifndef IG_RATELIMIT_STAGE_H
#define IG_RATELIMIT_STAGE_H

#include <h2o.h>
#include "config/generation.h"
#include "observe/request_log.h"

typedef struct ig_ratelimit_stage_s ig_ratelimit_stage_t;
typedef void (*ig_ratelimit_resume_t)(ig_ratelimit_stage_t *s, int rc);

struct ig_ratelimit_stage_s {
    h2o_req_t *req;
    const ig_generation_t *gen;
    ig_request_log_t *log;
    struct ig_rl_slot_s *slots;         /* one per limiter of gen (pool memory) */
    unsigned n;
    unsigned admitted;                  /* slots[0..admitted) admitted: each gets complete() once */
    ig_ratelimit_resume_t resume;
    struct ig_stage_early_s *early;     /* an admit_done that came inside admit() itself */
    int worker;
    unsigned pending : 1;               /* slots[admitted] answered IG_PENDING, admit_done not yet */
    unsigned in_call : 1;               /* inside an admit() */
};

/* The request as limiters see it; principal may be NULL (no auth plugin). */
typedef struct {
    const ig_principal_t *principal;
    const ig_model_t *model;
    ig_str_t adapter;
    ig_api_t api;
} ig_ratelimit_subject_t;

int ig_ratelimit_admit(ig_ratelimit_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, ig_request_log_t *log,
                       const ig_ratelimit_subject_t *subject, ig_ratelimit_resume_t resume);
void ig_ratelimit_cancel(ig_ratelimit_stage_t *s);
void ig_ratelimit_complete(ig_ratelimit_stage_t *s, const ig_usage_t *usage);
static inline int ig_ratelimit_pending(const ig_ratelimit_stage_t *s)
{
    return s->pending;
}

/* host->admit_done: a limiter's late answer (plugin_host's table points here). */
void ig_ratelimit_done(ig_rl_request_t *r, int rc, const ig_error_t *err);

#endif
