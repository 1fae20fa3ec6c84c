#include "server/worker.h"
#include "plugin/plugin_host.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include "server/listener.h"
#include "http/h2_guard.h"
#include "observe/log.h"
#include "server/server.h"

static ig_upstream_limits_t upstream_limits_of(const ig_generation_t *gen)
{
    const ig_server_config_t *sc = &gen->config->server;
    return (ig_upstream_limits_t){
        .connect_timeout_ms = sc->connect_timeout_ms,
        .first_byte_timeout_ms = sc->first_byte_timeout_ms,
        .idle_timeout_ms = sc->idle_timeout_ms,
        .max_idle_per_endpoint = 64,
        .keepalive_timeout_ms = 30000,
    };
}

int ig_worker_bind(ig_worker_t *w, ig_server_t *s)
{
    const ig_config_t *cfg = s->gen->config;
    w->server = s;
    w->nlisteners = cfg->server.nlisten;
    w->listen_fds = calloc(w->nlisteners, sizeof(int));
    w->listeners = calloc(w->nlisteners, sizeof(ig_listener_t));
    if (w->listen_fds == NULL || w->listeners == NULL)
        return -1;
    for (size_t i = 0; i < w->nlisteners; i++)
        w->listen_fds[i] = -1;
    for (size_t i = 0; i < w->nlisteners; i++) {
        char msg[256];
        w->listen_fds[i] = ig_listener_bind(&cfg->server.listen[i], (int)i, msg, sizeof(msg));
        if (w->listen_fds[i] < 0) {
            ig_log_error("%s: %s", cfg->path, msg);
            return -1;
        }
    }
    return 0;
}

/* A client connection's TCP handle; h2o owns the connection, we count it for draining. */
typedef struct {
    uv_tcp_t tcp;
    ig_worker_t *worker;
} client_conn_t;

static void on_client_closed(uv_handle_t *h)
{
    client_conn_t *c = (client_conn_t *)h;
    c->worker->connections--;
    free(c);
}

static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0)
        return;
    ig_listener_t *l = (ig_listener_t *)listener;
    client_conn_t *conn = malloc(sizeof(*conn));
    if (conn == NULL)
        return;
    conn->worker = listener->data;
    conn->worker->connections++;
    uv_tcp_init(listener->loop, &conn->tcp);
    if (uv_accept(listener, (uv_stream_t *)&conn->tcp) != 0) {
        uv_close((uv_handle_t *)&conn->tcp, on_client_closed);
        return;
    }
    uv_tcp_nodelay(&conn->tcp, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&conn->tcp, on_client_closed);
    h2o_accept(&l->accept_ctx, sock);
}

/* Takes over the reference on gen the caller held. NULL when out of memory (the reference is dropped). */
static ig_worker_gen_t *gen_hold_new(ig_generation_t *gen)
{
    ig_worker_gen_t *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        ig_generation_release(gen);
        return NULL;
    }
    h->gen = gen;
    return h;
}

void ig_worker_gen_release(ig_worker_t *w, ig_worker_gen_t *hold)
{
    if (--hold->requests != 0 || hold == w->gen_hold)
        return;
    for (ig_worker_gen_t **pp = &w->retired; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == hold) {
            *pp = hold->next;
            break;
        }
    }
    ig_generation_release(hold->gen);
    free(hold);
}

ig_worker_gen_t *ig_worker_gen_hold(ig_worker_t *w, const ig_generation_t *gen)
{
    ig_worker_gen_t *h = w->gen_hold->gen == gen ? w->gen_hold : NULL;
    for (ig_worker_gen_t *r = w->retired; h == NULL && r != NULL; r = r->next)
        if (r->gen == gen)
            h = r;
    if (h != NULL)
        h->requests++;
    return h;
}

