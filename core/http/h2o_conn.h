/* h2o_conn.h — the socket under a client connection of h2o 2.2 (HTTP/1.1 or HTTP/2), for what h2o has no call for. */
#ifndef IG_HTTP_H2O_CONN_H
#define IG_HTTP_H2O_CONN_H

#include <h2o.h>

/* The connection's socket, or NULL when the connection is not laid out as h2o 2.2's (checked). */
h2o_socket_t *ig_h2o_conn_socket(h2o_conn_t *conn);

#endif
