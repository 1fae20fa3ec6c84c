/* models_api.h — GET /v1/models and /v1/models/{id} in OpenAI's list format. */
#ifndef IG_MODELS_API_H
#define IG_MODELS_API_H

#include <h2o.h>
#include "config/generation.h"

/* principal: the caller (NULL when anonymous); only models it may use are shown. */
void ig_models_api_list(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal);
void ig_models_api_get(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, const char *id,
                       size_t id_len);

#endif
