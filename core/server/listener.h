/*
 * listener.h — listening sockets and TLS contexts for server.listen.
 */
#ifndef IG_LISTENER_H
#define IG_LISTENER_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "config/config.h"

/* A bound, listening, non-blocking socket with SO_REUSEPORT, so every worker can have its own. -1 with msg. */
int ig_listener_bind(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

/* A server SSL_CTX for l (certificate chain + key, TLS 1.2+, ALPN h2 then http/1.1). NULL with msg. */
SSL_CTX *ig_listener_tls_context(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

#endif
