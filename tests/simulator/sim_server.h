/* sim_server: worker threads.  Each worker owns a libuv loop, an h2o context and its own listening
 * socket bound with SO_REUSEPORT (the kernel spreads connections across workers).  Nothing mutable
 * is shared between workers except the atomics in sim_stats and sim_fault. */
#ifndef SIM_SERVER_H
#define SIM_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include <h2o.h>

#include "sim_buf.h"
#include "sim_json.h"

typedef struct sim_worker {
    unsigned index;
    pthread_t thread;
    uv_loop_t loop;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    int listener_state; /* SIM_LISTENER_* */
    uv_async_t wakeup;  /* another thread changed the fault mode or asked us to stop */
    uv_timer_t hang_timer;
    uv_timer_t fault_timer; /* expiry of a timed fault set through this worker */
    uint32_t fault_timer_generation;
    _Atomic uint32_t listener_generation; /* fault generation the listener state last matched */
    h2o_linklist_t hung;    /* requests parked by the hang fault (sim_http_hang) */
    h2o_linklist_t streams; /* live streams (sim_pump), checked for vanished clients */
    h2o_linklist_t waiting; /* requests waiting for a running slot (sim_sched) */
    ig_buf_t scratch;   /* response building, reused */
    sj_doc_t json;       /* request parsing, reused */
    uint64_t *prefix_blocks; /* a prompt's block hashes (sim_prefix), reused */
    size_t prefix_cap;
    uint64_t rng;
} sim_worker_t;

/* Resolves the address, reserves the port, prepares h2o's configuration.  0 or -1. */
int sim_server_init(void);
/* Starts the workers and waits until each listens (or deliberately does not, in refuse mode). */
int sim_server_start(void);
/* Stops the workers' loops and waits until each has stopped (the threads then park until exit). */
void sim_server_stop(void);
/* "HOST:PORT" with the real port. */
const char *sim_server_address(void);
/* Wakes every worker to re-check the fault mode (opens/closes listeners for refuse). */
void sim_server_notify_all(void);

static inline sim_worker_t *sim_worker_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(sim_worker_t, ctx, req->conn->ctx);
}

/* After a fault change made on worker `w`: applies it to w's listener at once and waits (bounded)
 * until every other worker has too, so that a refuse is in force when the control call returns. */
void sim_server_sync_listeners(sim_worker_t *w, uint32_t generation);

/* Arms this worker's timer that clears fault `generation` after `ms`. */
void sim_server_expire_fault(sim_worker_t *w, uint32_t generation, uint64_t ms);

#endif
