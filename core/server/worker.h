/*
 * worker.h — one serving thread: a libuv loop, an h2o context, its own
 * listening sockets, its upstream connection pools and its reference to the
 * active generation.
 */
#ifndef IG_WORKER_H
#define IG_WORKER_H

#include <stdatomic.h>
#include <h2o.h>
#include <uv.h>
#include "config/generation.h"
#include "observe/metrics.h"
#include "proxy/request_queue.h"
#include "upstream/upstream.h"

typedef struct ig_server_s ig_server_t;
typedef struct ig_worker_s ig_worker_t;

typedef struct {
    uv_tcp_t handle;
    h2o_accept_ctx_t accept_ctx;
} ig_listener_t;

/*
 * A worker's hold on one generation. Requests on this thread count themselves
 * here, on this thread only, so starting and ending a request touches no
 * cache line shared with other workers; the worker holds the one reference
 * on the generation itself and drops it when the generation is no longer
 * current and its last request here has ended.
 */
/*
 * A request that outlives its handler's call on this worker (being proxied, or waiting for a plugin's
 * answer). Tracked requests are counted in `active`, so draining waits for them, and when the grace
 * period ends each is ended by its own cut(), which answers the client now (a 503, or the end of a
 * stream that says why). The worker knows nothing else about them.
 */
typedef struct ig_worker_request_s {
    struct ig_worker_request_s *prev, *next;
    void (*cut)(struct ig_worker_request_s *r);
} ig_worker_request_t;

/* A function the main thread runs on a worker's loop (ig_worker_post_call); run is 0 when the worker
 * ended before it could run it: free what arg holds, touch no request. */
typedef struct ig_worker_call_s {
    struct ig_worker_call_s *next;
    void (*fn)(void *arg, int run);
    void *arg;
} ig_worker_call_t;

typedef struct ig_worker_gen_s {
    ig_generation_t *gen;
    uint64_t requests;               /* requests of this thread still using gen */
    struct ig_worker_gen_s *next;    /* in the retired list */
} ig_worker_gen_t;

struct ig_worker_s {
    h2o_context_t ctx;               /* first: req->conn->ctx points here */
    ig_server_t *server;
    unsigned index;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wakeup;               /* the main thread's messages: new generation, stop */
    ig_generation_t *gen;            /* the current generation (gen_hold->gen) */
    ig_worker_gen_t *gen_hold;       /* this thread's hold on it */
    ig_worker_gen_t *retired;        /* older generations requests here still use */
    _Atomic(ig_generation_t *) next_gen; /* handed over by the main thread, already retained for us */
    atomic_int stop;
    /* Bumped by the main thread (then wakeup is sent) each time the health checker sees an endpoint
     * become healthy: on_wakeup can release requests waiting for a ready endpoint. Compare with a
     * value kept on this thread to tell such wakeups apart from others. */
    atomic_uint ready_epoch;
    uv_timer_t drain_timer;
    uint64_t drain_deadline_ms;
    int *listen_fds;                 /* bound by the main thread, opened in this loop */
    ig_listener_t *listeners;
    size_t nlisteners;
    ig_upstream_pool_t *upstream;
    ig_request_queue_t queue;        /* requests waiting for a ready endpoint */
    uint64_t active;                 /* tracked requests on this thread (ig_worker_track) */
    uint64_t connections;            /* client connections open on this thread */
    uv_sem_t done;                   /* posted when the thread has finished its work */
    int parked;                      /* exited its loop without tearing it down (see worker_main) */
    uint64_t drained_at;             /* loop time when active reached 0 while stopping */
    ig_metrics_shard_t *metrics;     /* this thread's /metrics counters (written here only, read by any scrape) */
    ig_worker_request_t *tracked;    /* requests still being served here, cut when the grace period ends */
    int cut;                         /* the grace period ended and they were cut */
    atomic_uint_fast64_t adopted_gen; /* id of the last generation this thread took up (read by the main thread) */
    uv_mutex_t calls_lock;           /* calls: posted by the main thread, run in on_wakeup */
    ig_worker_call_t *calls;         /* newest first */
    h2o_timeout_t body_idle_timeout; /* server.clientTimeouts.bodyIdle, for HTTP/1 bodies (http/h1_body.c) */
};

/* Creates sockets for every listen entry (SO_REUSEPORT) on the calling thread, so bind errors surface at startup. */
int ig_worker_bind(ig_worker_t *w, ig_server_t *s);
int ig_worker_start(ig_worker_t *w);
/* Hands gen (retained for the worker by the caller) to the worker. */
void ig_worker_post_generation(ig_worker_t *w, ig_generation_t *gen);
void ig_worker_post_stop(ig_worker_t *w);
/* Runs fn(arg, 1) on the worker's loop soon (after it took up any generation posted before), or
 * fn(arg, 0) on the joining thread if the worker ended first. Any thread. 0, or -1 (out of memory:
 * fn is not called). */
int ig_worker_post_call(ig_worker_t *w, void (*fn)(void *arg, int run), void *arg);
/* An endpoint became healthy: bumps ready_epoch and wakes the worker. Main thread. */
void ig_worker_post_endpoint_ready(ig_worker_t *w);
void ig_worker_join(ig_worker_t *w);

/* A request starts on the current generation: held until ig_worker_gen_release. Worker thread only. */
static inline ig_worker_gen_t *ig_worker_gen_acquire(ig_worker_t *w)
{
    w->gen_hold->requests++;
    return w->gen_hold;
}
void ig_worker_gen_release(ig_worker_t *w, ig_worker_gen_t *hold);
/* One more hold on gen, the current generation or one a request here still holds (a call that began
 * before a reload and hands work on); NULL when this thread holds gen no more. Worker thread only. */
ig_worker_gen_t *ig_worker_gen_hold(ig_worker_t *w, const ig_generation_t *gen);

/* A request starts / stops being tracked (see ig_worker_request_t). Worker thread only. */
void ig_worker_track(ig_worker_t *w, ig_worker_request_t *r, void (*cut)(ig_worker_request_t *r));
void ig_worker_untrack(ig_worker_t *w, ig_worker_request_t *r);

static inline ig_worker_t *ig_worker_of(h2o_req_t *req)
{
    return (ig_worker_t *)req->conn->ctx;
}

#endif
