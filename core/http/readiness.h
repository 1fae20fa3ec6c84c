/*
 * readiness.h — GET /readyz: "ready to route". 200 when at least one model of the active generation
 * can take a request now or soon: it has a healthy static endpoint, a serving healthy replica, or
 * the scheduler may start a replica for it (maxReplicas >= 1: scale from zero). 503 otherwise, with
 * a JSON body naming why, per model.
 */
#ifndef IG_READINESS_H
#define IG_READINESS_H

#include <h2o.h>
#include "config/generation.h"

typedef enum {
    IG_READY_ENDPOINT = 0, /* a healthy static endpoint */
    IG_READY_REPLICA,      /* a serving, healthy replica */
    IG_READY_CAN_START,    /* none serving, but the scheduler starts one on demand */
    IG_NOT_READY_UNHEALTHY, /* static endpoints, every one ejected */
    IG_NOT_READY_NO_REPLICAS, /* run by the scheduler, none serving, maxReplicas 0 */
    IG_NOT_READY_NOTHING,     /* neither static endpoints nor the scheduler */
} ig_readiness_t;

/* How one model stands; *healthy and *total count its endpoints (static or serving replicas). Any thread. */
ig_readiness_t ig_readiness_model(const ig_model_rt_t *m, size_t *healthy, size_t *total);

/* Answers GET /readyz from gen. */
void ig_readiness_serve(h2o_req_t *req, const ig_generation_t *gen);

#endif
