/* admin_generation.c — GET /admin/generation (admin_generation.h). */
#include "util/json.h"
#include "admin/admin_generation.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "util/json_write.h"

void ig_admin_generation_serve(h2o_req_t *req, const ig_generation_t *gen, const ig_reload_status_t *reloads)
{
    if (ig_admin_authorize(req, &gen->config->server) != 0)
        return;
    ig_buf_t b = {0};
    ig_buf_printf(&b, "{\"object\":\"generation\",\"id\":%llu,\"created\":%lld,\"created_at\":",
                  (unsigned long long)gen->id, (long long)gen->created_at);
    ig_json_write_time_ms(&b, (int64_t)gen->created_at * 1000);
    ig_buf_printf(&b, ",\"config_path\":");
    ig_json_write_cstr(&b, gen->config->path);
    ig_buf_printf(&b, ",\"models\":%zu,\"plugins\":[", gen->nmodels);
    for (size_t j = 0; j < gen->nplugins; j++) {
        const ig_plugin_t *d = gen->plugins[j].desc;
        ig_buf_printf(&b, "%s{\"name\":", j ? "," : "");
        ig_json_write_cstr(&b, d->name);
        ig_buf_printf(&b, ",\"version\":");
        ig_json_write_cstr(&b, d->version);
        ig_buf_printf(&b, ",\"path\":");
        ig_json_write_cstr(&b, gen->config->plugins[j].plugin ? gen->config->plugins[j].plugin->path : NULL);
        ig_buf_printf(&b, "}");
    }
    ig_buf_printf(&b, "],\"reloads\":{\"ok\":%llu,\"failed\":%llu,\"last_ok_at\":",
                  (unsigned long long)atomic_load(&reloads->ok), (unsigned long long)atomic_load(&reloads->failed));
    ig_reload_snapshot_t last;
    ig_reload_status_read(reloads, &last);
    ig_json_write_time_ms(&b, last.last_ok_at);
    ig_buf_printf(&b, ",\"last_duration_ms\":%.3f,\"last_error\":", (double)atomic_load(&reloads->last_us) / 1e3);
    if (last.last_error_at == 0) {
        ig_buf_printf(&b, "null");
    } else {
        ig_buf_printf(&b, "{\"message\":");
        ig_json_write_cstr(&b, last.last_error);
        ig_buf_printf(&b, ",\"at\":");
        ig_json_write_time_ms(&b, last.last_error_at);
        ig_buf_printf(&b, "}");
    }
    ig_buf_printf(&b, "}}\n");
    if (b.failed) {
        free(b.p);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, b.p, b.len);
    free(b.p);
}
