#include "sim_sched.h"

#include <stdatomic.h>

#include "sim_config.h"
#include "sim_http.h"
#include "sim_server.h"
#include "sim_stats.h"

static atomic_uint_fast64_t running, waiting;

uint64_t sim_sched_waiting(void) { return atomic_load_explicit(&waiting, memory_order_relaxed); }

/* A slot, if one is free (always, without --max-num-seqs). */
static int take_slot(void)
{
    uint64_t limit = sim_cfg.max_running, cur = atomic_load(&running);
    do {
        if (limit != 0 && cur >= limit)
            return 0;
    } while (!atomic_compare_exchange_weak(&running, &cur, cur + 1));
    return 1;
}

int sim_sched_submit(struct sim_worker *w, sim_seq_t *s)
{
    s->worker = w;
    /* first come, first served: nobody overtakes a waiter while it waits for its wakeup */
    if (atomic_load(&waiting) == 0 && take_slot()) {
        s->state = SIM_SEQ_RUNNING;
        return 1;
    }
    s->state = SIM_SEQ_WAITING;
    h2o_linklist_insert(&w->waiting, &s->link);
    atomic_fetch_add(&waiting, 1);
    SIM_STAT_ADD(queued, 1);
    /* a slot freed between take_slot() and now notified nobody: look again on the next iteration */
    uv_async_send(&w->wakeup);
    return 0;
}

void sim_sched_release(sim_seq_t *s)
{
    switch (s->state) {
    case SIM_SEQ_WAITING:
        h2o_linklist_unlink(&s->link);
        atomic_fetch_sub(&waiting, 1);
        break;
    case SIM_SEQ_RUNNING:
        atomic_fetch_sub(&running, 1);
        /* the next waiter may be on any worker: each admits its own on its loop, never from inside
         * this caller's h2o callback */
        if (atomic_load(&waiting) != 0)
            sim_server_notify_all();
        break;
    default:
        break;
    }
    s->state = SIM_SEQ_IDLE;
}

void sim_sched_run(struct sim_worker *w)
{
    while (!h2o_linklist_is_empty(&w->waiting) && take_slot()) {
        sim_seq_t *s = H2O_STRUCT_FROM_MEMBER(sim_seq_t, link, w->waiting.next);
        h2o_linklist_unlink(&s->link);
        atomic_fetch_sub(&waiting, 1);
        s->state = SIM_SEQ_RUNNING;
        s->on_admit(s);
    }
}

void sim_sched_check_clients(struct sim_worker *w)
{
    /* aborting disposes of the request, which releases (unlinks) its seq: restart after each */
    for (h2o_linklist_t *n = w->waiting.next; n != &w->waiting;) {
        sim_seq_t *s = H2O_STRUCT_FROM_MEMBER(sim_seq_t, link, n);
        n = n->next;
        if (s->plain != NULL && sim_http_peer_gone(s->plain)) {
            sim_http_abort(s->plain, 0);
            n = w->waiting.next;
        }
    }
}
