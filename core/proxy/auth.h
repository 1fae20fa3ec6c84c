/*
 * auth.h — the auth stage: who is calling, as the generation's auth plugin says.
 *
 * Without an auth plugin every request is anonymous (principal NULL) and may use every model.
 * With one, a request authenticates before anything else is done for it, and a model it may not
 * use answers as if it did not exist (OpenAI's 404 model_not_found).
 *
 * The plugin may answer later (authenticate() returns IG_PENDING, then host->auth_done). Contract:
 *  - ig_auth_start returns 0 (authenticated: s->principal is set, NULL without an auth plugin),
 *    -1 (the client was answered: 401 or the plugin's error; 500 for a plugin that answers
 *    IG_PENDING without a cancel function), or IG_PENDING: resume(s, rc) follows exactly once, from
 *    the worker's loop, unless ig_auth_cancel comes first. rc 0: authenticated; -1: answered.
 *  - ig_auth_cancel: the request is going away. A pending call is cancelled (the plugin's cancel);
 *    nothing is sent and resume is never called. Harmless in any other state.
 *  - s stays where it is from ig_auth_start until resume or cancel (the plugin holds &s->areq and
 *    the principal), and the caller holds the generation as long: its plugin instance serves the call.
 */
#ifndef IG_AUTH_H
#define IG_AUTH_H

#include <h2o.h>
#include "config/generation.h"

typedef struct ig_auth_stage_s ig_auth_stage_t;
typedef void (*ig_auth_resume_t)(ig_auth_stage_t *s, int rc);

struct ig_auth_stage_s {
    ig_auth_request_t areq;             /* what the plugin holds while it has not answered */
    ig_principal_t *principal;          /* the caller once authenticated; NULL before, or when anonymous */
    ig_principal_t *out;                /* filled by the plugin (pool memory) */
    h2o_req_t *req;
    const ig_plugin_instance_t *plugin;
    ig_auth_resume_t resume;
    struct ig_stage_early_s *early;     /* an auth_done that came inside authenticate() itself */
    int worker;                         /* the worker thread the call belongs to */
    unsigned pending : 1;               /* IG_PENDING answered, auth_done not yet */
    unsigned in_call : 1;               /* inside authenticate() */
};

int ig_auth_start(ig_auth_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, ig_auth_resume_t resume);
/* The same for a key the caller has (the portal's login) instead of the request's headers. */
int ig_auth_start_key(ig_auth_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, const char *key, size_t len,
                      ig_auth_resume_t resume);
void ig_auth_cancel(ig_auth_stage_t *s);
static inline int ig_auth_pending(const ig_auth_stage_t *s)
{
    return s->pending;
}

/* host->auth_done: the plugin's late answer (plugin_host's table points here). */
void ig_auth_done(const ig_auth_request_t *areq, int rc, const ig_error_t *err);

/* 1 when principal may use model (always, without an auth plugin); fills its key_model_limits. */
int ig_auth_model_allowed(const ig_generation_t *gen, ig_principal_t *principal, const ig_model_t *model);

#endif
