/*
 * runtime_models.h — PUT/DELETE /admin/models/{name} on the main thread.
 *
 * Workers hand changes over (ig_runtime_models_submit); the main thread takes them one at a time,
 * in arrival order (a second change waits until the first is answered): it builds the candidate
 * configuration from the config file's text as the active generation read it plus the runtime
 * manifests with the change, validated exactly as `infergate -t` validates; builds its generation;
 * writes or removes <stateDir>/models/<name>.yaml (atomically: a temporary file renamed); swaps the
 * generation in as SIGHUP does (requests in flight finish on theirs); and once every worker has
 * taken it up, posts the outcome to the worker that holds the request.
 */
#ifndef IG_RUNTIME_MODELS_H
#define IG_RUNTIME_MODELS_H

#include "admin/admin_models.h"

typedef struct ig_server_s ig_server_t;
typedef struct ig_runtime_models_s ig_runtime_models_t;

/* Made with the server (changes are refused until started). NULL when out of memory. */
ig_runtime_models_t *ig_runtime_models_create(ig_server_t *s);
/* Main thread, on the server's loop. */
int ig_runtime_models_start(ig_runtime_models_t *rm, uv_loop_t *loop);
/* ig_admin_models_deps_t.submit: any thread. 0, or -1 once closed. */
int ig_runtime_models_submit(void *rm, ig_model_change_t *ch);
/* server.database: changes are written there (by pg's thread; the answer waits for the commit), and
 * sets changed through any gateway are taken in as new generations. After start. 0 or -1. */
typedef struct ig_models_pg_s ig_models_pg_t;
int ig_runtime_models_watch(ig_runtime_models_t *rm, ig_models_pg_t *pg);
/* SIGTERM: no more changes; the one in progress is not answered (its request is cut with the rest). */
void ig_runtime_models_close(ig_runtime_models_t *rm);
/* After the loop ended; rm may be NULL. */
void ig_runtime_models_free(ig_runtime_models_t *rm);

#endif
