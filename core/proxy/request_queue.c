#include "proxy/request_queue.h"

#define QUEUE_TICK_MS 50 /* how often waiting requests re-check readiness without a health event */

static void on_tick(uv_timer_t *t)
{
    ig_request_queue_poll(t->data);
}

void ig_request_queue_init(ig_request_queue_t *q, uv_loop_t *loop)
{
    q->head = q->tail = NULL;
    q->length = 0;
    uv_timer_init(loop, &q->tick);
    q->tick.data = q;
}

void ig_request_queue_push(ig_request_queue_t *q, ig_queue_entry_t *e, uint64_t timeout_ms)
{
    uint64_t now = uv_now(q->tick.loop);
    e->enqueued_ms = now;
    e->deadline_ms = now + timeout_ms;
    e->next = NULL;
    e->prev = q->tail;
    if (q->tail != NULL)
        q->tail->next = e;
    else
        q->head = e;
    q->tail = e;
    if (q->length++ == 0)
        uv_timer_start(&q->tick, on_tick, QUEUE_TICK_MS, QUEUE_TICK_MS);
}

void ig_request_queue_remove(ig_request_queue_t *q, ig_queue_entry_t *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        q->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        q->tail = e->prev;
    e->prev = e->next = NULL;
    if (--q->length == 0)
        uv_timer_stop(&q->tick);
}

void ig_request_queue_poll(ig_request_queue_t *q)
{
    uint64_t now = uv_now(q->tick.loop);
    ig_queue_entry_t *e = q->head;
    while (e != NULL) {
        /* the callbacks may end the request: step first */
        ig_queue_entry_t *next = e->next;
        if (e->is_ready(e)) {
            ig_request_queue_remove(q, e);
            e->release(e);
        } else if (now >= e->deadline_ms) {
            ig_request_queue_remove(q, e);
            e->expire(e);
        }
        e = next;
    }
}

void ig_request_queue_close(ig_request_queue_t *q)
{
    uv_timer_stop(&q->tick);
    if (!uv_is_closing((uv_handle_t *)&q->tick))
        uv_close((uv_handle_t *)&q->tick, NULL);
}
