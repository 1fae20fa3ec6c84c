/*
 * auth.h — who is calling, as the generation's auth plugin says.
 *
 * Without an auth plugin every request is anonymous (principal NULL) and may
 * use every model. With one, a request must authenticate before anything else
 * is done for it, and a model it may not use answers as if it did not exist
 * (OpenAI's 404 model_not_found).
 */
#ifndef IG_AUTH_H
#define IG_AUTH_H

#include <h2o.h>
#include "config/generation.h"

/*
 * 0 with *out set (pool memory; NULL when no auth plugin is loaded), or -1
 * after the error (401 unless the plugin says otherwise) has been sent.
 */
int ig_auth_authenticate(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t **out);

/* 1 when principal may use model (always, without an auth plugin); fills its key_model_limits. */
int ig_auth_model_allowed(const ig_generation_t *gen, ig_principal_t *principal, const ig_model_t *model);

#endif
