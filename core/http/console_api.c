/* console_api.c — console and portal sessions, the portal cookie (console_api.h). */
#include "http/console_api.h"
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "proxy/auth.h"
#include "server/worker.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_write.h"

#define PATH_IS(p, lit) ((p).len == sizeof(lit) - 1 && memcmp((p).base, lit, sizeof(lit) - 1) == 0)
#define PREFIX_IS(p, lit) ((p).len > sizeof(lit) - 1 && memcmp((p).base, lit, sizeof(lit) - 1) == 0)

static const char *const cookie_names[] = {"ig_admin", "ig_portal"};

static int method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

static void send_json(h2o_req_t *req, int status, ig_buf_t *b)
{
    if (b->failed) {
        ig_buf_free(b);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, b->p, b->len);
    ig_buf_free(b);
}

static int is_tls(h2o_req_t *req)
{
    return req->scheme == &H2O_URL_SCHEME_HTTPS;
}

/* Set-Cookie: the session's token (max_age 0: the cookie is cleared). */
static void set_cookie(h2o_req_t *req, ig_session_kind_t kind, const char *token, long max_age)
{
    char *v = h2o_mem_alloc_pool(&req->pool, 160);
    int n = snprintf(v, 160, "%s=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%ld%s", cookie_names[kind], token,
                     max_age, is_tls(req) ? "; Secure" : "");
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, v, (size_t)n);
}

/* The session's description: its CSRF token, when it ends; for the portal, who logged in. */
static void send_session(h2o_req_t *req, int status, const ig_session_view_t *v, const ig_principal_t *p)
{
    ig_buf_t b = {0};
    ig_buf_lit(&b, "{\"object\":\"session\",\"csrf\":");
    ig_json_write_cstr(&b, v->csrf);
    ig_buf_printf(&b, ",\"expires_at\":%lld,\"idle_timeout\":%lld,\"max_age\":%lld",
                  (long long)(v->expires_at_ms / 1000), (long long)(IG_SESSION_IDLE_MS / 1000),
                  (long long)(IG_SESSION_MAX_MS / 1000));
    if (p != NULL) {
        ig_buf_lit(&b, ",\"customer\":");
        if (p->customer_id.len)
            ig_json_write_str(&b, p->customer_id.ptr, p->customer_id.len);
        else
            ig_buf_lit(&b, "null");
        ig_buf_lit(&b, ",\"key_id\":");
        if (p->key_id.len)
            ig_json_write_str(&b, p->key_id.ptr, p->key_id.len);
        else
            ig_buf_lit(&b, "null");
    }
    ig_buf_lit(&b, "}\n");
    send_json(req, status, &b);
}

static void peer(h2o_req_t *req, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (req->conn->callbacks->get_peername != NULL)
        req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)ss);
}

/* {"key": "..."} into key (NUL-terminated). 0, or -1 after answering 400. */
static int read_key(h2o_req_t *req, char *key, size_t cap, size_t *len)
{
    ig_json_value_t body, v;
    if (ig_json_validate_value(req->entity.base ? req->entity.base : "", req->entity.len, NULL, &body) != 0 ||
        body.type != IG_JSON_OBJECT) {
        ig_send_error(req, 400, "invalid_request_error", NULL, "invalid_json",
                      "the body must be a JSON object: {\"key\": \"...\"}");
        return -1;
    }
    if (ig_json_object_get(&body, "key", 3, &v) != 1 || v.type != IG_JSON_STRING ||
        ig_json_string_unescape(&v, key, cap - 1, len) != 0 || *len == 0 || memchr(key, '\0', *len) != NULL) {
        ig_send_error(req, 400, "invalid_request_error", "key", "invalid_key",
                      "\"key\" must be a non-empty string of at most %zu bytes", cap - 1);
        return -1;
    }
    key[*len] = '\0';
    return 0;
}

/* Login limits and this-site-only: 0 to go on, -1 answered. */
static int login_precheck(h2o_req_t *req, ig_admin_gate_t *gate)
{
    if (!ig_request_same_origin(req)) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "csrf_failed", "a cross-site login is refused");
        return -1;
    }
    struct sockaddr_storage ss;
    peer(req, &ss);
    int retry = 0;
    if (ig_login_allowed(gate->sessions, (struct sockaddr *)&ss, &retry) != 0) {
        char *v = h2o_mem_alloc_pool(&req->pool, 24);
        int n = snprintf(v, 24, "%d", retry);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, v, (size_t)n);
        ig_send_error(req, 429, "rate_limit_exceeded", NULL, "too_many_failed_logins",
                      "too many failed logins from this address: try again in %d s", retry);
        return -1;
    }
    return 0;
}

static void login_failed(h2o_req_t *req, ig_admin_gate_t *gate)
{
    struct sockaddr_storage ss;
    peer(req, &ss);
    ig_login_failed(gate->sessions, (struct sockaddr *)&ss);
}

/* ---- the console -------------------------------------------------------------------------- */

