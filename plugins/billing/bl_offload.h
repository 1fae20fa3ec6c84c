/*
 * bl_offload — runs an admin route's handler off the worker's event loop (host->route_defer: the
 * core's thread pool), so database work (queries, invoice runs) never stalls the requests a worker
 * serves. The handler runs unchanged on a copy of the exchange (its inputs copied, its memory from an
 * arena of the job's); the answer is copied into the request on the worker. Without route_defer (an
 * older core) it runs in place.
 */
#ifndef BL_OFFLOAD_H
#define BL_OFFLOAD_H

#include "infergate/plugin.h"

/* state: a bl_report_ctx_t first (the plugin's generation state). */
typedef int (*bl_handler_t)(void *state, ig_http_exchange_t *x, ig_error_t *err);

/* The route's answer: the handler's own (in place), or IG_PENDING (deferred). */
int bl_offload(void *state, ig_http_exchange_t *x, ig_error_t *err, bl_handler_t handler);

#endif
