/*
 * tls_context.h — the TLS context of a listener: its certificate, and the certificates of
 * tls.certificates chosen by the name a client asks for (SNI), each with TLS 1.2+ and ALPN h2 then
 * http/1.1. A client naming no host, or one no certificate lists, gets the listener's certificate.
 */
#ifndef IG_TLS_CONTEXT_H
#define IG_TLS_CONTEXT_H

#include <stddef.h>
#include <openssl/ssl.h>
#include "config/config.h"

/* The context for l; the SNI certificates' contexts are freed with it (SSL_CTX_free). NULL with msg. */
SSL_CTX *ig_tls_context(const ig_listen_config_t *l, int index, char *msg, size_t msgsize);

#endif
