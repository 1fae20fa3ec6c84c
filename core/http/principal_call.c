/* principal_call.c — authenticate, then answer with the generation the call began on (principal_call.h). */
#include "http/principal_call.h"
#include <string.h>
#include "http/openai_error.h"
#include "proxy/auth.h"
#include "server/worker.h"

/* One call, from its start until h2o disposes of it. */
typedef struct {
    ig_auth_stage_t auth;
    ig_worker_request_t tracked;    /* while the auth plugin has not answered */
    ig_worker_t *worker;
    ig_worker_gen_t *hold;          /* the generation it began on, held until it is disposed */
    h2o_req_t *req;
    ig_principal_answer_t answer;
    void *arg;
    int tracking;
} call_t;

static void untrack(call_t *c)
{
    if (c->tracking) {
        c->tracking = 0;
        ig_worker_untrack(c->worker, &c->tracked);
    }
}

static void on_authenticated(ig_auth_stage_t *s, int rc)
{
    call_t *c = (call_t *)((char *)s - offsetof(call_t, auth));
    untrack(c);
    if (rc == 0)
        c->answer(c->req, c->hold->gen, c->auth.principal, c->arg);
}

/* The grace period ended while the auth plugin still decides: it is told, the client gets a 503. */
static void cut_for_shutdown(ig_worker_request_t *t)
{
    call_t *c = (call_t *)((char *)t - offsetof(call_t, tracked));
    ig_auth_cancel(&c->auth);
    untrack(c);
    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(c->req, 503, "server_error", NULL, "shutting_down",
                  "the gateway is shutting down: the request was cut at the end of server.shutdownGracePeriod");
}

static void on_dispose(void *arg)
{
    call_t *c = arg;
    ig_auth_cancel(&c->auth); /* the client left while the auth plugin decides */
    untrack(c);
    ig_worker_gen_release(c->worker, c->hold);
}

void ig_principal_call(ig_worker_t *w, h2o_req_t *req, ig_principal_answer_t answer, void *arg)
{
    call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), on_dispose);
    memset(c, 0, sizeof(*c));
    c->worker = w;
    c->hold = ig_worker_gen_acquire(w);
    c->req = req;
    c->answer = answer;
    c->arg = arg;
    int rc = ig_auth_start(&c->auth, req, c->hold->gen, on_authenticated);
    if (rc == 0) {
        answer(req, c->hold->gen, c->auth.principal, arg);
    } else if (rc == IG_PENDING) {
        c->tracking = 1;
        ig_worker_track(w, &c->tracked, cut_for_shutdown);
    }
}
