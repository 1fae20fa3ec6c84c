/*
 * asynclimit.c — a rate limiter for the integration tests that answers later (IG_PENDING, then
 * host->admit_done from a timer on the worker's loop). By the model's name:
 *   sync*      admitted at once
 *   limited*   refused after `delay` (429, Retry-After 7)
 *   held*      admitted once POST /test/asynclimit/release is called after it began
 *   others     admitted after `delay`
 * Every answer carries the header x-asynclimit: admitted | refused. complete() is counted, and must
 * come exactly once per admission. GET /test/asynclimit/stats counts it all (async_waiters.h).
 *
 * Built a second time with ASYNCLIMIT_NO_CANCEL as asynclimit_nocancel: the plugin bug of answering
 * IG_PENDING without a cancel function (the core answers 500 naming it; this one never answers).
 */
#include "async_waiters.h"

#ifdef ASYNCLIMIT_NO_CANCEL
#define AL_NAME "asynclimit_nocancel"
#else
#define AL_NAME "asynclimit"
#endif

typedef struct {
    int64_t delay_ms;
} al_options_t;

typedef struct {
    al_options_t opt;
} al_state_t;

static char al_ticket; /* the ticket of an admission: complete() counts only those */

static void al_headers(ig_rl_request_t *r, int admitted)
{
    r->headers[0] = (ig_kv_t){"x-asynclimit", admitted ? "admitted" : "refused"};
    r->nheaders = 1;
}

static void aw_answer(aw_waiter_t *w)
{
    ig_rl_request_t *r = (ig_rl_request_t *)w->req;
    al_headers(r, w->decision == 0);
    if (w->decision == 0) {
        r->ticket = &al_ticket;
        aw_host->admit_done(r, 0, NULL);
        return;
    }
    r->retry_after_s = 7;
    ig_error_t err = {{0}};
    aw_host->error(&err, "asynclimit: model %s refused after a while", r->model->name);
    aw_host->admit_done(r, -1, &err);
}

static int al_admit(void *state, ig_rl_request_t *r, ig_error_t *err)
{
    al_state_t *s = state;
    atomic_fetch_add(&aw_count.calls, 1);
    const char *m = r->model->name;
#ifdef ASYNCLIMIT_NO_CANCEL
    (void)s;
    (void)m;
    return IG_PENDING; /* and never answers: the core must not wait for it */
#else
    if (strncmp(m, "sync", 4) == 0) {
        atomic_fetch_add(&aw_count.sync_answers, 1);
        al_headers(r, 1);
        r->ticket = &al_ticket;
        return 0;
    }
    int decision = strncmp(m, "limited", 7) == 0 ? -1 : 0, held = strncmp(m, "held", 4) == 0;
    if (aw_wait(r, s, decision, held, (uint64_t)s->opt.delay_ms) != 0)
        return aw_host->error(err, "asynclimit: cannot wait (not a worker thread, or out of memory)");
    return IG_PENDING;
#endif
}

static void al_complete(void *state, ig_rl_request_t *r, const ig_usage_t *usage)
{
    if (r->ticket != &al_ticket) {
        aw_host->log(IG_LOG_ERROR, AL_NAME, "complete() for a request it did not admit");
        return;
    }
    r->ticket = NULL;
    atomic_fetch_add(&aw_count.completed, 1);
}

#ifndef ASYNCLIMIT_NO_CANCEL
static void al_cancel(void *state, ig_rl_request_t *r)
{
    aw_cancel(r);
}
#endif

static int al_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    aw_host = host;
    aw_name = AL_NAME;
    al_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return host->error(err, "out of memory");
    s->opt = *(const al_options_t *)ctx->options;
    *state = s;
    return 0;
}

static void al_fini(void *state)
{
    aw_fini_check();
    free(state);
}

static const ig_option_decl_t al_options[] = {
    {"delay", IG_OPT_DURATION, "30ms", "how long a later answer takes", 0, 60000, offsetof(al_options_t, delay_ms)},
    {NULL},
};

static const ig_ratelimit_vtable_t al_vtable = {
    .size = sizeof(ig_ratelimit_vtable_t),
    .admit = al_admit,
    .complete = al_complete,
#ifndef ASYNCLIMIT_NO_CANCEL
    .cancel = al_cancel,
#endif
};

static const ig_route_decl_t al_routes[] = {
    {"/test/" AL_NAME, IG_ROUTE_PUBLIC, aw_route},
    {NULL},
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = AL_NAME,
    .kind = IG_PLUGIN_RATELIMIT,
    .version = "test",
    .description = "test rate limiter that answers later, from a timer on the worker's loop",
    .options = al_options,
    .options_size = sizeof(al_options_t),
    .init = al_init,
    .fini = al_fini,
    .vtable = &al_vtable,
    .routes = al_routes,
};