void ig_worker_track(ig_worker_t *w, ig_worker_request_t *r, void (*cut)(ig_worker_request_t *r))
{
    r->cut = cut;
    r->prev = NULL;
    r->next = w->tracked;
    if (w->tracked != NULL)
        w->tracked->prev = r;
    w->tracked = r;
    w->active++;
}

void ig_worker_untrack(ig_worker_t *w, ig_worker_request_t *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        w->tracked = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = r->next = NULL;
    w->active--;
}

/* The grace period is over: every tracked request answers now. */
static void cut_all(ig_worker_t *w)
{
    for (ig_worker_request_t *r = w->tracked, *next; r != NULL; r = next) {
        next = r->next; /* answering may end the request */
        r->cut(r);
    }
}

/* HTTP/2 bounds are process-wide atomics: every worker stores the same values of its generation */
static void guard_configure(const ig_generation_t *gen)
{
    const ig_client_limits_config_t *cl = &gen->config->server.client_limits;
    ig_h2_guard_configure(cl->h2_reset_budget, cl->max_header_list_bytes);
    ig_h2_guard_configure_bodies(gen->config->server.max_body_bytes, cl->body_budget_bytes, gen->auth != NULL);
}

static void adopt_next_generation(ig_worker_t *w)
{
    ig_generation_t *next = atomic_exchange(&w->next_gen, NULL);
    if (next == NULL)
        return;
    uint64_t id = next->id;
    ig_worker_gen_t *hold = gen_hold_new(next);
    atomic_store(&w->adopted_gen, id); /* taken up, or given up on: who waits for it goes on either way */
    if (hold == NULL) {
        ig_log_error("worker %u: out of memory taking up generation %llu; staying on the current one", w->index,
                     (unsigned long long)next->id);
        return;
    }
    ig_worker_gen_t *old = w->gen_hold;
    w->gen_hold = hold;
    w->gen = next;
    ig_upstream_limits_t limits = upstream_limits_of(next);
    ig_upstream_pool_set_limits(w->upstream, &limits);
    w->body_idle_timeout.timeout = (uint64_t)next->config->server.client_timeouts.body_idle_ms;
    guard_configure(next);
    if (old->requests == 0) {
        ig_generation_release(old->gen);
        free(old);
    } else {
        old->next = w->retired; /* freed by the last of its requests */
        w->retired = old;
    }
}

static void close_listeners(ig_worker_t *w)
{
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i].handle))
            uv_close((uv_handle_t *)&w->listeners[i].handle, NULL);
    }
}

/*
 * Draining: requests in flight finish (bounded by the grace period), then
 * the connections get a moment to flush their last bytes and close.
 */
static void on_drain_tick(uv_timer_t *t)
{
    ig_worker_t *w = t->data;
    uint64_t now = uv_now(&w->loop);
    if (w->active == 0 && w->drained_at == 0)
        w->drained_at = now;
    int done = w->active == 0 && (w->connections == 0 || now >= w->drained_at + 1000);
    if (!done && now >= w->drain_deadline_ms && !w->cut && w->active != 0) {
        /* streams still running are ended with an error event, then get a moment to reach their clients */
        ig_log_warn("worker %u: grace period over with %llu requests in flight: ending them", w->index,
                    (unsigned long long)w->active);
        w->cut = 1;
        cut_all(w);
        w->drain_deadline_ms = now + 1000;
        return;
    }
    if (done || now >= w->drain_deadline_ms) {
        if (w->active != 0)
            ig_log_warn("worker %u: %llu requests still in flight after the grace period", w->index,
                        (unsigned long long)w->active);
        uv_timer_stop(t);
        uv_stop(&w->loop);
    }
}

/* The main thread's calls, oldest first. run = 0 once the loop is gone. */
static void run_calls(ig_worker_t *w, int run)
{
    uv_mutex_lock(&w->calls_lock);
    ig_worker_call_t *list = w->calls, *fifo = NULL;
    w->calls = NULL;
    uv_mutex_unlock(&w->calls_lock);
    while (list != NULL) {
        ig_worker_call_t *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo != NULL) {
        ig_worker_call_t *next = fifo->next;
        fifo->fn(fifo->arg, run);
        free(fifo);
        fifo = next;
    }
}

