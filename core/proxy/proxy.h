/*
 * proxy.h — serves one OpenAI API request through an engine: authenticates the caller (auth.h),
 * checks the body and resolves the model, admits it through the rate limiters (ratelimit.h), lets
 * the engine plugin rewrite the request, picks an endpoint with the model's strategy (balance.h),
 * streams the engine's answer back with backpressure, retries on another endpoint while nothing
 * reached the client, and settles its usage at the end (usage.h). The request registers with its
 * worker (ig_worker_track) so that draining waits for it and the end of the grace period cuts it.
 */
#ifndef IG_PROXY_H
#define IG_PROXY_H

#include <h2o.h>
#include "infergate/plugin.h"
#include "observe/request_log.h"

typedef struct ig_worker_s ig_worker_t;

/* scope: the model the request's address names (a model's hosts: or pathPrefix:), or NULL. Under an
 * address, a body naming another model is answered 404 model_not_found. */
void ig_proxy_handle(ig_worker_t *w, h2o_req_t *req, ig_api_t api, ig_request_log_t *log, const char *scope);

#endif
