/*
 * h2o_stream.c — see h2o_stream.h. Compiled with http/khash_stub on its include path.
 */
#include "http/h2o_stream.h"
#include <stddef.h>
#include <h2o/http2.h>
#include <h2o/http2_internal.h>
#include "http/h2o_layout.h"

/* h2o_layout.h's mirror of the stream's head must agree with the real thing */
_Static_assert(offsetof(h2o_http2_stream_t, stream_id) == offsetof(ig_h2o_stream_head_t, stream_id), "stream_id");
_Static_assert(offsetof(h2o_http2_stream_t, state) == offsetof(ig_h2o_stream_head_t, state), "state");
_Static_assert(offsetof(h2o_http2_conn_t, sock) == offsetof(ig_h2o_conn_head_t, sock), "sock");

void *ig_h2o_stream_of_req(h2o_req_t *req)
{
    return (char *)req - offsetof(h2o_http2_stream_t, req);
}

void ig_h2o_send_rst_stream(void *conn_, uint32_t stream_id, int code)
{
    h2o_http2_conn_t *conn = conn_;
    h2o_http2__encode_rst_stream_frame(&conn->_write.buf, stream_id, code);
    h2o_http2_conn_request_write(conn);
}
