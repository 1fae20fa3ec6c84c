/*
 * admin_models.h — /admin/models and /admin/models/{name}: every model of the generation with where
 * it comes from, its fields as written and its live state (GET); models made at run time (PUT,
 * DELETE). Publications (/admin/models/{name}/publish) stay the auth plugin's routes, and what its
 * GET /admin/models says of each model is merged in.
 *
 * A PUT or DELETE is handled on the worker that received it only as far as the admin gate and the
 * body: the change is handed to the main thread (which builds generations, as for SIGHUP), and the
 * worker answers once the main thread posts the outcome back, after every worker took up the new
 * generation. The change object is shared by the two threads: one reference each.
 */
#ifndef IG_ADMIN_MODELS_H
#define IG_ADMIN_MODELS_H

#include <stdatomic.h>
#include <h2o.h>
#include "config/generation.h"
#include "observe/metrics.h"
#include "sched/scheduler.h"

typedef struct ig_worker_s ig_worker_t;
typedef struct ig_model_change_s ig_model_change_t;

struct ig_model_change_s {
    atomic_int refs;                 /* the worker's and the main thread's */
    /* the request: set by the worker before it hands the change over */
    char name[129];
    int remove;                      /* DELETE */
    char *body;                      /* PUT: the body, NUL-terminated (malloc'd) */
    size_t body_len;
    /* the outcome: set by the main thread before it posts it back */
    int status;                      /* 200 replaced, 201 created, 200 deleted, or an error status */
    char *error_json;                /* with an error status: the whole OpenAI-shaped body (malloc'd) */
    ig_generation_t *gen;            /* the generation the change made (retained): the answer shows it */
    int existed;                     /* the main thread's: the model was there before (server.database) */
    ig_model_change_t *next;         /* the main thread's queue */
    /* the worker's side: its thread alone touches these */
    ig_worker_t *worker;
    void *call;                      /* the waiting request, NULL once it is gone */
};

typedef struct {
    ig_scheduler_t *sched;                 /* replicas of each model */
    ig_metrics_shard_t *const *shards;     /* in flight, requests and tokens of each model */
    size_t nshards;
    /* Hands a change to the main thread (which then owns one reference); -1 when it takes no more
     * (shutting down). */
    int (*submit)(void *data, ig_model_change_t *ch);
    void *submit_data;
} ig_admin_models_deps_t;

/* name NULL: the collection. */
void ig_admin_models_serve(ig_worker_t *w, h2o_req_t *req, const ig_admin_models_deps_t *d, const char *name,
                           size_t len);

/* The main thread's outcome, run on ch->worker (ig_worker_post_call) once every worker took up the
 * generation it made: answers the request if it is still there, then drops the main thread's
 * reference. */
void ig_model_change_outcome(void *arg, int run);
/* Drops one reference (any thread); the last frees the change. */
void ig_model_change_release(ig_model_change_t *ch);

#endif
