/*
 * server.h — the running gateway: listeners, worker threads, the active
 * configuration generation and the state that outlives generations.
 *
 * Threads: the main thread owns the server, handles signals and builds new
 * generations; each worker thread runs one libuv loop with one h2o context
 * and serves connections accepted on its own SO_REUSEPORT sockets. Workers
 * share only immutable generations and atomic counters.
 */
#ifndef IG_SERVER_H
#define IG_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <h2o.h>
#include <uv.h>
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "observe/reload_status.h"
#include "upstream/endpoint.h"
#include "config/generation.h"
#include "upstream/health_check.h"
#include "plugin/plugin_host.h"
#include "sched/scheduler.h"
#include "admin/admin_auth.h"
#include "admin/admin_gateway.h"

#define IG_VERSION "0.1.0"

typedef struct ig_worker_s ig_worker_t;
typedef struct ig_runtime_models_s ig_runtime_models_t;
typedef struct ig_models_pg_s ig_models_pg_t;
typedef struct ig_models_set_s ig_models_set_t;

typedef struct ig_server_s {
    char *config_path;
    ig_plugin_host_t *plugins;
    ig_endpoint_registry_t *endpoints;
    ig_generation_t *gen;            /* the main thread's reference to the active generation */
    uint64_t next_gen_id;
    h2o_globalconf_t h2o;            /* immutable once workers start */
    SSL_CTX **ssl_ctx;               /* per listen entry, NULL for plain TCP */
    size_t nlisten;
    ig_access_log_t *access_log;
    ig_worker_t *workers;
    unsigned nworkers;
    unsigned nworkers_started;       /* workers that ran (and were joined) */
    uv_loop_t *loop;                 /* main thread's loop: signals */
    uv_signal_t sig_hup, sig_term, sig_int;
    ig_health_checker_t *health;     /* active probes on loop, following gen across reloads */
    ig_scheduler_t *sched;           /* replicas of models without static endpoints (outlives generations) */
    ig_reload_status_t reloads;      /* read by /admin/generation and /metrics */
    uv_timer_t plugin_gc;            /* unloads plugins no generation uses any more (main thread) */
    unsigned nworkers_alloc;         /* slots in workers */
    ig_metrics_shard_t **shards;     /* one per worker slot (workers[i].metrics), all made before any runs */
    char *config_text;               /* the file as the active generation read it: runtime model changes
                                        re-read nothing else (SIGHUP reads it anew) */
    size_t config_len;
    ig_runtime_models_t *runtime;    /* PUT/DELETE /admin/models/{name}, applied here on the main thread */
    ig_models_pg_t *models_pg;       /* server.database: the runtime models live there (models_pg.h) */
    ig_models_set_t *models_set;     /* ...and the set the active generation was built from (main thread) */
    ig_admin_gate_t gate;            /* sessions, the generated admin key (process state) */
    char admin_key_path[4200];       /* <stateDir>/admin-key.sha256 when the key was generated */
    char *new_admin_key;             /* made at this start: printed once, then wiped */
    ig_gateway_info_t info;          /* GET /admin/gateway */
} ig_server_t;

/* Loads the config (first generation), binds every listener; errors to stderr. 0 or -1. */
int ig_server_init(ig_server_t *s, const char *config_path);
/* Starts the workers and runs until SIGTERM/SIGINT; returns the process exit code. */
int ig_server_run(ig_server_t *s);
void ig_server_dispose(ig_server_t *s);

/* Parses the file into a new generation and hands it to every worker (SIGHUP). 0 or -1. */
int ig_server_reload(ig_server_t *s);
/* Makes gen (built by the caller, id s->next_gen_id) the active generation: the scheduler takes it,
 * every worker gets it, the old one goes with its last request. Main thread. */
void ig_server_install(ig_server_t *s, ig_generation_t *gen);

#endif
