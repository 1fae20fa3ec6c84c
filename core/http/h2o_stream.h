/*
 * h2o_stream.h — the two things conn_guard.c does to one of h2o 2.2's HTTP/2 streams that need its
 * real layout (h2o_stream.c compiles against Debian's h2o/http2_internal.h).
 */
#ifndef IG_HTTP_H2O_STREAM_H
#define IG_HTTP_H2O_STREAM_H

#include <h2o.h>

/* The h2o_http2_stream_t whose request req is (req must be an HTTP/2 request). */
void *ig_h2o_stream_of_req(h2o_req_t *req);
/* Queues RST_STREAM(code) for stream_id on the connection (code: RFC 9113 §7, positive). */
void ig_h2o_send_rst_stream(void *conn, uint32_t stream_id, int code);

#endif
