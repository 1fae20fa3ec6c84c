/*
 * h2o_conn.c — the socket under an h2o 2.2 client connection (h2o_conn.h).
 *
 * Both h2o 2.2's HTTP/1.1 and HTTP/2 connections start with h2o_conn_t then their socket, and
 * point the socket's data back at themselves: that back pointer is the check.
 */
#include "http/h2o_conn.h"
#include "http/h2o_layout.h"

h2o_socket_t *ig_h2o_conn_socket(h2o_conn_t *conn)
{
    h2o_socket_t *sock = ((ig_h2o_conn_head_t *)conn)->sock;
    return sock != NULL && sock->data == conn ? sock : NULL;
}
