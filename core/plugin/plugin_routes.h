/*
 * plugin_routes.h — serves the HTTP routes plugins declare (ig_route_decl_t):
 * the admin API of apikey and billing, public listings. A route belongs to the
 * generation serving the request: its handler gets that generation's plugin
 * state and models. Admin routes pass the admin-key gate first.
 */
#ifndef IG_PLUGIN_ROUTES_H
#define IG_PLUGIN_ROUTES_H

#include <h2o.h>
#include "config/generation.h"

/* 1 when a plugin route matched req's path (and the request was answered), 0 otherwise. */
int ig_plugin_routes_serve(const ig_generation_t *gen, h2o_req_t *req);

#endif
