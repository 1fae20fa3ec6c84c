/*
 * listener.h — listening sockets for server.listen (their TLS contexts: tls_context.h).
 */
#ifndef IG_LISTENER_H
#define IG_LISTENER_H

#include <stddef.h>
#include "config/config.h"

/*
 * 0 when nothing listens on l's address, or -1 with msg ("address in use" naming it). The workers'
 * sockets share the port with SO_REUSEPORT, which would as gladly share it with a second infergate;
 * a bind without SO_REUSEPORT fails on any socket listening there, so a second instance exits here.
 * Called once per address before the workers bind (a start at the same instant by two processes
 * could still pass both claims).
 */
int ig_listener_claim(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

/* A bound, listening, non-blocking socket with SO_REUSEPORT, so every worker can have its own. -1 with msg. */
int ig_listener_bind(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

#endif
