/* admin_auth.c — the admin gate: admin keys, console sessions, CSRF (admin_auth.h). */
#include "admin/admin_auth.h"
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <strings.h>
#include "http/openai_error.h"

static ig_admin_gate_t *the_gate;

void ig_admin_gate_install(ig_admin_gate_t *gate)
{
    the_gate = gate; /* before the workers start, cleared after they are gone */
}

ig_admin_gate_t *ig_admin_gate(void)
{
    return the_gate;
}

size_t ig_admin_keys(const ig_server_config_t *server, const unsigned char (**keys)[32])
{
    if (server->nadmin_keys > 0) {
        *keys = (const unsigned char(*)[32])server->admin_key_hashes;
        return server->nadmin_keys;
    }
    if (the_gate != NULL && the_gate->has_generated) {
        *keys = (const unsigned char(*)[32]) & the_gate->generated;
        return 1;
    }
    *keys = NULL;
    return 0;
}

static int hash_in(const unsigned char (*keys)[32], size_t n, const unsigned char digest[32])
{
    int match = 0;
    for (size_t k = 0; k < n; k++) /* no early exit: every key is compared */
        match |= CRYPTO_memcmp(digest, keys[k], 32) == 0;
    return match;
}

int ig_admin_key_matches(const ig_server_config_t *server, const char *key, size_t len, unsigned char hash[32])
{
    const unsigned char (*keys)[32];
    size_t n = ig_admin_keys(server, &keys);
    SHA256((const unsigned char *)key, len, hash);
    return n > 0 && hash_in(keys, n, hash);
}

h2o_iovec_t ig_request_header(h2o_req_t *req, const char *name, size_t len)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, len, -1);
    return i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
}

int ig_request_cookie(h2o_req_t *req, const char *name, h2o_iovec_t *value)
{
    size_t nlen = strlen(name);
    /* HTTP/2 may split cookies over several headers */
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_COOKIE, i)) >= 0;) {
        const char *p = req->headers.entries[i].value.base, *end = p + req->headers.entries[i].value.len;
        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';'))
                p++;
            const char *pair = p;
            while (p < end && *p != ';')
                p++;
            const char *eq = memchr(pair, '=', (size_t)(p - pair));
            if (eq != NULL && (size_t)(eq - pair) == nlen && memcmp(pair, name, nlen) == 0) {
                *value = h2o_iovec_init(eq + 1, (size_t)(p - eq - 1));
                return 1;
            }
        }
    }
    return 0;
}

int ig_request_same_origin(h2o_req_t *req)
{
    h2o_iovec_t site = ig_request_header(req, H2O_STRLIT("sec-fetch-site"));
    if (site.base != NULL && !h2o_memis(site.base, site.len, H2O_STRLIT("same-origin")) &&
        !h2o_memis(site.base, site.len, H2O_STRLIT("none")))
        return 0;
    h2o_iovec_t origin = ig_request_header(req, H2O_STRLIT("origin"));
    if (origin.base == NULL)
        return 1;
    const h2o_url_scheme_t *scheme = req->input.scheme ? req->input.scheme : req->scheme;
    size_t slen = scheme ? scheme->name.len : 0;
    return scheme != NULL && origin.len == slen + 3 + req->input.authority.len &&
           memcmp(origin.base, scheme->name.base, slen) == 0 && memcmp(origin.base + slen, "://", 3) == 0 &&
           strncasecmp(origin.base + slen + 3, req->input.authority.base, req->input.authority.len) == 0;
}

static int method_reads(h2o_req_t *req)
{
    return h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
           h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
}

/* The console's cookie: a live session of a key still in force, and for writes its CSRF token. */
static int authorize_session(h2o_req_t *req, const unsigned char (*keys)[32], size_t n, h2o_iovec_t token)
{
    ig_session_view_t v;
    if (the_gate == NULL || ig_sessions_find(the_gate->sessions, IG_SESSION_ADMIN, token.base, token.len, &v) != 0) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_session",
                      "the console session has ended or is unknown: log in again (POST /ui/api/session)");
        return -1;
    }
    if (!hash_in(keys, n, v.key_hash)) {
        /* the key that opened it was removed from the configuration */
        ig_sessions_close(the_gate->sessions, IG_SESSION_ADMIN, token.base, token.len);
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_session",
                      "the admin key this session logged in with is no longer configured: log in again");
        return -1;
    }
    if (method_reads(req))
        return 0;
    h2o_iovec_t csrf = ig_request_header(req, H2O_STRLIT("x-ig-csrf"));
    if (!ig_request_same_origin(req)) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "csrf_failed",
                      "a cross-site request with the console's cookie is refused");
        return -1;
    }
    if (csrf.len != IG_SESSION_TOKEN_LEN || CRYPTO_memcmp(csrf.base, v.csrf, IG_SESSION_TOKEN_LEN) != 0) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "csrf_failed",
                      "%.*s with the console's cookie needs the session's token in the X-IG-CSRF header",
                      (int)req->method.len, req->method.base);
        return -1;
    }
    return 0;
}

int ig_admin_authorize(h2o_req_t *req, const ig_server_config_t *server)
{
    const unsigned char (*keys)[32];
    size_t n = ig_admin_keys(server, &keys);
    if (n == 0) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "admin_disabled",
                      "the admin API is disabled: configure server.adminKeys (\"sha256:<hex>\" of each admin key)");
        return -1;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    h2o_iovec_t token;
    if (i < 0 && ig_request_cookie(req, "ig_admin", &token))
        return authorize_session(req, keys, n, token);
    h2o_iovec_t v = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    if (v.len <= 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_api_key",
                      "the admin API needs an admin key: Authorization: Bearer <admin key>");
        return -1;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)v.base + 7, v.len - 7, digest);
    if (!hash_in(keys, n, digest)) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_api_key",
                      server->nadmin_keys ? "the admin key given is not one of server.adminKeys"
                                          : "the admin key given is not the one this gateway generated");
        return -1;
    }
    return 0;
}
