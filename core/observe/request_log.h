/*
 * request_log.h — the access-log record of one request, written when h2o
 * disposes the request, whatever way it ended. Handlers fill in what they
 * learn (model, endpoint, outcome) as they go.
 */
#ifndef IG_REQUEST_LOG_H
#define IG_REQUEST_LOG_H

#include <h2o.h>
#include "upstream/endpoint.h"
#include "infergate/plugin.h"
#include "config/generation.h"
#include "observe/access_log.h"
#include "observe/metrics.h"

typedef struct {
    h2o_req_t *req;
    ig_access_log_t *access_log;    /* where the line goes */
    ig_metrics_shard_t *metrics;    /* the worker's /metrics counters, or NULL */
    uint64_t start_ns;
    uint64_t first_byte_ns;   /* 0 until the first response byte is handed to h2o */
    const char *model;        /* pool memory */
    size_t model_len;
    const ig_endpoint_t *endpoint; /* endpoints live as long as the registry */
    unsigned attempts;
    const char *outcome;      /* static string; NULL = "ok" */
    int status;               /* logged and counted instead of the response's when not 0 (an engine
                                 error after a 200: ig_engine_req_t.stream_error_status) */
    const ig_principal_t *principal; /* the caller, when an auth plugin knows it (pool memory) */
    ig_usage_t usage;         /* what the engine reported; fields -1 where unknown */
    unsigned has_usage : 1;   /* the request reached an engine adapter */
    unsigned rate_limited : 1;/* refused by a rate limiter (429) */
    unsigned api : 1;         /* an OpenAI API request: counted in /metrics when it ends */
    struct ig_metrics_model_s *metrics_model; /* the worker's /metrics entry of the resolved model, or NULL */
} ig_request_log_t;

ig_request_log_t *ig_request_log_start(h2o_req_t *req, ig_access_log_t *access_log, ig_metrics_shard_t *metrics);
/* The model the request asked for; labelled in /metrics only when gen (the request's) has it. */
void ig_request_log_set_model(ig_request_log_t *log, const ig_generation_t *gen, const char *name, size_t len);
uint64_t ig_now_ns(void);

#endif
