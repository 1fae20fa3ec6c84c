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
    atomic_int healthy;        /* 1 until marked otherwise (health checks: issue 9) */
    atomic_uint consecutive_failures;
    atomic_uint_fast64_t requests_total;
    atomic_uint_fast64_t failures_total;
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

/* Outcome of one attempt, for passive health. */
void ig_endpoint_record_success(ig_endpoint_t *ep);
void ig_endpoint_record_failure(ig_endpoint_t *ep);

#endif
