/*
 * me_api.h — GET /v1/me: the caller as every plugin knows it (docs/plugins.md, "Describing the caller").
 *
 * The core writes object, customer, customer_name, key_id and the models the caller may use with their
 * prices (the strings the ledger bills); each plugin of the generation with describe_principal adds
 * members (the apikey plugin key_name, the ratelimit plugin limits). Authenticated like /v1/models:
 * an API key, or the portal's cookie. Without an auth plugin there is no caller: 404.
 */
#ifndef IG_ME_API_H
#define IG_ME_API_H

#include <h2o.h>
#include "config/generation.h"

typedef struct ig_worker_s ig_worker_t;

void ig_me_api_serve(ig_worker_t *w, h2o_req_t *req);

/* The answer once the caller is known (principal NULL: anonymous). */
void ig_me_api_answer(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal);

#endif
