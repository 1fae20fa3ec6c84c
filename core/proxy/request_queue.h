/*
 * request_queue.h — requests waiting for a model to have a ready endpoint.
 *
 * One queue per worker thread (no locks): entries are kept in arrival order
 * and released the moment their model can be served — polled on a short tick
 * while anything waits, and at once when the health checker reports an
 * endpoint ready — or expired at their deadline. The per-model bound on
 * waiting requests across all threads is an atomic counter in the model's
 * runtime state (generation.h).
 */
#ifndef IG_REQUEST_QUEUE_H
#define IG_REQUEST_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct ig_queue_entry_s ig_queue_entry_t;

struct ig_queue_entry_s {
    ig_queue_entry_t *prev, *next;
    uint64_t enqueued_ms, deadline_ms; /* loop time */
    int (*is_ready)(ig_queue_entry_t *e);
    void (*release)(ig_queue_entry_t *e); /* removed from the queue, may proceed */
    void (*expire)(ig_queue_entry_t *e);  /* removed from the queue, deadline passed */
};

typedef struct {
    ig_queue_entry_t *head, *tail;
    size_t length;
    uv_timer_t tick;
} ig_request_queue_t;

void ig_request_queue_init(ig_request_queue_t *q, uv_loop_t *loop);
void ig_request_queue_push(ig_request_queue_t *q, ig_queue_entry_t *e, uint64_t timeout_ms);
/* Takes e out without calling anything (the request ended while waiting). */
void ig_request_queue_remove(ig_request_queue_t *q, ig_queue_entry_t *e);
/* Releases every entry whose model is ready, expires those past their deadline. */
void ig_request_queue_poll(ig_request_queue_t *q);
void ig_request_queue_close(ig_request_queue_t *q);

#endif