static void admin_login(ig_worker_t *w, h2o_req_t *req, ig_admin_gate_t *gate)
{
    const ig_server_config_t *sc = &w->gen->config->server;
    const unsigned char (*keys)[32];
    if (ig_admin_keys(sc, &keys) == 0) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "admin_disabled",
                      "the console is disabled: configure server.adminKeys (\"sha256:<hex>\" of each admin key)");
        return;
    }
    if (login_precheck(req, gate) != 0)
        return;
    char key[1024];
    size_t len;
    if (read_key(req, key, sizeof(key), &len) != 0)
        return;
    unsigned char hash[32];
    int ok = ig_admin_key_matches(sc, key, len, hash);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        login_failed(req, gate);
        ig_send_error(req, 401, "invalid_request_error", "key", "invalid_api_key", "wrong admin key");
        return;
    }
    char token[IG_SESSION_TOKEN_LEN + 1];
    ig_session_view_t v;
    if (ig_sessions_open(gate->sessions, IG_SESSION_ADMIN, hash, NULL, 0, token, &v) != 0) {
        ig_send_error(req, 500, "server_error", NULL, NULL, "cannot open a session (out of memory)");
        return;
    }
    set_cookie(req, IG_SESSION_ADMIN, token, (long)(IG_SESSION_MAX_MS / 1000));
    OPENSSL_cleanse(token, sizeof(token));
    send_session(req, 200, &v, NULL);
}

/* ---- the portal: the key is the auth plugin's to judge, now or later ------------------------ */

typedef struct {
    ig_auth_stage_t auth;
    ig_worker_request_t tracked;
    ig_worker_t *worker;
    ig_worker_gen_t *hold;
    h2o_req_t *req;
    ig_admin_gate_t *gate;
    char *key;                       /* pool memory, wiped when the request goes */
    size_t len;
    int tracking;
} portal_login_t;

static void portal_untrack(portal_login_t *c)
{
    if (c->tracking) {
        c->tracking = 0;
        ig_worker_untrack(c->worker, &c->tracked);
    }
}

static void portal_settled(portal_login_t *c, int rc)
{
    if (rc != 0) { /* answered: 401 or the plugin's error */
        login_failed(c->req, c->gate);
        return;
    }
    char token[IG_SESSION_TOKEN_LEN + 1];
    ig_session_view_t v;
    if (ig_sessions_open(c->gate->sessions, IG_SESSION_PORTAL, NULL, c->key, c->len, token, &v) != 0) {
        ig_send_error(c->req, 500, "server_error", NULL, NULL, "cannot open a session (out of memory)");
        return;
    }
    set_cookie(c->req, IG_SESSION_PORTAL, token, (long)(IG_SESSION_MAX_MS / 1000));
    OPENSSL_cleanse(token, sizeof(token));
    OPENSSL_cleanse(&v.api_key, sizeof(v.api_key));
    send_session(c->req, 200, &v, c->auth.principal);
}

static void on_portal_auth(ig_auth_stage_t *s, int rc)
{
    portal_login_t *c = (portal_login_t *)((char *)s - offsetof(portal_login_t, auth));
    portal_untrack(c);
    portal_settled(c, rc);
}

static void portal_cut(ig_worker_request_t *t)
{
    portal_login_t *c = (portal_login_t *)((char *)t - offsetof(portal_login_t, tracked));
    ig_auth_cancel(&c->auth);
    portal_untrack(c);
    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(c->req, 503, "server_error", NULL, "shutting_down", "the gateway is shutting down");
}

static void portal_dispose(void *arg)
{
    portal_login_t *c = arg;
    ig_auth_cancel(&c->auth);
    portal_untrack(c);
    if (c->key != NULL)
        OPENSSL_cleanse(c->key, c->len);
    ig_worker_gen_release(c->worker, c->hold);
}

static void portal_login(ig_worker_t *w, h2o_req_t *req, ig_admin_gate_t *gate)
{
    if (w->gen->auth == NULL) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "portal_disabled",
                      "the portal needs an auth plugin that knows customers (plugins.load: apikey)");
        return;
    }
    if (login_precheck(req, gate) != 0)
        return;
    char key[IG_SESSION_MAX_API_KEY + 2];
    size_t len;
    if (read_key(req, key, sizeof(key), &len) != 0)
        return;
    portal_login_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), portal_dispose);
    memset(c, 0, sizeof(*c));
    c->worker = w;
    c->hold = ig_worker_gen_acquire(w);
    c->req = req;
    c->gate = gate;
    c->key = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(c->key, key, len + 1);
    c->len = len;
    OPENSSL_cleanse(key, sizeof(key));
    int rc = ig_auth_start_key(&c->auth, req, c->hold->gen, c->key, c->len, on_portal_auth);
    if (rc == IG_PENDING) {
        c->tracking = 1;
        ig_worker_track(w, &c->tracked, portal_cut);
        return;
    }
    portal_settled(c, rc);
}

/* ---- both ---------------------------------------------------------------------------------- */

