/*
 * admin_gateway.h — GET /admin/gateway: what the console's overview shows of the process: version,
 * uptime, the generation serving, the last reload and how it went, the config file, the workers,
 * the addresses it listens on, and how the admin key was set.
 */
#ifndef IG_ADMIN_GATEWAY_H
#define IG_ADMIN_GATEWAY_H

#include <h2o.h>
#include "config/generation.h"
#include "observe/reload_status.h"

typedef struct {
    const char *version;
    int64_t started_at_ms;           /* unix ms */
    const char *config_path;
    unsigned workers;
    char **listen;                   /* as bound at start ("127.0.0.1:8080"), nlisten of them */
    int *listen_tls;
    size_t nlisten;
    const char *admin_key;           /* "configured" (server.adminKeys) or "generated" */
    const char *admin_key_file;      /* the generated key's hash file, or NULL */
    const ig_reload_status_t *reloads;
} ig_gateway_info_t;

void ig_admin_gateway_serve(h2o_req_t *req, const ig_generation_t *gen, const ig_gateway_info_t *info);

#endif
