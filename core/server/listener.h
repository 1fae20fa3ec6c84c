/*
 * listener.h — listening sockets for server.listen (their TLS contexts: tls_context.h).
 */
#ifndef IG_LISTENER_H
#define IG_LISTENER_H

#include <stddef.h>
#include "config/config.h"

/* A bound, listening, non-blocking socket with SO_REUSEPORT, so every worker can have its own. -1 with msg. */
int ig_listener_bind(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

#endif