int ig_worker_post_call(ig_worker_t *w, void (*fn)(void *arg, int run), void *arg)
{
    ig_worker_call_t *c = malloc(sizeof(*c));
    if (c == NULL)
        return -1;
    c->fn = fn;
    c->arg = arg;
    uv_mutex_lock(&w->calls_lock);
    c->next = w->calls;
    w->calls = c;
    uv_mutex_unlock(&w->calls_lock);
    uv_async_send(&w->wakeup);
    return 0;
}

static void on_wakeup(uv_async_t *a)
{
    ig_worker_t *w = a->data;
    adopt_next_generation(w);
    run_calls(w, 1); /* after the generation: a call may answer for what it brought */
    ig_request_queue_poll(&w->queue); /* an endpoint may have become ready */
    if (atomic_load(&w->stop) && !uv_is_active((uv_handle_t *)&w->drain_timer)) {
        /* stop accepting; let in-flight requests finish within the grace period */
        close_listeners(w);
        h2o_context_request_shutdown(&w->ctx); /* HTTP/2: GOAWAY; HTTP/1.1: close after the response */
        w->drain_deadline_ms = uv_now(&w->loop) + w->gen->config->server.shutdown_grace_ms;
        uv_timer_start(&w->drain_timer, on_drain_tick, 0, 50);
    }
}

static void close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* h2o 2.2 asserts when a context is disposed with any of its timeouts still armed. */
static int h2o_context_is_idle(h2o_context_t *c)
{
    h2o_timeout_t *timeouts[] = {&c->zero_timeout,       &c->one_sec_timeout,
                                 &c->hundred_ms_timeout, &c->handshake_timeout,
                                 &c->http1.req_timeout,  &c->http2.idle_timeout,
                                 &c->http2.graceful_shutdown_timeout, &c->proxy.io_timeout};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
        if (!h2o_linklist_is_empty(&timeouts[i]->_entries))
            return 0;
    return 1;
}

static void worker_main(void *arg)
{
    ig_worker_t *w = arg;
    ig_host_set_worker(&w->loop, (int)w->index);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    ig_host_run_worker_exit(); /* plugins close what they opened on this loop; the runs below finish it */
    ig_request_queue_close(&w->queue);
    ig_upstream_pool_close(w->upstream);
    uv_run(&w->loop, UV_RUN_NOWAIT);
    /* h2o's last timers (HTTP/2 graceful shutdown) fire within about a second once connections are gone */
    uint64_t give_up = uv_now(&w->loop) + 2000;
    while (w->connections == 0 && !h2o_context_is_idle(&w->ctx) && uv_now(&w->loop) < give_up)
        uv_run(&w->loop, UV_RUN_ONCE);
    if (w->connections == 0 && h2o_context_is_idle(&w->ctx)) {
        /* everything closed: tear the loop down completely */
        h2o_timeout_dispose(&w->loop, &w->body_idle_timeout);
        h2o_context_dispose(&w->ctx);
        uv_walk(&w->loop, close_handle, NULL);
        while (uv_run(&w->loop, UV_RUN_NOWAIT) != 0)
            ;
        uv_loop_close(&w->loop);
    } else {
        /*
         * Clients that kept connections open past the grace period: h2o 2.2
         * cannot dispose a context with live connections, and the process
         * exits right after, so they are left as they are.
         */
        ig_log_info("worker %u: exiting with %llu client connections open", w->index,
                    (unsigned long long)w->connections);
        w->parked = 1;
    }
    /* generations still used by requests that never ended (a parked worker) stay referenced */
    if (w->gen_hold != NULL && w->gen_hold->requests == 0) {
        ig_generation_release(w->gen_hold->gen);
        free(w->gen_hold);
    }
    w->gen_hold = NULL;
    w->gen = NULL;
    ig_generation_t *pending = atomic_exchange(&w->next_gen, NULL);
    if (pending != NULL)
        ig_generation_release(pending);
    uv_sem_post(&w->done);
    /*
     * A worker that could not tear its loop down stays parked until the
     * process exits, so what its loop still holds stays reachable and is not
     * reported as leaked by the sanitizers; the process is about to exit anyway.
     */
    while (w->parked)
        pause();
}

