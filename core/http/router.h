/*
 * router.h — the one h2o handler: routes by path and method to the OpenAI
 * API, the model listing and the health endpoints; everything else is an
 * OpenAI-shaped 404/405.
 */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include <h2o.h>

int ig_router_register(h2o_pathconf_t *pathconf);

#endif
