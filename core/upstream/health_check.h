/*
 * health_check.h — active health probes and engine load signals.
 *
 * One checker per server, on the main thread's loop. Every
 * healthCheck.interval it reads the active generation (which a reload may
 * have swapped since the last tick) and, for every endpoint its models list
 * (each endpoint once, even when several models share it), runs one probe
 * round: GET <health_path> of each distinct engine serving models there, and
 * GET <load_path> where the engine has one. A round succeeds when every
 * health probe answers 2xx within healthCheck.timeout.
 *
 * Transitions (state in ig_endpoint_t, shared with the workers):
 *  - healthy → unhealthy after unhealthyThreshold failed rounds in a row, or
 *    after as many failed requests in a row (passive ejection, endpoint.c);
 *  - unhealthy → healthy after healthyThreshold successful rounds. After a
 *    passive ejection it also waits a hold-off of interval × 2^(k-1), capped
 *    at 8 intervals, where k counts the ejections since a request last
 *    succeeded there: an engine whose /health answers while its requests fail
 *    is retried ever more rarely instead of flapping every interval. An
 *    endpoint whose engines have no health path is re-admitted after the
 *    hold-off alone.
 * Each transition is logged once. on_ready is called on the main thread for
 * every unhealthy → healthy transition.
 *
 * The scheduler's replicas (replica_set.h) are probed like static endpoints;
 * a STARTING one every 250 ms rather than every interval, so a replica
 * started for a waiting request serves as soon as its engine answers.
 *
 * The load report (ig_engine_load_t from the engine's parse_load) is stored
 * as running + waiting in ep->engine_load, 0 when the fetch fails.
 */
#ifndef IG_HEALTH_CHECK_H
#define IG_HEALTH_CHECK_H

#include <uv.h>
#include "upstream/endpoint.h"
#include "config/generation.h"

typedef struct ig_health_checker_s ig_health_checker_t;

typedef void (*ig_endpoint_ready_fn)(void *data, ig_endpoint_t *ep);

/*
 * Starts checking on loop: the first round runs on the loop's next
 * iteration. *active is read on every tick and must stay valid on loop's
 * thread (the server's s->gen). on_ready may be NULL. NULL on allocation failure.
 */
ig_health_checker_t *ig_health_checker_start(uv_loop_t *loop, ig_generation_t *const *active,
                                             ig_endpoint_ready_fn on_ready, void *data);

/* A replica just started: probe starting replicas within HC_STARTING_PERIOD_MS, not at the next interval. */
void ig_health_checker_kick(ig_health_checker_t *hc);

/*
 * Cancels the probes in flight and closes every handle; the checker is
 * freed by the close callbacks, so the loop must run afterwards (it then
 * ends as far as the checker is concerned). hc may be NULL.
 */
void ig_health_checker_stop(ig_health_checker_t *hc);

#endif
