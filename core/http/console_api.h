/*
 * console_api.h — browser sessions of the console and the portal (docs/console-api.md).
 *
 *  - /ui/api/session: POST {"key": "<admin key>"} logs in (cookie ig_admin, HttpOnly, SameSite=Strict,
 *    Secure on TLS listeners, and the session's CSRF token in the body); GET gives a reloaded page
 *    its token back; DELETE logs out.
 *  - /portal/api/session: the same for a customer's API key, authenticated by the generation's auth
 *    plugin (cookie ig_portal).
 *  - Failed logins are limited per source address (sessions.h).
 *  - A request carrying the portal cookie and no key of its own, to /v1/models, /v1/me or
 *    /portal/api/, is authenticated as the session's key: ig_console_portal_cookie adds the key as
 *    its Authorization header before it is routed. Never on the inference routes.
 */
#ifndef IG_CONSOLE_API_H
#define IG_CONSOLE_API_H

#include <h2o.h>
#include "admin/sessions.h"

typedef struct ig_worker_s ig_worker_t;

void ig_console_session_serve(ig_worker_t *w, h2o_req_t *req, ig_session_kind_t kind);

/* Before routing. 0: go on (with the key added when the portal cookie applies); -1: answered (a
 * state-changing request with the cookie but without its CSRF token, or from another site). */
int ig_console_portal_cookie(h2o_req_t *req, h2o_iovec_t path);

#endif
