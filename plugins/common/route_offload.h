/*
 * route_offload — runs a plugin route's handler off the worker's event loop (host->route_defer: the
 * core's thread pool), so database or disk work (billing's queries and invoice runs, apikey's admin
 * writes) never stalls the requests a worker serves. Shared by the plugins (static library
 * ig_route_offload). The handler runs unchanged on a copy of the exchange (its inputs copied, its memory from an
 * arena of the job's); the answer is copied into the request on the worker. Without route_defer (an
 * older core) it runs in place.
 */
#ifndef ROUTE_OFFLOAD_H
#define ROUTE_OFFLOAD_H

#include "infergate/plugin.h"

/* state: the plugin's generation state, as the route's handler receives it. */
typedef int (*route_offload_fn_t)(void *state, ig_http_exchange_t *x, ig_error_t *err);

/* The route's answer: the handler's own (in place), or IG_PENDING (deferred). */
int route_offload(void *state, ig_http_exchange_t *x, ig_error_t *err, route_offload_fn_t handler);

#endif
