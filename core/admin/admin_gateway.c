/* admin_gateway.c — GET /admin/gateway (admin_gateway.h). */
#include "admin/admin_gateway.h"
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "util/json_write.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ig_admin_gateway_serve(h2o_req_t *req, const ig_generation_t *gen, const ig_gateway_info_t *info)
{
    if (ig_admin_authorize(req, &gen->config->server) != 0)
        return;
    int64_t now = now_ms();
    ig_buf_t b = {0};
    ig_buf_lit(&b, "{\"object\":\"gateway\",\"version\":");
    ig_json_write_cstr(&b, info->version);
    ig_buf_printf(&b, ",\"started_at\":");
    ig_json_write_time_ms(&b, info->started_at_ms);
    ig_buf_printf(&b, ",\"uptime_seconds\":%lld,\"config_path\":", (long long)((now - info->started_at_ms) / 1000));
    ig_json_write_cstr(&b, info->config_path);
    ig_buf_printf(&b, ",\"workers\":%u,\"listen\":[", info->workers);
    for (size_t i = 0; i < info->nlisten; i++) {
        ig_buf_puts(&b, i ? ",{\"address\":" : "{\"address\":");
        ig_json_write_cstr(&b, info->listen[i]);
        ig_buf_printf(&b, ",\"tls\":%s}", info->listen_tls[i] ? "true" : "false");
    }
    ig_buf_printf(&b, "],\"generation\":{\"id\":%llu,\"created_at\":", (unsigned long long)gen->id);
    ig_json_write_time_ms(&b, (int64_t)gen->created_at * 1000);
    ig_buf_printf(&b, ",\"models\":%zu,\"plugins\":%zu},\"reloads\":{\"ok\":%llu,\"failed\":%llu,\"last\":", gen->nmodels,
                  gen->nplugins, (unsigned long long)atomic_load(&info->reloads->ok),
                  (unsigned long long)atomic_load(&info->reloads->failed));
    ig_reload_snapshot_t last;
    ig_reload_status_read(info->reloads, &last);
    /* the last reload: its outcome is whichever came later */
    if (last.last_ok_at == 0 && last.last_error_at == 0)
        ig_buf_lit(&b, "null");
    else if (last.last_ok_at >= last.last_error_at) {
        ig_buf_lit(&b, "{\"outcome\":\"ok\",\"at\":");
        ig_json_write_time_ms(&b, last.last_ok_at);
        ig_buf_printf(&b, ",\"duration_ms\":%.3f}", (double)atomic_load(&info->reloads->last_us) / 1e3);
    } else {
        ig_buf_lit(&b, "{\"outcome\":\"failed\",\"at\":");
        ig_json_write_time_ms(&b, last.last_error_at);
        ig_buf_lit(&b, ",\"error\":");
        ig_json_write_cstr(&b, last.last_error);
        ig_buf_lit(&b, "}");
    }
    ig_buf_lit(&b, ",\"last_ok_at\":");
    ig_json_write_time_ms(&b, last.last_ok_at);
    ig_buf_lit(&b, ",\"last_error\":");
    if (last.last_error_at == 0) {
        ig_buf_lit(&b, "null");
    } else {
        ig_buf_lit(&b, "{\"message\":");
        ig_json_write_cstr(&b, last.last_error);
        ig_buf_lit(&b, ",\"at\":");
        ig_json_write_time_ms(&b, last.last_error_at);
        ig_buf_lit(&b, "}");
    }
    ig_buf_lit(&b, "},\"state_dir\":");
    ig_json_write_cstr(&b, gen->config->server.state_dir);
    ig_buf_lit(&b, ",\"ui_dir\":");
    ig_json_write_cstr(&b, gen->config->server.ui.dir);
    ig_buf_lit(&b, ",\"admin_key\":");
    ig_json_write_cstr(&b, gen->config->server.nadmin_keys ? "configured" : info->admin_key);
    ig_buf_lit(&b, ",\"admin_key_file\":");
    ig_json_write_cstr(&b, gen->config->server.nadmin_keys ? NULL : info->admin_key_file);
    ig_admin_gate_t *gate = ig_admin_gate();
    ig_buf_printf(&b, ",\"sessions\":{\"console\":%zu,\"portal\":%zu}}\n",
                  gate ? ig_sessions_count(gate->sessions, IG_SESSION_ADMIN) : 0,
                  gate ? ig_sessions_count(gate->sessions, IG_SESSION_PORTAL) : 0);
    if (b.failed) {
        ig_buf_free(&b);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, b.p, b.len);
    ig_buf_free(&b);
}
