/* metrics_http.c — GET /metrics (metrics_http.h). */
#include "admin/metrics_http.h"
#include "http/h2_guard.h"
#include <stdlib.h>
#include <string.h>
#include "observe/metrics.h"
#include "http/openai_error.h"

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t) * (void *const *)a, y = (uintptr_t) * (void *const *)b;
    return (x > y) - (x < y);
}

/* Every endpoint the generation's models list, each once (models may share endpoints). */
static ig_endpoint_t **distinct_endpoints(const ig_generation_t *gen, size_t *n_out)
{
    size_t total = 0;
    for (size_t i = 0; i < gen->nmodels; i++)
        total += gen->models[i].nendpoints;
    ig_endpoint_t **eps = malloc((total ? total : 1) * sizeof(*eps));
    if (eps == NULL) {
        *n_out = 0;
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < gen->nmodels; i++)
        for (size_t e = 0; e < gen->models[i].nendpoints; e++)
            eps[n++] = gen->models[i].endpoints[e];
    qsort(eps, n, sizeof(*eps), cmp_ptr);
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (out == 0 || eps[out - 1] != eps[i])
            eps[out++] = eps[i];
    *n_out = out;
    return eps;
}

static void put_endpoint_gauge(ig_buf_t *b, const char *name, const ig_endpoint_t *ep, unsigned long long v)
{
    ig_buf_printf(b, "%s{endpoint=\"", name);
    ig_metrics_buf_label(b, ep->url, strlen(ep->url));
    ig_buf_printf(b, "\"} %llu\n", v);
}

static void render_generation(ig_buf_t *b, const ig_reload_status_t *reloads, const ig_generation_t *gen)
{
    ig_metrics_buf_family(b, "infergate_requests_queued", "gauge",
                          "Requests waiting for a ready endpoint, by model of the active generation.");
    for (size_t i = 0; i < gen->nmodels; i++) {
        const char *name = gen->models[i].cfg->model.name;
        ig_buf_printf(b, "infergate_requests_queued{model=\"");
        ig_metrics_buf_label(b, name, strlen(name));
        ig_buf_printf(b, "\"} %u\n", atomic_load_explicit(&gen->models[i].queued, memory_order_relaxed));
    }
    size_t neps;
    ig_endpoint_t **eps = distinct_endpoints(gen, &neps);
    ig_metrics_buf_family(b, "infergate_endpoint_healthy", "gauge", "1 while the endpoint is routed to, 0 while ejected.");
    for (size_t i = 0; i < neps; i++)
        put_endpoint_gauge(b, "infergate_endpoint_healthy", eps[i],
                           (unsigned long long)(atomic_load_explicit(&eps[i]->healthy, memory_order_relaxed) != 0));
    ig_metrics_buf_family(b, "infergate_endpoint_in_flight", "gauge", "Requests being proxied to the endpoint now.");
    for (size_t i = 0; i < neps; i++)
        put_endpoint_gauge(b, "infergate_endpoint_in_flight", eps[i],
                           atomic_load_explicit(&eps[i]->in_flight, memory_order_relaxed));
    ig_metrics_buf_family(b, "infergate_endpoint_engine_load", "gauge",
                          "Requests running and waiting in the engine as it last reported them (0: unknown).");
    for (size_t i = 0; i < neps; i++)
        put_endpoint_gauge(b, "infergate_endpoint_engine_load", eps[i],
                           atomic_load_explicit(&eps[i]->engine_load, memory_order_relaxed));
    free(eps);
    ig_metrics_buf_family(b, "infergate_reloads_total", "counter", "Configuration reloads (SIGHUP), by result.");
    ig_buf_printf(b, "infergate_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)atomic_load(&reloads->ok));
    ig_buf_printf(b, "infergate_reloads_total{result=\"failed\"} %llu\n",
                  (unsigned long long)atomic_load(&reloads->failed));
    ig_metrics_buf_family(b, "infergate_reload_duration_seconds", "gauge",
                          "How long the last successful reload took, from reading the file to the swap (0: none yet).");
    ig_buf_printf(b, "infergate_reload_duration_seconds %.6f\n", (double)atomic_load(&reloads->last_us) / 1e6);
    ig_metrics_buf_family(b, "infergate_generation", "gauge", "Id of the configuration generation serving new requests.");
    ig_buf_printf(b, "infergate_generation %llu\n", (unsigned long long)gen->id);
    ig_metrics_buf_family(b, "infergate_generation_created_seconds", "gauge",
                          "Unix time the serving generation was loaded.");
    ig_buf_printf(b, "infergate_generation_created_seconds %lld\n", (long long)gen->created_at);
}

/* infergate's own HTTP/2 bounds (http/h2_guard.c): what they refused since start */
static void render_h2_guard(ig_buf_t *b)
{
    ig_h2_guard_stats_t st;
    ig_h2_guard_stats(&st);
    ig_metrics_buf_family(b, "infergate_h2_resets_total", "counter",
                          "HTTP/2 stream resets by clients, charged to their connection's server.clientLimits.h2ResetBudget.");
    ig_buf_printf(b, "infergate_h2_resets_total %llu\n", (unsigned long long)st.resets_charged);
    ig_metrics_buf_family(b, "infergate_h2_connections_ended_total", "counter",
                          "HTTP/2 connections ended with GOAWAY ENHANCE_YOUR_CALM, by bound.");
    ig_buf_printf(b, "infergate_h2_connections_ended_total{bound=\"h2ResetBudget\"} %llu\n",
                  (unsigned long long)st.connections_ended);
    ig_buf_printf(b, "infergate_h2_connections_ended_total{bound=\"maxHeaderListBytes\"} %llu\n",
                  (unsigned long long)st.header_blocks_refused);
    ig_metrics_buf_family(b, "infergate_h2_bodies_refused_total", "counter",
                          "HTTP/2 streams refused (RST_STREAM) for their request body, by bound.");
    ig_buf_printf(b, "infergate_h2_bodies_refused_total{bound=\"maxBodySize\"} %llu\n", (unsigned long long)st.bodies_too_large);
    ig_buf_printf(b, "infergate_h2_bodies_refused_total{bound=\"key\"} %llu\n", (unsigned long long)st.bodies_keyless);
    ig_buf_printf(b, "infergate_h2_bodies_refused_total{bound=\"bodyBudgetBytes\"} %llu\n", (unsigned long long)st.bodies_busy);
}

void ig_metrics_http_serve(h2o_req_t *req, const ig_generation_t *gen, ig_metrics_shard_t *const *shards,
                           size_t nshards, const ig_reload_status_t *reloads, ig_scheduler_t *sched)
{
    ig_buf_t b = {0};
    ig_metrics_render(shards, nshards, &b);
    render_generation(&b, reloads, gen);
    render_h2_guard(&b);
    size_t slen = 0;
    char *text = ig_scheduler_render_metrics(sched, &slen); /* replicas and devices */
    if (text == NULL)
        b.failed = 1;
    else
        ig_buf_printf(&b, "%.*s", (int)slen, text);
    free(text);
    if (b.failed) {
        free(b.p);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory rendering /metrics");
        return;
    }
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain; version=0.0.4; charset=utf-8"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, b.p, b.len);
    free(b.p);
}
