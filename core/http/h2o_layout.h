/*
 * h2o_layout.h — the few h2o 2.2 internals the hooks read (conn_guard.c).
 *
 * Debian installs h2o/http2_internal.h but not the khash.h it includes, so the hooks cannot use it.
 * These are the leading fields of h2o 2.2's own structures, declared here by their documented
 * layout and checked at run time where a check is possible (conn_guard.c: a connection's socket
 * points back to it). Another h2o version must be looked at again: the build refuses it.
 */
#ifndef IG_HTTP_H2O_LAYOUT_H
#define IG_HTTP_H2O_LAYOUT_H

#include <h2o.h>

#if H2O_VERSION_MAJOR != 2 || H2O_VERSION_MINOR != 2
#error "core/http/h2o_layout.h describes h2o 2.2's internals: check them against this h2o version"
#endif

#define IG_H2_FRAME_DATA 0
#define IG_H2_FRAME_RST_STREAM 3
#define IG_H2_FRAME_FLAG_END_STREAM 1
#define IG_H2_STREAM_STATE_RECV_BODY 2  /* the request's body is being received: no handler has it yet */
#define IG_H2_STREAM_STATE_END_STREAM 7 /* h2o_http2_stream_state_t's last state: the response was sent */

typedef struct {
    uint32_t length;
    uint8_t type;
    uint8_t flags;
    uint32_t stream_id;
    const uint8_t *payload;
} ig_h2o_frame_t; /* h2o_http2_frame_t */

typedef struct {
    h2o_iovec_t *name;
    h2o_iovec_t *value;
    const char *err_desc;
} ig_h2o_hpack_entry_t; /* h2o_hpack_header_table_entry_t */

typedef struct {
    ig_h2o_hpack_entry_t *entries;
    size_t num_entries, entry_capacity, entry_start_index;
    size_t hpack_size, hpack_capacity, hpack_max_capacity;
} ig_h2o_hpack_table_t; /* h2o_hpack_header_table_t */

typedef struct {
    h2o_conn_t super;
    h2o_socket_t *sock;
} ig_h2o_conn_head_t; /* the start of h2o_http2_conn_t */

typedef struct {
    uint32_t stream_id;
    h2o_ostream_t _ostr_final;
    int state;
} ig_h2o_stream_head_t; /* the start of h2o_http2_stream_t */

#endif
