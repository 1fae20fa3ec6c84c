/*
 * metrics_http.h — GET /metrics: the workers' request counters (metrics.h) plus
 * what the active generation and the server know at scrape time (queued
 * requests, endpoint health and load, reloads, generation id), in
 * Prometheus's text format.
 */
#ifndef IG_METRICS_HTTP_H
#define IG_METRICS_HTTP_H

#include <h2o.h>
#include "config/generation.h"
#include "observe/metrics.h"
#include "observe/reload_status.h"
#include "sched/scheduler.h"

/* gen: the generation serving new requests on the calling worker; shards: every worker's counters. */
void ig_metrics_http_serve(h2o_req_t *req, const ig_generation_t *gen, ig_metrics_shard_t *const *shards,
                           size_t nshards, const ig_reload_status_t *reloads, ig_scheduler_t *sched);

#endif
