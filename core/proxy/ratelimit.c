/* ratelimit.c — runs the generation's rate limiters on a request, now or later (ratelimit.h). */
#include "proxy/ratelimit.h"
#include <stdio.h>
#include <string.h>
#include "http/openai_error.h"
#include "proxy/stage.h"

/* What a limiter holds (r first), and the way back from it to the stage. */
typedef struct ig_rl_slot_s {
    ig_rl_request_t r;
    ig_ratelimit_stage_t *stage;
} ig_rl_slot_t;

static const ig_plugin_instance_t *limiter(const ig_ratelimit_stage_t *s, unsigned i)
{
    return s->gen->ratelimits[i];
}

static const ig_ratelimit_vtable_t *vtable_of(const ig_plugin_instance_t *inst)
{
    return inst->desc->vtable;
}

/* The answer of limiter s->admitted: 0 (admitted, on to the next) or -1 after the 429 was sent. */
static int settle(ig_ratelimit_stage_t *s, int rc, const ig_error_t *err)
{
    h2o_req_t *req = s->req;
    ig_rl_request_t *r = &s->slots[s->admitted].r;
    /* x-ratelimit-* go on every response, admitted or not */
    for (size_t h = 0; h < r->nheaders && h < sizeof(r->headers) / sizeof(r->headers[0]); h++)
        if (r->headers[h].key && r->headers[h].value)
            h2o_add_header_by_str(&req->pool, &req->res.headers, r->headers[h].key, strlen(r->headers[h].key), 1, NULL,
                                  r->headers[h].value, strlen(r->headers[h].value));
    if (rc == 0) {
        s->admitted++;
        return 0;
    }
    char ra[16];
    int n = snprintf(ra, sizeof(ra), "%u", r->retry_after_s ? r->retry_after_s : 1);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, h2o_strdup(&req->pool, ra, (size_t)n).base,
                   (size_t)n);
    s->log->rate_limited = 1;
    s->log->outcome = "rate limited";
    ig_error_t none = {{0}};
    ig_send_plugin_error(req, err ? err : &none, 429, "rate_limit_exceeded", "rate_limit_exceeded");
    return -1; /* the ones that admitted it get complete() from ig_ratelimit_complete */
}

/* Asks the limiters from s->admitted on: 0 all admitted, -1 answered, IG_PENDING waiting for one. */
static int admit_rest(ig_ratelimit_stage_t *s)
{
    while (s->admitted < s->n) {
        const ig_plugin_instance_t *inst = limiter(s, s->admitted);
        ig_rl_request_t *r = &s->slots[s->admitted].r;
        ig_error_t err = {{0}};
        s->in_call = 1;
        int rc = vtable_of(inst)->admit(inst->state, r, &err);
        s->in_call = 0;
        if (rc == IG_PENDING) {
            if (vtable_of(inst)->cancel == NULL) {
                /* it could never be told that the client left: refuse to wait on it */
                ig_log_error("rate limiter `%s` answered IG_PENDING but has no cancel function (a plugin bug): "
                             "answering 500", inst->desc->name);
                ig_send_error(s->req, 500, "server_error", NULL, NULL,
                              "the rate limiter `%s` answered later without a way to cancel (cancel is required with "
                              "IG_PENDING)", inst->desc->name);
                return -1;
            }
            if (s->early == NULL) {
                s->pending = 1;
                s->worker = ig_host_worker_index();
                return IG_PENDING;
            }
            ig_stage_early_t *e = s->early; /* admit_done came from inside admit() */
            s->early = NULL;
            rc = e->rc;
            if (settle(s, rc, e->has_err ? &e->err : NULL) != 0)
                return -1;
            continue;
        }
        if (settle(s, rc, &err) != 0)
            return -1;
    }
    return 0;
}

int ig_ratelimit_admit(ig_ratelimit_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, ig_request_log_t *log,
                       const ig_ratelimit_subject_t *subject, ig_ratelimit_resume_t resume)
{
    memset(s, 0, sizeof(*s));
    s->req = req;
    s->gen = gen;
    s->log = log;
    s->resume = resume;
    s->n = (unsigned)gen->nratelimits;
    if (s->n == 0)
        return 0;
    s->slots = h2o_mem_alloc_pool(&req->pool, s->n * sizeof(*s->slots));
    memset(s->slots, 0, s->n * sizeof(*s->slots));
    for (unsigned i = 0; i < s->n; i++) {
        ig_rl_request_t *r = &s->slots[i].r;
        s->slots[i].stage = s;
        r->pool = &req->pool;
        r->principal = subject->principal;
        r->model = subject->model;
        r->adapter = subject->adapter;
        r->api = subject->api;
    }
    return admit_rest(s);
}

void ig_ratelimit_done(ig_rl_request_t *r, int rc, const ig_error_t *err)
{
    ig_ratelimit_stage_t *s = ((ig_rl_slot_t *)r)->stage;
    if (s->in_call && s->early == NULL && r == &s->slots[s->admitted].r) {
        s->early = ig_stage_early_keep(&s->req->pool, rc, err);
        return;
    }
    const char *name = limiter(s, (unsigned)(((ig_rl_slot_t *)r) - s->slots))->desc->name;
    if (!ig_stage_answer_ok("admit_done", name, s->pending && r == &s->slots[s->admitted].r, s->worker))
        return;
    s->pending = 0;
    int res = settle(s, rc, err);
    if (res == 0)
        res = admit_rest(s);
    if (res != IG_PENDING)
        s->resume(s, res);
}

void ig_ratelimit_cancel(ig_ratelimit_stage_t *s)
{
    if (!s->pending)
        return;
    s->pending = 0;
    const ig_plugin_instance_t *inst = limiter(s, s->admitted);
    vtable_of(inst)->cancel(inst->state, &s->slots[s->admitted].r);
}

void ig_ratelimit_complete(ig_ratelimit_stage_t *s, const ig_usage_t *usage)
{
    for (unsigned i = 0; i < s->admitted; i++) {
        const ig_plugin_instance_t *inst = limiter(s, i);
        vtable_of(inst)->complete(inst->state, &s->slots[i].r, usage);
    }
    s->admitted = 0;
}
