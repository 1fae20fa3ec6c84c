/*
 * plugin_routes.h — serves the HTTP routes plugins declare (ig_route_decl_t):
 * the admin API of apikey and billing, public listings. A route belongs to the
 * generation serving the request: its handler gets that generation's plugin
 * state and models. Admin routes pass the admin-key gate first. A handler may answer later
 * (IG_PENDING, then host->route_done from any thread, e.g. after database work on a thread of its own).
 */
#ifndef IG_PLUGIN_ROUTES_H
#define IG_PLUGIN_ROUTES_H

#include <h2o.h>
#include "config/generation.h"

struct ig_worker_s;

/* 1 when a plugin route matched req's path (and the request was answered, or will be: a handler's
 * IG_PENDING), 0 otherwise. Worker thread w. */
int ig_plugin_routes_serve(struct ig_worker_s *w, const ig_generation_t *gen, h2o_req_t *req);

/* host->route_done: a pending route's answer, from any thread (see plugin.h). */
void ig_plugin_route_done(ig_http_exchange_t *x, int rc, const ig_error_t *err);

#endif
