/*
 * admin_auth.h — the admin API's gate. A request is the operator's when it carries
 * `Authorization: Bearer <admin key>` whose SHA-256 is one of server.adminKeys (or, without them,
 * the key the gateway generated at first start), or the console's session cookie `ig_admin`;
 * with the cookie, anything but GET/HEAD also needs the session's CSRF token in `X-IG-CSRF` and,
 * when the browser sends one, an Origin of this very site. Hashes are compared in constant time.
 * Without any admin key the admin API is off.
 */
#ifndef IG_ADMIN_AUTH_H
#define IG_ADMIN_AUTH_H

#include <h2o.h>
#include "admin/sessions.h"
#include "config/config.h"

/* Process state behind the gate: made by the server before the workers start, freed after them. */
typedef struct {
    ig_sessions_t *sessions;         /* console and portal sessions, failed logins */
    int has_generated;               /* no server.adminKeys: the generated key's hash applies */
    unsigned char generated[32];
} ig_admin_gate_t;

void ig_admin_gate_install(ig_admin_gate_t *gate);
ig_admin_gate_t *ig_admin_gate(void); /* NULL when none was installed (unit tests) */

/* 0 when req is the operator's; otherwise -1 after sending 401 (403: admin API off, or a cookie
 * request without its CSRF token or from another site). */
int ig_admin_authorize(h2o_req_t *req, const ig_server_config_t *server);

/* The admin keys in force: server.adminKeys, else the generated one. Returns how many. */
size_t ig_admin_keys(const ig_server_config_t *server, const unsigned char (**keys)[32]);
/* 1 when SHA-256(key) is an admin key in force (every key compared), filling hash; else 0. */
int ig_admin_key_matches(const ig_server_config_t *server, const char *key, size_t len, unsigned char hash[32]);

/* The value of cookie `name` (the first one, over every Cookie header). 1 found, 0 not. */
int ig_request_cookie(h2o_req_t *req, const char *name, h2o_iovec_t *value);
/* 1 when a state-changing request comes from this site: no Origin, or Origin == scheme://authority,
 * and no Sec-Fetch-Site other than same-origin/none. */
int ig_request_same_origin(h2o_req_t *req);
/* A header's value by its lowercase name, or an empty iovec (base NULL). */
h2o_iovec_t ig_request_header(h2o_req_t *req, const char *name, size_t len);

#endif
