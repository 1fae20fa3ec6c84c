#include "observe/request_log.h"
#include <string.h>
#include <time.h>

uint64_t ig_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* /metrics is fed from the same record as the access log, on the worker's own shard. */
static void record_metrics(ig_request_log_t *log, const ig_access_entry_t *e, uint64_t now)
{
    ig_metrics_request_t r = {
        .model = log->metrics_model,
        .status = e->status,
        .duration_us = (now - log->start_ns) / 1000,
        .ttft_us = log->first_byte_ns ? (int64_t)(log->first_byte_ns - log->start_ns) / 1000 : -1,
        .usage = log->has_usage ? &log->usage : NULL,
        .rate_limited = log->rate_limited,
    };
    if (log->principal) {
        r.customer = log->principal->customer_id.ptr;
        r.customer_len = log->principal->customer_id.len;
    }
    ig_metrics_record(log->metrics, &r);
    ig_metrics_model_leave(log->metrics_model);
}

static void on_dispose(void *p)
{
    ig_request_log_t *log = p;
    h2o_req_t *req = log->req;
    uint64_t now = ig_now_ns();
    ig_access_entry_t e = {
        .method = req->method.base,
        .method_len = req->method.len,
        .path = req->path.base,
        .path_len = req->path.len,
        .http_version = req->version,
        /* no status: the client went away before any answer (nginx's 499) */
        .status = log->status ? log->status : req->res.status ? req->res.status : 499,
        .model = log->model,
        .model_len = log->model_len,
        .endpoint = log->endpoint ? log->endpoint->url : NULL,
        .bytes_in = req->entity.len,
        .bytes_out = req->bytes_sent,
        .duration_ms = (double)(now - log->start_ns) / 1e6,
        .ttfb_ms = log->first_byte_ns ? (double)(log->first_byte_ns - log->start_ns) / 1e6 : -1,
        .attempts = log->attempts,
        .outcome = log->outcome,
        .prompt_tokens = log->has_usage ? log->usage.prompt_tokens : -1,
        .completion_tokens = log->has_usage ? log->usage.completion_tokens : -1,
        .audio_seconds = log->has_usage ? log->usage.audio_seconds : -1,
    };
    if (log->principal) {
        e.customer = log->principal->customer_id.ptr;
        e.customer_len = log->principal->customer_id.len;
        e.key_id = log->principal->key_id.ptr;
        e.key_id_len = log->principal->key_id.len;
    }
    ig_access_log_write(log->access_log, &e);
    if (log->api)
        record_metrics(log, &e, now);
    else
        ig_metrics_model_leave(log->metrics_model);
}

ig_request_log_t *ig_request_log_start(h2o_req_t *req, ig_access_log_t *access_log, ig_metrics_shard_t *metrics)
{
    ig_request_log_t *log = h2o_mem_alloc_shared(&req->pool, sizeof(*log), on_dispose);
    memset(log, 0, sizeof(*log));
    log->req = req;
    log->access_log = access_log;
    log->metrics = metrics;
    log->start_ns = ig_now_ns();
    return log;
}

void ig_request_log_set_model(ig_request_log_t *log, const ig_generation_t *gen, const char *name, size_t len)
{
    char *copy = h2o_mem_alloc_pool(&log->req->pool, len);
    memcpy(copy, name, len);
    log->model = copy;
    log->model_len = len;
    /* labelled by the configured name only when the model exists: clients cannot invent label values */
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, name, len, &adapter);
    if (m != NULL && log->metrics_model == NULL && log->metrics != NULL) {
        log->metrics_model = ig_metrics_model(log->metrics, m->cfg->model.name, strlen(m->cfg->model.name));
        ig_metrics_model_enter(log->metrics_model);
    }
}
