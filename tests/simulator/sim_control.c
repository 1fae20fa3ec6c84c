#include "sim_control.h"

#include <stdio.h>

#include "sim_fault.h"
#include "sim_http.h"
#include "sim_json.h"
#include "sim_prefix.h"
#include "sim_server.h"
#include "sim_stats.h"

static void send_fault(h2o_req_t *req, sim_fault_state_t s)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"mode\":");
    const char *name = sim_fault_name(s.mode);
    ig_json_write_str(b, name, strlen(name));
    ig_buf_lit(b, ",\"every\":");
    ig_buf_put_u64(b, s.every);
    ig_buf_lit(b, ",\"generation\":");
    ig_buf_put_u64(b, s.generation);
    ig_buf_putc(b, '}');
    sim_http_send_buf(req, 200, b);
}

static void bad(h2o_req_t *req, const char *msg) { sim_http_send_vllm_error(req, 400, "BadRequestError", msg); }

void sim_control_set_fault(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    sj_doc_t *d = &w->json;
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0 || sj_type(d, 0) != SJ_OBJECT) {
        bad(req, "expected a JSON object like {\"mode\":\"500\",\"every\":1}");
        return;
    }
    int64_t mode_i = sj_obj_get(d, 0, "mode"), every_i = sj_obj_get(d, 0, "every"), dur_i = sj_obj_get(d, 0, "duration_ms");
    sim_fault_mode_t mode;
    if (mode_i < 0 || sj_type(d, (uint32_t)mode_i) != SJ_STRING || d->nodes[mode_i].len > 32) {
        bad(req, "\"mode\" must be one of none|refuse|500|hang|close|die-mid-stream|error-mid-stream|stall-mid-stream");
        return;
    }
    char name[32];
    size_t n = sj_str_decode(d, (uint32_t)mode_i, name);
    if (sim_fault_from_name(name, n, &mode) != 0) {
        bad(req, "\"mode\" must be one of none|refuse|500|hang|close|die-mid-stream|error-mid-stream|stall-mid-stream");
        return;
    }
    int64_t every = 1, duration = 0;
    if (every_i >= 0 && sj_type(d, (uint32_t)every_i) != SJ_NULL &&
        (sj_get_int(d, (uint32_t)every_i, &every) != 0 || every < 1 || every > UINT32_MAX)) {
        bad(req, "\"every\" must be an integer >= 1");
        return;
    }
    if (dur_i >= 0 && sj_type(d, (uint32_t)dur_i) != SJ_NULL &&
        (sj_get_int(d, (uint32_t)dur_i, &duration) != 0 || duration < 0)) {
        bad(req, "\"duration_ms\" must be an integer >= 0");
        return;
    }
    int was_refusing = sim_fault_refusing_all();
    uint32_t gen = sim_fault_set(mode, (uint32_t)every);
    if (duration > 0 && mode != SIM_FAULT_NONE)
        sim_server_expire_fault(w, gen, (uint64_t)duration);
    if (sim_fault_refusing_all() != was_refusing)
        sim_server_sync_listeners(w, gen); /* listeners open/close before we answer */
    send_fault(req, sim_fault_get());
}

void sim_control_get_fault(h2o_req_t *req) { send_fault(req, sim_fault_get()); }

void sim_control_stats(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    sim_stats_json(b);
    sim_http_send_buf(req, 200, b);
}

void sim_control_reset_prefix_cache(h2o_req_t *req)
{
    sim_prefix_clear();
    sim_control_stats(req);
}

void sim_control_reset_stats(h2o_req_t *req)
{
    sim_stats_reset();
    sim_control_stats(req);
}
