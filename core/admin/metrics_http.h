/*
 * metrics_http.h — GET /metrics: the workers' request counters (metrics.h) plus
 * what the active generation and the server know at scrape time (queued
 * requests, endpoint health and load, reloads, generation id), in
 * Prometheus's text format.
 */
#ifndef IG_METRICS_HTTP_H
#define IG_METRICS_HTTP_H

#include <h2o.h>

typedef struct ig_worker_s ig_worker_t;

void ig_metrics_http_serve(h2o_req_t *req, ig_worker_t *w);

#endif
