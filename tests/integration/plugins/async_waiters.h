/*
 * async_waiters.h — what the asynchronous test plugins (asyncauth.c, asynclimit.c) share: answers
 * kept per worker thread and given from a uv timer on host->worker_loop(), the way a plugin that
 * waits on the network answers, and counters served as JSON on a plugin route.
 *
 * A waiter answers when its delay has passed, or, when held, once /test/<plugin>/release was called
 * after it began (the release epoch moved on). Each worker has one timer, opened on first use and
 * closed by an on_worker_exit hook: left open, the worker's teardown would close it without freeing
 * what it belongs to, and the sanitizers would report the leak.
 */
#ifndef ASYNC_WAITERS_H
#define ASYNC_WAITERS_H

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "infergate/plugin.h"

#define AW_MAX_WORKERS 64
#define AW_TICK_MS 5

typedef struct aw_waiter_s {
    struct aw_waiter_s *prev, *next;
    const void *req;          /* the core's request: the key for cancel */
    uint64_t due_ms;          /* host->now_ms() at which it answers (not held) */
    uint64_t epoch;           /* held: answers once the release epoch is past this */
    int held;
    int decision;             /* 0 or -1: what it answers */
    void *state;              /* the plugin instance's state, for the answer */
} aw_waiter_t;

typedef struct {
    uv_timer_t timer;
    aw_waiter_t *head;
    int index;
} aw_worker_t;

typedef struct {
    atomic_long calls, sync_answers, pending, later_answers, ok, refused, cancelled, completed, exit_hooks,
        fini_with_pending;
} aw_counters_t;

static const ig_host_t *aw_host;
static const char *aw_name;
static aw_counters_t aw_count;
static atomic_ulong aw_release_epoch;
static aw_worker_t *aw_workers[AW_MAX_WORKERS];
static void aw_answer(aw_waiter_t *w); /* the plugin's: calls host->*_done */

static void aw_worker_closed(uv_handle_t *h)
{
    aw_worker_t *wk = h->data;
    aw_host->log(IG_LOG_INFO, aw_name, "worker %d exit hook: timer closed", wk->index);
    free(wk);
}

/* on_worker_exit: the loop is about to end; nothing waits any more (the core cut or cancelled it). */
static void aw_worker_exit(void *arg)
{
    aw_worker_t *wk = arg;
    atomic_fetch_add(&aw_count.exit_hooks, 1);
    aw_workers[wk->index] = NULL;
    while (wk->head != NULL) {
        aw_waiter_t *w = wk->head;
        wk->head = w->next;
        free(w);
    }
    uv_close((uv_handle_t *)&wk->timer, aw_worker_closed);
}

static void aw_unlink(aw_worker_t *wk, aw_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        wk->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
}

static void aw_tick(uv_timer_t *t)
{
    aw_worker_t *wk = t->data;
    uint64_t now = aw_host->now_ms(), epoch = atomic_load(&aw_release_epoch);
    for (aw_waiter_t *w = wk->head, *next; w != NULL; w = next) {
        next = w->next;
        if (w->held ? epoch <= w->epoch : now < w->due_ms)
            continue;
        aw_unlink(wk, w);
        next = wk->head; /* answering runs the core, which may start or cancel other waits here */
        atomic_fetch_sub(&aw_count.pending, 1);
        atomic_fetch_add(&aw_count.later_answers, 1);
        atomic_fetch_add(w->decision == 0 ? &aw_count.ok : &aw_count.refused, 1);
        aw_answer(w);
        free(w);
    }
    if (wk->head == NULL)
        uv_timer_stop(t);
}

static aw_worker_t *aw_worker(void)
{
    int i = aw_host->worker_index();
    if (i < 0 || i >= AW_MAX_WORKERS)
        return NULL;
    if (aw_workers[i] == NULL) {
        aw_worker_t *wk = calloc(1, sizeof(*wk));
        if (wk == NULL)
            return NULL;
        wk->index = i;
        uv_timer_init(aw_host->worker_loop(), &wk->timer);
        wk->timer.data = wk;
        if (aw_host->on_worker_exit(aw_worker_exit, wk) != 0) {
            uv_close((uv_handle_t *)&wk->timer, (uv_close_cb)free);
            return NULL;
        }
        aw_workers[i] = wk;
    }
    return aw_workers[i];
}

/* Starts waiting for req; 0, or -1 (not on a worker thread, out of memory). */
static inline int aw_wait(const void *req, void *state, int decision, int held, uint64_t delay_ms)
{
    aw_worker_t *wk = aw_worker();
    aw_waiter_t *w = wk ? calloc(1, sizeof(*w)) : NULL;
    if (w == NULL)
        return -1;
    w->req = req;
    w->state = state;
    w->decision = decision;
    w->held = held;
    w->epoch = atomic_load(&aw_release_epoch);
    w->due_ms = aw_host->now_ms() + delay_ms;
    w->next = wk->head;
    if (wk->head)
        wk->head->prev = w;
    wk->head = w;
    atomic_fetch_add(&aw_count.pending, 1);
    if (!uv_is_active((uv_handle_t *)&wk->timer))
        uv_timer_start(&wk->timer, aw_tick, AW_TICK_MS, AW_TICK_MS);
    return 0;
}

/* The core's cancel: forget the waiter of req (on its worker thread). */
static inline void aw_cancel(const void *req)
{
    aw_worker_t *wk = aw_worker();
    for (aw_waiter_t *w = wk ? wk->head : NULL; w != NULL; w = w->next) {
        if (w->req == req) {
            aw_unlink(wk, w);
            free(w);
            atomic_fetch_sub(&aw_count.pending, 1);
            atomic_fetch_add(&aw_count.cancelled, 1);
            return;
        }
    }
    aw_host->log(IG_LOG_ERROR, aw_name, "cancel for a request that does not wait here");
}

static void aw_fini_check(void)
{
    /* a generation is freed only after its last request: nothing of it may still wait */
    if (atomic_load(&aw_count.pending) != 0)
        atomic_fetch_add(&aw_count.fini_with_pending, 1);
}

/* GET /test/<name>/stats and POST /test/<name>/release. */
static int aw_route(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    if (x->rest.len == 8 && memcmp(x->rest.ptr, "/release", 8) == 0) {
        atomic_fetch_add(&aw_release_epoch, 1);
        x->response = IG_STR("{\"released\":true}");
        return 0;
    }
    char *buf = x->host->palloc(x->pool, 512);
    int n = snprintf(buf, 512,
                     "{\"calls\":%ld,\"sync\":%ld,\"pending\":%ld,\"later\":%ld,\"ok\":%ld,\"refused\":%ld,"
                     "\"cancelled\":%ld,\"completed\":%ld,\"exit_hooks\":%ld,\"fini_with_pending\":%ld}",
                     atomic_load(&aw_count.calls), atomic_load(&aw_count.sync_answers), atomic_load(&aw_count.pending),
                     atomic_load(&aw_count.later_answers), atomic_load(&aw_count.ok), atomic_load(&aw_count.refused),
                     atomic_load(&aw_count.cancelled), atomic_load(&aw_count.completed),
                     atomic_load(&aw_count.exit_hooks), atomic_load(&aw_count.fini_with_pending));
    x->response = (ig_str_t){buf, (size_t)n};
    return 0;
}

#endif
