/* tls_context.c — a listener's TLS contexts and the SNI choice between them (tls_context.h). */
#include "server/tls_context.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <h2o.h>
#include <openssl/err.h>

/* The certificates a listener chooses from by name: sorted by host, for bsearch. */
typedef struct {
    char *host;          /* a copy: the context outlives the configuration it was made from */
    SSL_CTX *ctx;
} sni_entry_t;

typedef struct {
    sni_entry_t *entries;
    size_t n;
    SSL_CTX **ctxs;      /* one per tls.certificates[] item */
    size_t nctxs;
} sni_table_t;

static int sni_index = -1;
static pthread_once_t sni_once = PTHREAD_ONCE_INIT;

static void sni_table_free(sni_table_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nctxs; i++)
        SSL_CTX_free(t->ctxs[i]);
    for (size_t i = 0; i < t->n; i++)
        free(t->entries[i].host);
    free(t->ctxs);
    free(t->entries);
    free(t);
}

/* ex_data's free: the table goes with the listener's context */
static void sni_ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    sni_table_free(ptr);
}

static void sni_init(void)
{
    sni_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, sni_ex_free);
}

static int by_host(const void *a, const void *b)
{
    return strcmp(((const sni_entry_t *)a)->host, ((const sni_entry_t *)b)->host);
}

/* During the handshake: the certificate of the name the client asks for, if one lists it. */
static int on_servername(SSL *ssl, int *alert, void *arg)
{
    (void)alert;
    const sni_table_t *t = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL || t == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    char lower[256];
    size_t n = strlen(name);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n == 0 || n >= sizeof(lower))
        return SSL_TLSEXT_ERR_NOACK;
    for (size_t i = 0; i < n; i++)
        lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    lower[n] = '\0';
    sni_entry_t key = {lower, NULL};
    const sni_entry_t *e = bsearch(&key, t->entries, t->n, sizeof(*t->entries), by_host);
    if (e != NULL && SSL_set_SSL_CTX(ssl, e->ctx) == NULL)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
}

/* One context: a certificate chain and its key. what names it in messages. */
static SSL_CTX *make_ctx(const char *certificate, const char *key, const char *what, char *msg, size_t msgsize)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(msg, msgsize, "%s: cannot create a TLS context: %s", what, ERR_reason_error_string(ERR_get_error()));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, certificate) != 1) {
        snprintf(msg, msgsize, "%s.certificate: cannot load \"%s\": %s", what, certificate,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(msg, msgsize, "%s.key: cannot use \"%s\" with the certificate: %s", what, key,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* after an SNI switch the chosen context answers ALPN: every one offers h2 */
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

SSL_CTX *ig_tls_context(const ig_listen_config_t *l, int index, char *msg, size_t msgsize)
{
    char what[96];
    snprintf(what, sizeof(what), "server.listen[%d].tls", index);
    SSL_CTX *ctx = make_ctx(l->certificate, l->key, what, msg, msgsize);
    if (ctx == NULL || l->ncertificates == 0)
        return ctx;
    pthread_once(&sni_once, sni_init);
    size_t nhosts = 0;
    for (size_t i = 0; i < l->ncertificates; i++)
        nhosts += l->certificates[i].nhosts;
    sni_table_t *t = calloc(1, sizeof(*t));
    if (t == NULL || sni_index < 0 || !(t->entries = calloc(nhosts, sizeof(*t->entries))) ||
        !(t->ctxs = calloc(l->ncertificates, sizeof(*t->ctxs)))) {
        snprintf(msg, msgsize, "%s.certificates: out of memory", what);
        goto fail;
    }
    for (size_t i = 0; i < l->ncertificates; i++) {
        const ig_tls_certificate_t *c = &l->certificates[i];
        char cwhat[160];
        snprintf(cwhat, sizeof(cwhat), "%s.certificates[%zu]", what, i);
        if (!(t->ctxs[i] = make_ctx(c->certificate, c->key, cwhat, msg, msgsize)))
            goto fail;
        t->nctxs++;
        for (size_t h = 0; h < c->nhosts; h++) {
            char *copy = strdup(c->hosts[h]);
            if (copy == NULL) {
                snprintf(msg, msgsize, "%s.certificates: out of memory", what);
                goto fail;
            }
            t->entries[t->n++] = (sni_entry_t){copy, t->ctxs[i]};
        }
    }
    qsort(t->entries, t->n, sizeof(*t->entries), by_host);
    if (SSL_CTX_set_ex_data(ctx, sni_index, t) != 1) {
        snprintf(msg, msgsize, "%s.certificates: out of memory", what);
        goto fail;
    }
    SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
    SSL_CTX_set_tlsext_servername_arg(ctx, t);
    return ctx;
fail:
    sni_table_free(t);
    SSL_CTX_free(ctx);
    return NULL;
}
