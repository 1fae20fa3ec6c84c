/*
 * bl_listing — the public model listing in OpenRouter's provider format (GET /public/api/models and
 * GET /openrouter/models): one entry per configured model, from the model's `openrouter` metadata
 * (or its manifest's openrouter.ai/json annotation), its pricing and what the config already says.
 */
#ifndef BL_LISTING_H
#define BL_LISTING_H

#include "infergate/plugin.h"

int bl_route_listing(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);

#endif
