/*
 * admin_replicas.h — GET /admin/replicas: the scheduler's models, replicas (pid, state, port,
 * devices, in-flight requests, log file) and which replica holds which device. Admin key required.
 */
#ifndef IG_ADMIN_REPLICAS_H
#define IG_ADMIN_REPLICAS_H

#include <h2o.h>
#include "config/generation.h"
#include "sched/scheduler.h"

/* gen: the generation serving new requests on the calling worker (its admin keys apply). */
void ig_admin_replicas_serve(h2o_req_t *req, const ig_generation_t *gen, ig_scheduler_t *sched);

#endif
