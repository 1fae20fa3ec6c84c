/* models_api.h — GET /v1/models and /v1/models/{id} in OpenAI's list format. */
#ifndef IG_MODELS_API_H
#define IG_MODELS_API_H

#include <h2o.h>
#include "generation.h"

void ig_models_api_list(h2o_req_t *req, const ig_generation_t *gen);
void ig_models_api_get(h2o_req_t *req, const ig_generation_t *gen, const char *id, size_t id_len);

#endif
