/*
 * h1_body.h — the body of an HTTP/1.x request, read by infergate rather than h2o (see h1_guard.h).
 *
 * Before a byte of it is read: a Content-Length over server.maxBodySize answers 413, an API request
 * with a body over 64 KiB (or chunked) whose key the auth plugin refuses at once answers 401, and the body's size is taken from a budget
 * shared by every body being received (server.clientLimits.bodyBudgetBytes; 503 with Retry-After
 * when it is spent). Then "100 Continue" if the client waits for it, and the body is read with a
 * timer that restarts at every byte (server.clientTimeouts.bodyIdle; 408 when it fires): an upload
 * that keeps moving is never cut, one that stalls is. A chunked body is cut (413) as soon as it
 * passes maxBodySize. Each refusal closes the connection, since the unread rest of the body would be
 * taken for the next request. The budget is given back when the request's memory is freed.
 */
#ifndef IG_H1_BODY_H
#define IG_H1_BODY_H

#include <h2o.h>

typedef struct ig_worker_s ig_worker_t;
typedef void (*ig_h1_route_t)(h2o_handler_t *self, h2o_req_t *req);

/*
 * 1 when req is an HTTP/1 request whose head h1_guard kept back: it was answered (refused; then
 * refused(self, req) has been called, for the access log), or its body is being read and
 * route(self, req) follows with req->entity set. 0: route it now.
 */
int ig_h1_body_intercept(ig_worker_t *w, h2o_handler_t *self, h2o_req_t *req, ig_h1_route_t route,
                         ig_h1_route_t refused);

#endif
