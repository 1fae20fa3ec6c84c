/*
 * upstream.h — HTTP/1.1 client for engine endpoints, with keep-alive pools.
 *
 * One ig_upstream_pool_t per worker thread (it belongs to that thread's
 * uv loop): idle keep-alive connections per endpoint, reused LIFO. No locks:
 * nothing here is shared between threads.
 *
 * A request's body spans must stay valid until on_done or ig_upstream_cancel
 * (they point into the client request's h2o pool). Callbacks are never called
 * from inside ig_upstream_start/pause/resume/cancel.
 */
#ifndef IG_UPSTREAM_H
#define IG_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "upstream/endpoint.h"
#include "infergate/plugin.h"

typedef struct ig_upstream_pool_s ig_upstream_pool_t;
typedef struct ig_upstream_req_s ig_upstream_req_t;

typedef enum {
    IG_UPSTREAM_OK = 0,            /* whole response received */
    IG_UPSTREAM_CONNECT_FAILED,    /* refused, unreachable, DNS-free: host is an IP literal or "localhost" */
    IG_UPSTREAM_CONNECT_TIMEOUT,
    IG_UPSTREAM_RESET_BEFORE_HEAD, /* connection closed/reset before the status line was complete */
    IG_UPSTREAM_FIRST_BYTE_TIMEOUT,
    IG_UPSTREAM_IDLE_TIMEOUT,      /* silence longer than idle timeout after the head */
    IG_UPSTREAM_CUT,               /* closed/reset after the head, body incomplete */
    IG_UPSTREAM_PROTOCOL_ERROR     /* malformed response */
} ig_upstream_result_t;

/* "connection refused", "timed out waiting for the first byte", ... for logs and client messages */
const char *ig_upstream_result_str(ig_upstream_result_t r);

typedef struct {
    uint64_t connect_timeout_ms;
    uint64_t first_byte_timeout_ms;
    uint64_t idle_timeout_ms;
    unsigned max_idle_per_endpoint;    /* idle keep-alive connections kept per endpoint (default 64) */
    uint64_t keepalive_timeout_ms;     /* idle connection closed after this (default 30s) */
} ig_upstream_limits_t;

typedef struct {
    ig_str_t name, value;
} ig_upstream_header_t;

typedef struct {
    /* status line and headers are complete; headers valid during the call only */
    void (*on_head)(void *data, int status, const ig_upstream_header_t *headers, size_t nheaders);
    /* body bytes, de-chunked; valid during the call only */
    void (*on_body)(void *data, const char *p, size_t len);
    /* last call for this request; after it the req is gone */
    void (*on_done)(void *data, ig_upstream_result_t result);
} ig_upstream_callbacks_t;

typedef struct {
    ig_endpoint_t *endpoint;
    ig_str_t method;                   /* "POST" */
    ig_str_t path;                     /* "/v1/chat/completions" */
    const ig_upstream_header_t *headers; /* extra headers (Content-Type, Accept, ...); Host, Content-Length,
                                            Connection are set by the client */
    size_t nheaders;
    const ig_str_t *body;              /* body pieces, concatenated */
    size_t nbody;
} ig_upstream_request_t;

ig_upstream_pool_t *ig_upstream_pool_create(uv_loop_t *loop, const ig_upstream_limits_t *limits);
/* Updates limits (on reload); applies to requests started afterwards. */
void ig_upstream_pool_set_limits(ig_upstream_pool_t *pool, const ig_upstream_limits_t *limits);
/* Closes every idle connection; in-flight requests must be finished or cancelled first. Frees the pool
 * once the loop has run the close callbacks (call uv_run afterwards). */
void ig_upstream_pool_close(ig_upstream_pool_t *pool);

/*
 * Sends req on an idle keep-alive connection to the endpoint, or a new one.
 * A reused connection that fails before any response byte (the engine closed
 * it while idle) is retried once on a fresh connection, transparently.
 * Returns NULL only on allocation failure.
 */
ig_upstream_req_t *ig_upstream_start(ig_upstream_pool_t *pool, const ig_upstream_request_t *req,
                                     const ig_upstream_callbacks_t *cb, void *data);
/* Backpressure: stop/start reading the response from the socket. */
void ig_upstream_pause(ig_upstream_req_t *r);
void ig_upstream_resume(ig_upstream_req_t *r);
/* Aborts: closes the connection (never returned to the pool); no further callbacks. */
void ig_upstream_cancel(ig_upstream_req_t *r);

#endif
