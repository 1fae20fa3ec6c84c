/*
 * scheduler.h — the process runtime: replicas of models without static endpoints.
 *
 * One scheduler per server, on the main loop; its state outlives generations. For every such
 * model it keeps a replica set (replica_set.h) that the generations listing the model share, and
 * runs engine servers on this machine from the engine's launch recipe (launch_spec.h), each with a
 * free port, devices from the model's resource profile (device_pool.h), and a log file.
 *
 *  - Readiness: a replica starts STARTING with its endpoint marked unhealthy; the health checker
 *    probes it like any endpoint and the replica becomes SERVING once it answers (then the engine's
 *    warmup request, if it has one). Only SERVING replicas get requests.
 *  - Scale: between minReplicas and maxReplicas from the average active requests per replica
 *    (autoscaler.h); a request waiting for a model with no replica starts one at once.
 *  - Scale down and rolls: a replica is drained (no new requests, in-flight ones finish, bounded by
 *    scheduler.drainTimeout), then stopped (SIGTERM, SIGKILL after scheduler.stopGracePeriod).
 *    A reload that changes what a replica runs (command, args, env, profile) rolls the model: new
 *    replicas start, and an old one is drained only once enough new ones serve.
 *  - Crashes: a replica that exits on its own is restarted after a backoff (1 s, doubling up to
 *    60 s, reset when a replica of the model becomes ready), and counted.
 *  - Devices: never held by two replicas; when a model cannot get its devices, replicas of models
 *    with a lower priority (priorityClassName) holding them are drained and stopped for it.
 * All of it runs on the main thread; the render functions may be called from any thread.
 */
#ifndef IG_SCHEDULER_H
#define IG_SCHEDULER_H

#include <uv.h>
#include "upstream/endpoint.h"
#include "config/generation.h"
#include "util/buf.h"

typedef struct ig_scheduler_s ig_scheduler_t;

ig_scheduler_t *ig_scheduler_create(ig_endpoint_registry_t *reg);
/*
 * Main thread, before gen is handed to any worker: gives each model of gen without static
 * endpoints its replica set (kept across reloads by model name) and takes gen's scheduler settings
 * and models as the ones to run; models no longer listed are drained and stopped.
 */
void ig_scheduler_attach(ig_scheduler_t *s, ig_generation_t *gen);
/* Starts deciding on loop. on_started(data) is called when a replica process started (probe it soon),
 * on_serving(data) when a replica starts taking requests. */
int ig_scheduler_start(ig_scheduler_t *s, uv_loop_t *loop, void (*on_started)(void *data),
                       void (*on_serving)(void *data), void *data);
/* The health checker saw ep become healthy (main thread). */
void ig_scheduler_endpoint_ready(ig_scheduler_t *s, ig_endpoint_t *ep);
/* SIGTERM: stop deciding, and let the loop end while the replicas still serve the drain. */
void ig_scheduler_quiesce(ig_scheduler_t *s);
/*
 * After the workers are gone: SIGTERM to every replica, SIGKILL after the grace period, and close
 * every handle. Run the loop afterwards until it ends: then every child has been reaped.
 */
void ig_scheduler_stop_all(ig_scheduler_t *s);
/* After the loop ended (or if it never ran). s may be NULL. */
void ig_scheduler_free(ig_scheduler_t *s);

/* Replica and device state: JSON for the admin API, Prometheus lines for /metrics. malloc'd, any thread. */
char *ig_scheduler_render_json(ig_scheduler_t *s, size_t *len);
char *ig_scheduler_render_metrics(ig_scheduler_t *s, size_t *len);
/* The replicas of one model, a JSON array appended to o: id, state, port, devices, url, healthy,
 * in_flight ([] when the scheduler runs none). Any thread. */
void ig_scheduler_render_model_replicas(ig_scheduler_t *s, const char *name, ig_buf_t *o);

#endif
