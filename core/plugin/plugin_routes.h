/*
 * plugin_routes.h — serves the HTTP routes plugins declare (ig_route_decl_t):
 * the admin API of apikey and billing, public listings. A route belongs to the
 * generation serving the request: its handler gets that generation's plugin
 * state and models. Admin routes pass the admin-key gate first; IG_ROUTE_PRINCIPAL routes (a
 * customer's own, GET /v1/me/usage) authenticate the caller with the auth plugin first, which may
 * answer later: the route then runs on the generation the request began on.
 */
#ifndef IG_PLUGIN_ROUTES_H
#define IG_PLUGIN_ROUTES_H

#include <h2o.h>
#include "config/generation.h"

typedef struct ig_worker_s ig_worker_t;

/* 1 when a plugin route matched req's path (and the request was answered or will be), 0 otherwise. */
/* path: the request's path as routed (after a model's pathPrefix, when under one), as sent: still percent-encoded,
 * each segment for the plugin to decode once (the router's plugin_path). */
int ig_plugin_routes_serve(ig_worker_t *w, const ig_generation_t *gen, h2o_req_t *req, h2o_iovec_t path);

/* host->route_principal: the caller of an IG_ROUTE_PRINCIPAL call, else NULL. */
const ig_principal_t *ig_plugin_route_principal(const ig_http_exchange_t *x);
/* host->route_defer: a handler's work on libuv's thread pool, its answer back on the worker. */
int ig_plugin_route_defer(ig_http_exchange_t *x, void (*work)(void *arg),
                          int (*done)(void *arg, ig_http_exchange_t *x, ig_error_t *err), void *arg);

#endif
