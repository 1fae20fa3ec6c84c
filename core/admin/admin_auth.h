/*
 * admin_auth.h — the admin API's gate: `Authorization: Bearer <admin key>`
 * whose SHA-256 is one of server.adminKeys. The config holds only hashes, and
 * the comparison is constant-time. Without adminKeys the admin API is off.
 */
#ifndef IG_ADMIN_AUTH_H
#define IG_ADMIN_AUTH_H

#include <h2o.h>
#include "config/config.h"

/* 0 when req carries an admin key; otherwise -1 after sending 401 (or 403 when the admin API is off). */
int ig_admin_authorize(h2o_req_t *req, const ig_server_config_t *server);

#endif
