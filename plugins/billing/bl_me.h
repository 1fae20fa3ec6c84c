/*
 * bl_me.h — GET /v1/me/usage: the calling key's customer's own usage, with exact costs, per day or model
 * (an IG_ROUTE_PRINCIPAL route: the core authenticated the caller; no parameter names a customer).
 * The ledger is read off the event loop (host->route_defer).
 */
#ifndef BL_ME_H
#define BL_ME_H

#include "infergate/plugin.h"

int bl_route_me_usage(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);

#endif
