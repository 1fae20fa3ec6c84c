/*
 * principal_call.h — a request answered once its caller is known: the routes that authenticate like
 * an API request without being one (/v1/models, /v1/me, a plugin's IG_ROUTE_PRINCIPAL route).
 *
 * The auth plugin may answer later: the call then waits, tracked by its worker (cut with a 503 at the
 * end of the shutdown grace period), holding the generation it began on until h2o disposes of the
 * request; answer runs with that generation, exactly once, only when authentication succeeded (a
 * refusal was already sent). The principal is NULL when no auth plugin is loaded.
 */
#ifndef IG_PRINCIPAL_CALL_H
#define IG_PRINCIPAL_CALL_H

#include <h2o.h>
#include "config/generation.h"

typedef struct ig_worker_s ig_worker_t;

typedef void (*ig_principal_answer_t)(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal,
                                      void *arg);

/* arg lives as long as the request (pool memory is fine). */
void ig_principal_call(ig_worker_t *w, h2o_req_t *req, ig_principal_answer_t answer, void *arg);

#endif
