/* sim_http: response helpers on top of h2o, and the connection-level tricks fault injection needs
 * (closing a connection without a response, parking a request forever). */
#ifndef SIM_HTTP_H
#define SIM_HTTP_H

#include <stddef.h>

#include <h2o.h>

#include "sim_buf.h"

struct sim_worker;

#define SIM_CT_JSON "application/json"
#define SIM_CT_SSE "text/event-stream; charset=utf-8"
#define SIM_CT_PROM "text/plain; version=0.0.4; charset=utf-8"

/* A complete response; body is copied into the request's pool. */
void sim_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len);
static inline void sim_http_send_buf(h2o_req_t *req, int status, const ig_buf_t *b)
{
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}
/* vLLM's ErrorResponse in --error-format's envelope: {"error":{"message","type","param":null,"code":status}}
 * (vLLM >= 0.10.1), or {"object":"error","message","type","param":null,"code":status} (vLLM 0.6). */
void sim_http_send_vllm_error(h2o_req_t *req, int status, const char *type, const char *message);
/* FastAPI's request-validation failure: 422 {"detail":[{"type","loc":["body",field],"msg","input":null}]}
 * (field NULL: the body as a whole). */
void sim_http_send_422(h2o_req_t *req, const char *type, const char *field, const char *msg);
/* FastAPI's {"detail": ...} (unknown path, wrong method). */
void sim_http_send_detail(h2o_req_t *req, int status, const char *detail);

/* Shuts the connection down under h2o (the peer sees EOF, no further bytes) and finishes the
 * request with an error so h2o releases it.  `started` says whether h2o_start_response was called. */
void sim_http_abort(h2o_req_t *req, int started);

/* Never answers `req`.  If the client closes an HTTP/1 connection meanwhile (h2o does not read
 * while a request is in progress) the periodic check releases the request. */
void sim_http_hang(h2o_req_t *req);
void sim_http_check_hung(struct sim_worker *w);

/* 1 if the client has closed or reset req's connection (checked with a non-blocking MSG_PEEK;
 * meaningful for HTTP/1, where h2o stops reading while a response is in progress). */
int sim_http_peer_gone(h2o_req_t *req);

/* Counts `req` in the active_requests gauge until h2o disposes of it. */
void sim_http_track_active(h2o_req_t *req);

#endif
