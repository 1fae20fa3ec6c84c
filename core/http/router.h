/*
 * router.h — the one h2o handler: routes by path and method to the OpenAI
 * API, the model listing, the health endpoints, /metrics, the admin API and
 * plugins' routes; everything else is an OpenAI-shaped 404/405.
 *
 * The handler is made once at startup and carries what its routes need (h2o
 * style); per request it reads only the worker's current generation and
 * metrics shard.
 */
#ifndef IG_ROUTER_H
#define IG_ROUTER_H

#include <h2o.h>
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "observe/reload_status.h"
#include "sched/scheduler.h"
#include "admin/admin_gateway.h"
#include "admin/admin_models.h"

typedef struct {
    ig_access_log_t *access_log;            /* every request's line */
    ig_scheduler_t *sched;                  /* /admin/replicas, and replicas and devices in /metrics */
    const ig_reload_status_t *reloads;      /* /admin/generation, /metrics */
    ig_metrics_shard_t *const *shards;      /* every worker's counters, merged by /metrics */
    size_t nshards;
    const ig_gateway_info_t *info;          /* /admin/gateway */
    /* PUT/DELETE /admin/models/{name}: hands the change to the main thread (admin_models.h) */
    int (*submit_model_change)(void *data, ig_model_change_t *ch);
    void *submit_data;
} ig_router_deps_t;

/* deps is copied; what it points to must outlive the handler. */
int ig_router_register(h2o_pathconf_t *pathconf, const ig_router_deps_t *deps);

#endif