/* GET: the session's token again (a reloaded page); DELETE: logout. */
static void session_get_delete(ig_worker_t *w, h2o_req_t *req, ig_admin_gate_t *gate, ig_session_kind_t kind)
{
    h2o_iovec_t token;
    ig_session_view_t v;
    int found = ig_request_cookie(req, cookie_names[kind], &token) &&
                ig_sessions_find(gate->sessions, kind, token.base, token.len, &v) == 0;
    if (found && kind == IG_SESSION_ADMIN) {
        const unsigned char (*keys)[32];
        size_t n = ig_admin_keys(&w->gen->config->server, &keys);
        int live = 0;
        for (size_t i = 0; i < n; i++)
            live |= CRYPTO_memcmp(keys[i], v.key_hash, 32) == 0;
        if (!live) {
            ig_sessions_close(gate->sessions, kind, token.base, token.len);
            found = 0;
        }
    }
    if (method_is(req, "DELETE")) {
        if (found) {
            h2o_iovec_t csrf = ig_request_header(req, H2O_STRLIT("x-ig-csrf"));
            if (!ig_request_same_origin(req) || csrf.len != IG_SESSION_TOKEN_LEN ||
                CRYPTO_memcmp(csrf.base, v.csrf, IG_SESSION_TOKEN_LEN) != 0) {
                ig_send_error(req, 403, "invalid_request_error", NULL, "csrf_failed",
                              "logging out needs the session's token in the X-IG-CSRF header");
                return;
            }
            ig_sessions_close(gate->sessions, kind, token.base, token.len);
        }
        set_cookie(req, kind, "", 0);
        ig_buf_t b = {0};
        ig_buf_lit(&b, "{\"object\":\"session\",\"deleted\":true}\n");
        send_json(req, 200, &b);
        return;
    }
    OPENSSL_cleanse(v.api_key, sizeof(v.api_key));
    if (!found) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_session",
                      "no session: log in (POST %s)", kind == IG_SESSION_ADMIN ? "/ui/api/session" : "/portal/api/session");
        return;
    }
    send_session(req, 200, &v, NULL);
}

void ig_console_session_serve(ig_worker_t *w, h2o_req_t *req, ig_session_kind_t kind)
{
    ig_admin_gate_t *gate = ig_admin_gate();
    if (gate == NULL) {
        ig_send_error(req, 503, "server_error", NULL, NULL, "sessions are not available");
        return;
    }
    if (method_is(req, "POST")) {
        if (kind == IG_SESSION_ADMIN)
            admin_login(w, req, gate);
        else
            portal_login(w, req, gate);
    } else if (method_is(req, "GET") || method_is(req, "HEAD") || method_is(req, "DELETE")) {
        session_get_delete(w, req, gate, kind);
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, POST, DELETE"));
        ig_send_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "%.*s is not allowed on a session (use GET, POST or DELETE)", (int)req->method.len,
                      req->method.base);
    }
}

int ig_console_portal_cookie(h2o_req_t *req, h2o_iovec_t path)
{
    if (!(PATH_IS(path, "/v1/models") || PREFIX_IS(path, "/v1/models/") || PATH_IS(path, "/v1/me") ||
          PREFIX_IS(path, "/v1/me/") || (PREFIX_IS(path, "/portal/api/") && !PATH_IS(path, "/portal/api/session"))))
        return 0;
    ig_admin_gate_t *gate = ig_admin_gate();
    h2o_iovec_t token;
    if (gate == NULL || h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1) >= 0 ||
        h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-api-key"), -1) >= 0 ||
        !ig_request_cookie(req, "ig_portal", &token))
        return 0;
    ig_session_view_t v;
    if (ig_sessions_find(gate->sessions, IG_SESSION_PORTAL, token.base, token.len, &v) != 0)
        return 0; /* no key: the auth plugin refuses it as it refuses any anonymous call */
    int reads = method_is(req, "GET") || method_is(req, "HEAD");
    if (!reads) {
        h2o_iovec_t csrf = ig_request_header(req, H2O_STRLIT("x-ig-csrf"));
        if (!ig_request_same_origin(req) || csrf.len != IG_SESSION_TOKEN_LEN ||
            CRYPTO_memcmp(csrf.base, v.csrf, IG_SESSION_TOKEN_LEN) != 0) {
            OPENSSL_cleanse(v.api_key, sizeof(v.api_key));
            ig_send_error(req, 403, "invalid_request_error", NULL, "csrf_failed",
                          "%.*s with the portal's cookie needs the session's token in the X-IG-CSRF header",
                          (int)req->method.len, req->method.base);
            return -1;
        }
    }
    char *authz = h2o_mem_alloc_pool(&req->pool, v.api_key_len + 8);
    memcpy(authz, "Bearer ", 7);
    memcpy(authz + 7, v.api_key, v.api_key_len);
    OPENSSL_cleanse(v.api_key, sizeof(v.api_key));
    h2o_add_header(&req->pool, &req->headers, H2O_TOKEN_AUTHORIZATION, NULL, authz, v.api_key_len + 7);
    return 0;
}
