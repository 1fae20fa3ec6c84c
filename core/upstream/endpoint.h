/*
 * endpoint.h — an upstream endpoint (one engine replica, "http://host:port")
 * and the registry that keeps its state across configuration generations.
 *
 * Health and load belong to the endpoint, not to a generation, so a reload
 * that keeps an endpoint keeps its counters. The registry is owned by the
 * server; endpoints are refcounted by the generations that list them.
 * Counters are atomics: every worker thread updates them.
 */
#ifndef IG_ENDPOINT_H
#define IG_ENDPOINT_H

#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include "infergate/plugin.h"

struct ig_endpoint_s {
    char *url;                 /* "http://127.0.0.1:8000" as configured */
    char *host;                /* "127.0.0.1" */
    char *host_header;         /* "127.0.0.1:8000", sent as Host */
    uint16_t port;
    uint32_t id;               /* index into per-thread connection pools */
    atomic_uint refcount;      /* generations listing it */
    atomic_uint in_flight;     /* requests being proxied to it now, all threads */
    atomic_uint_fast64_t requests_total;
    atomic_uint_fast64_t failures_total;
    /*
     * Health (health_check.h). healthy starts at 1 and changes only through
     * ig_endpoint_mark_healthy/unhealthy, so each transition happens (and is
     * logged) once. Workers eject an endpoint after eject_after consecutive
     * failed requests (passive); the health checker on the main thread ejects
     * it after failed probes and brings it back after successful ones.
     */
    atomic_int healthy;
    atomic_uint consecutive_failures;  /* failed requests in a row, all threads */
    atomic_uint eject_after;           /* healthCheck.unhealthyThreshold of the active generation; 0 = never */
    atomic_uint ejections;             /* passive ejections since a request last succeeded (recovery backoff) */
    atomic_uint_fast64_t ejected_at_ms; /* ig_endpoint_now_ms() of the last passive ejection */
    /* written by the health checker only */
    atomic_uint probe_successes;       /* consecutive successful probe rounds */
    atomic_uint probe_failures;        /* consecutive failed probe rounds */
    atomic_uint_fast64_t last_probe_ms; /* ig_endpoint_now_ms() when the last round ended; 0 = never probed */
    atomic_int last_probe_ok;
    /* the engine's own load report (its load_path), refreshed every probe interval; 0 when unknown */
    atomic_uint engine_load;           /* running + waiting requests, every client of the engine */
    atomic_uint engine_kv_permille;    /* KV-cache usage, 0..1000 */
};

typedef struct ig_endpoint_registry_s ig_endpoint_registry_t;

ig_endpoint_registry_t *ig_endpoint_registry_create(void);
void ig_endpoint_registry_free(ig_endpoint_registry_t *reg);

/*
 * The endpoint for url, created on first use, with one more reference.
 * Only http://host:port[/] URLs are accepted; NULL with msg otherwise.
 * Thread-safe (reloads run on the main thread while workers read).
 */
ig_endpoint_t *ig_endpoint_acquire(ig_endpoint_registry_t *reg, const char *url, char *msg, size_t msgsize);
void ig_endpoint_release(ig_endpoint_registry_t *reg, ig_endpoint_t *ep);

/* Upper bound of endpoint ids ever handed out (for sizing per-thread tables). */
uint32_t ig_endpoint_registry_capacity(ig_endpoint_registry_t *reg);

/*
 * Outcome of one attempt, for passive health. A failure (connect error,
 * reset, 5xx) that makes eject_after in a row marks the endpoint unhealthy
 * until the health checker's recovery probes succeed; a success resets the
 * count. Any thread.
 */
void ig_endpoint_record_success(ig_endpoint_t *ep);
void ig_endpoint_record_failure(ig_endpoint_t *ep);

/* Health transitions: 1 when this call changed the state (the caller logs it), 0 when it already was so. */
int ig_endpoint_mark_healthy(ig_endpoint_t *ep);
int ig_endpoint_mark_unhealthy(ig_endpoint_t *ep);

/* Monotonic milliseconds, the clock of the *_ms fields above. */
uint64_t ig_endpoint_now_ms(void);

#endif
