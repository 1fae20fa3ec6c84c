#include "sched/replica_set.h"
#include <stdlib.h>

ig_replica_set_t *ig_replica_set_create(void)
{
    ig_replica_set_t *rs = calloc(1, sizeof(*rs));
    if (rs)
        atomic_init(&rs->refcount, 1);
    return rs;
}

void ig_replica_set_release(ig_replica_set_t *rs)
{
    if (rs && atomic_fetch_sub_explicit(&rs->refcount, 1, memory_order_acq_rel) == 1)
        free(rs);
}

void ig_replica_set_publish(ig_replica_set_t *rs, size_t i, ig_endpoint_t *ep, int state)
{
    if (state == IG_SLOT_EMPTY) {
        /* state first: a reader that still sees SERVING then finds NULL or the old endpoint, both handled */
        atomic_store_explicit(&rs->slot[i].state, state, memory_order_release);
        atomic_store_explicit(&rs->slot[i].ep, ep, memory_order_release);
        return;
    }
    atomic_store_explicit(&rs->slot[i].ep, ep, memory_order_release);
    atomic_store_explicit(&rs->slot[i].state, state, memory_order_release);
}
