#include "http/readiness.h"
#include <stdlib.h>
#include "http/openai_error.h"
#include "sched/replica_set.h"
#include "util/buf.h"
#include "util/json_write.h"

#define READYZ_MODELS_LISTED 32 /* a 503 names this many models at most: enough to see why */

ig_readiness_t ig_readiness_model(const ig_model_rt_t *m, size_t *healthy, size_t *total)
{
    *healthy = *total = 0;
    if (m->replicas == NULL) {
        for (size_t i = 0; i < m->nendpoints; i++) {
            (*total)++;
            *healthy += atomic_load_explicit(&m->endpoints[i]->healthy, memory_order_relaxed) != 0;
        }
        return *healthy ? IG_READY_ENDPOINT : *total ? IG_NOT_READY_UNHEALTHY : IG_NOT_READY_NOTHING;
    }
    for (size_t i = 0; i < IG_REPLICA_SLOTS; i++) {
        ig_endpoint_t *ep = ig_replica_set_serving(m->replicas, i);
        if (ep == NULL)
            continue;
        (*total)++;
        *healthy += atomic_load_explicit(&ep->healthy, memory_order_relaxed) != 0;
    }
    if (*healthy)
        return IG_READY_REPLICA;
    /* a request queues and the scheduler starts a replica for it (scale from zero, or a restart) */
    return m->cfg->max_replicas >= 1 ? IG_READY_CAN_START : IG_NOT_READY_NO_REPLICAS;
}

static const char *why(ig_readiness_t r)
{
    switch (r) {
    case IG_READY_ENDPOINT: return "a healthy endpoint";
    case IG_READY_REPLICA: return "a serving replica";
    case IG_READY_CAN_START: return "the scheduler starts a replica on demand";
    case IG_NOT_READY_UNHEALTHY: return "every endpoint is unhealthy";
    case IG_NOT_READY_NO_REPLICAS: return "no replica serves and maxReplicas is 0";
    default: return "no endpoints and no replicas";
    }
}

void ig_readiness_serve(h2o_req_t *req, const ig_generation_t *gen)
{
    size_t ready = 0;
    for (size_t i = 0; i < gen->nmodels; i++) {
        size_t h, t;
        ready += ig_readiness_model(&gen->models[i], &h, &t) <= IG_READY_CAN_START;
    }
    ig_buf_t b = {0};
    if (ready > 0) {
        ig_buf_printf(&b, "{\"status\":\"ready\",\"models\":%zu,\"models_ready\":%zu}\n", gen->nmodels, ready);
    } else {
        ig_buf_printf(&b, "{\"status\":\"not ready\",\"reason\":\"%s\",\"models\":[",
                      gen->nmodels ? "no model can be routed to" : "no models are configured");
        for (size_t i = 0; i < gen->nmodels && i < READYZ_MODELS_LISTED; i++) {
            size_t h, t;
            ig_readiness_t r = ig_readiness_model(&gen->models[i], &h, &t);
            ig_buf_printf(&b, "%s{\"model\":", i ? "," : "");
            ig_json_write_cstr(&b, gen->models[i].cfg->model.name);
            ig_buf_printf(&b, ",\"endpoints\":%zu,\"healthy\":%zu,\"reason\":\"%s\"}", t, h, why(r));
        }
        ig_buf_printf(&b, "]}\n");
    }
    if (b.failed) {
        free(b.p);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    req->res.status = ready ? 200 : 503;
    req->res.reason = ig_http_reason(req->res.status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, b.p, b.len);
    free(b.p);
}
