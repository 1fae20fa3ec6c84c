/*
 * bl_offload — runs an admin route's handler on the ledger writer thread instead of the worker's
 * event loop: database work (queries, invoice runs) never stalls the requests a worker serves.
 * The handler runs unchanged on a copy of the exchange (its inputs copied, its memory from an arena
 * of the job's), after every record queued before the call is committed, and answers through
 * host->route_done. Without route_done (an older core) or a running writer, it runs in place.
 */
#ifndef BL_OFFLOAD_H
#define BL_OFFLOAD_H

#include "infergate/plugin.h"

/* state: a bl_report_ctx_t first (the plugin's generation state). */
typedef int (*bl_handler_t)(void *state, ig_http_exchange_t *x, ig_error_t *err);

/* The route's answer: the handler's own (in place), or IG_PENDING (on the writer thread). */
int bl_offload(void *state, ig_http_exchange_t *x, ig_error_t *err, bl_handler_t handler);

#endif