int ig_worker_start(ig_worker_t *w)
{
    ig_server_t *s = w->server;
    uv_loop_init(&w->loop);
    h2o_context_init(&w->ctx, &w->loop, &s->h2o);
    ig_generation_retain(s->gen);
    w->gen_hold = gen_hold_new(s->gen);
    if (w->gen_hold == NULL)
        return -1;
    w->gen = s->gen;
    guard_configure(s->gen);
    atomic_store(&w->adopted_gen, s->gen->id);
    uv_mutex_init(&w->calls_lock);
    ig_upstream_limits_t limits = upstream_limits_of(w->gen);
    w->upstream = ig_upstream_pool_create(&w->loop, &limits);
    if (w->upstream == NULL)
        return -1;
    ig_request_queue_init(&w->queue, &w->loop);
    h2o_timeout_init(&w->loop, &w->body_idle_timeout, (uint64_t)w->gen->config->server.client_timeouts.body_idle_ms);
    uv_async_init(&w->loop, &w->wakeup, on_wakeup);
    w->wakeup.data = w;
    uv_timer_init(&w->loop, &w->drain_timer);
    w->drain_timer.data = w;
    for (size_t i = 0; i < w->nlisteners; i++) {
        ig_listener_t *l = &w->listeners[i];
        uv_tcp_init(&w->loop, &l->handle);
        if (uv_tcp_open(&l->handle, w->listen_fds[i]) != 0 ||
            uv_listen((uv_stream_t *)&l->handle, 1024, on_accept) != 0) {
            ig_log_error("worker %u: cannot listen on %s", w->index, w->gen->config->server.listen[i].address);
            return -1;
        }
        w->listen_fds[i] = -1; /* owned by the handle now */
        l->handle.data = w;
        l->accept_ctx.ctx = &w->ctx;
        l->accept_ctx.hosts = s->h2o.hosts;
        l->accept_ctx.ssl_ctx = s->ssl_ctx[i];
    }
    uv_sem_init(&w->done, 0);
    if (uv_thread_create(&w->thread, worker_main, w) != 0)
        return -1;
    return 0;
}

void ig_worker_post_generation(ig_worker_t *w, ig_generation_t *gen)
{
    ig_generation_t *prev = atomic_exchange(&w->next_gen, gen);
    if (prev != NULL) /* the worker never saw it */
        ig_generation_release(prev);
    uv_async_send(&w->wakeup);
}

void ig_worker_post_endpoint_ready(ig_worker_t *w)
{
    atomic_fetch_add(&w->ready_epoch, 1);
    uv_async_send(&w->wakeup);
}

void ig_worker_post_stop(ig_worker_t *w)
{
    atomic_store(&w->stop, 1);
    uv_async_send(&w->wakeup);
}

void ig_worker_join(ig_worker_t *w)
{
    uv_sem_wait(&w->done);
    uv_sem_destroy(&w->done);
    run_calls(w, 0); /* posted after the loop ended */
    uv_mutex_destroy(&w->calls_lock);
    if (!w->parked)
        uv_thread_join(&w->thread);
    for (size_t i = 0; i < w->nlisteners; i++) {
        if (w->listen_fds != NULL && w->listen_fds[i] >= 0)
            close(w->listen_fds[i]);
    }
    free(w->listen_fds);
    free(w->listeners);
}
