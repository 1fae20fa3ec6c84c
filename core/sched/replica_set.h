/*
 * replica_set.h — the endpoints of a model's running replicas, as worker threads see them.
 *
 * A model without static endpoints gets one set from the scheduler; every generation listing the
 * model points at the same set (retained), so a reload that keeps the model keeps its replicas. The
 * set is a fixed array of slots: the scheduler (main thread) publishes an endpoint by storing it,
 * then the slot's state; workers read the state (acquire), then the endpoint. Nothing is swapped or
 * freed under a reader: endpoints live as long as the registry, and the set as long as a
 * generation or the scheduler holds it. Only SERVING slots get new requests: a STARTING replica
 * has not answered its health path yet, a DRAINING one finishes what it has and is then stopped.
 */
#ifndef IG_REPLICA_SET_H
#define IG_REPLICA_SET_H

#include <stdatomic.h>
#include "upstream/endpoint.h"

#define IG_REPLICA_SLOTS 64          /* replicas of one model at once, old and new during a roll */
#define IG_REPLICA_MAX (IG_REPLICA_SLOTS / 2) /* maxReplicas is capped to this: room for a roll */

enum { IG_SLOT_EMPTY = 0, IG_SLOT_STARTING, IG_SLOT_SERVING, IG_SLOT_DRAINING };

typedef struct ig_replica_set_s {
    atomic_uint refcount;
    atomic_uint waiting;             /* requests queued for the model, every thread and generation */
    struct {
        _Atomic(ig_endpoint_t *) ep;
        atomic_int state;            /* IG_SLOT_* */
    } slot[IG_REPLICA_SLOTS];
} ig_replica_set_t;

/* A new empty set with one reference (the caller's); NULL when out of memory. */
ig_replica_set_t *ig_replica_set_create(void);
static inline void ig_replica_set_retain(ig_replica_set_t *rs)
{
    atomic_fetch_add_explicit(&rs->refcount, 1, memory_order_relaxed);
}
/* Any thread; the last reference frees it. rs may be NULL. */
void ig_replica_set_release(ig_replica_set_t *rs);

/* The endpoint of slot i when it takes new requests, else NULL. Any thread. */
static inline ig_endpoint_t *ig_replica_set_serving(const ig_replica_set_t *rs, size_t i)
{
    if (atomic_load_explicit(&rs->slot[i].state, memory_order_acquire) != IG_SLOT_SERVING)
        return NULL;
    return atomic_load_explicit(&rs->slot[i].ep, memory_order_acquire);
}

/* Main thread: slot i now holds ep in state (ep may be NULL with IG_SLOT_EMPTY). */
void ig_replica_set_publish(ig_replica_set_t *rs, size_t i, ig_endpoint_t *ep, int state);

#endif
