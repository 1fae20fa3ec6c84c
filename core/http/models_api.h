/*
 * models_api.h — GET /v1/models and /v1/models/{id} in OpenAI's list format.
 *
 * The caller authenticates like an API request (the auth plugin may answer later: the request then
 * waits, holding the generation it began on, and is answered from it); only models it may use are
 * shown.
 */
#ifndef IG_MODELS_API_H
#define IG_MODELS_API_H

#include <h2o.h>
#include "config/generation.h"

typedef struct ig_worker_s ig_worker_t;

/* GET /v1/models (id NULL) or /v1/models/{id}, on worker w. scope: the model the request's address
 * names (hosts:, pathPrefix:), the only one shown there; NULL: every model the caller may use. */
void ig_models_api_serve(ig_worker_t *w, h2o_req_t *req, const char *id, size_t id_len, const char *scope);

/* The answers once the caller is known (NULL when anonymous). */
void ig_models_api_list(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, const char *scope);
void ig_models_api_get(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, const char *id,
                       size_t id_len, const char *scope);

#endif
