#include "admin/admin_replicas.h"
#include <stdlib.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"

void ig_admin_replicas_serve(h2o_req_t *req, const ig_generation_t *gen, ig_scheduler_t *sched)
{
    if (ig_admin_authorize(req, &gen->config->server) != 0)
        return;
    size_t len = 0;
    char *json = ig_scheduler_render_json(sched, &len);
    if (json == NULL) {
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory rendering the replicas");
        return;
    }
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, json, len); /* copies */
    free(json);
}
