#include "sim_server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sim_config.h"
#include "sim_fault.h"
#include "sim_http.h"
#include "sim_log.h"
#include "sim_pump.h"
#include "sim_router.h"
#include "sim_sched.h"

enum { SIM_LISTENER_CLOSED, SIM_LISTENER_OPEN, SIM_LISTENER_CLOSING };

#define SIM_BACKLOG 4096
#define SIM_MAX_BODY (64u * 1024 * 1024)
#define SIM_TICK_MS 200 /* vanished-client checks, listener retries */

static h2o_globalconf_t globalconf;
static struct sockaddr_storage bind_addr;
static socklen_t bind_addrlen;
static int holder_fd = -1; /* bound, never listening: keeps the port ours while listeners are closed */
static char address[300];

static sim_worker_t *workers;
static unsigned n_workers;
static atomic_int stopping;

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER; /* never signalled */
static unsigned started, start_failures, stopped;

const char *sim_server_address(void) { return address; }

static int set_reuse(int fd)
{
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        sim_log("setsockopt(SO_REUSEADDR/SO_REUSEPORT): %s", strerror(errno));
        return -1;
    }
    return 0;
}

int sim_server_init(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)sim_cfg.listen_port);
    int rc = getaddrinfo(sim_cfg.listen_host, port, &hints, &res);
    if (rc != 0 || res == NULL) {
        sim_log("cannot resolve %s: %s", sim_cfg.listen_host, gai_strerror(rc));
        return -1;
    }
    holder_fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (holder_fd < 0 || set_reuse(holder_fd) != 0 || bind(holder_fd, res->ai_addr, res->ai_addrlen) != 0) {
        sim_log("cannot bind %s:%s: %s", sim_cfg.listen_host, port, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    freeaddrinfo(res);
    bind_addrlen = sizeof(bind_addr);
    if (getsockname(holder_fd, (struct sockaddr *)&bind_addr, &bind_addrlen) != 0) {
        sim_log("getsockname: %s", strerror(errno));
        return -1;
    }
    char host[INET6_ADDRSTRLEN + 1];
    char serv[8];
    if (getnameinfo((struct sockaddr *)&bind_addr, bind_addrlen, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        return -1;
    snprintf(address, sizeof(address), bind_addr.ss_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);

    h2o_config_init(&globalconf);
    globalconf.server_name = h2o_iovec_init(H2O_STRLIT("ig-sim"));
    globalconf.max_request_entity_size = SIM_MAX_BODY;
    h2o_hostconf_t *hostconf = h2o_config_register_host(&globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pathconf = h2o_config_register_path(hostconf, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(pathconf, sizeof(*handler));
    handler->on_req = sim_router_on_req;
    sim_fault_on_change(sim_server_notify_all);
    return 0;
}

/* ---- listener -------------------------------------------------------------------------------- */

static void reconcile_listener(sim_worker_t *w);
static void on_listener_failed(uv_handle_t *h);

static void on_accept(uv_stream_t *listener, int status)
{
    sim_worker_t *w = listener->data;
    if (status != 0)
        return;
    uv_tcp_t *conn = h2o_mem_alloc(sizeof(*conn));
    uv_tcp_init(&w->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    if (sim_fault_draw_connection()) {
        /* partial refuse: reset the connection before it sees a byte */
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)conn, &fd) == 0) {
            struct linger lg = {1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        uv_close((uv_handle_t *)conn, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, (uv_close_cb)free);
    h2o_accept(&w->accept_ctx, sock);
}

static int open_listener(sim_worker_t *w)
{
    int fd = socket(bind_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        sim_log("worker %u: socket: %s", w->index, strerror(errno));
        return -1;
    }
    if (set_reuse(fd) != 0 || bind(fd, (struct sockaddr *)&bind_addr, bind_addrlen) != 0 || listen(fd, SIM_BACKLOG) != 0) {
        sim_log("worker %u: cannot listen on %s: %s", w->index, address, strerror(errno));
        close(fd);
        return -1;
    }
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, fd);
    int owned = rc == 0; /* from here on, closing the handle closes fd */
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, SIM_BACKLOG, on_accept);
    if (rc != 0) {
        sim_log("worker %u: uv_listen: %s", w->index, uv_strerror(rc));
        if (!owned)
            close(fd);
        /* retried by the periodic reconcile in on_tick */
        w->listener_state = SIM_LISTENER_CLOSING;
        uv_close((uv_handle_t *)&w->listener, on_listener_failed);
        return -1;
    }
    w->listener_state = SIM_LISTENER_OPEN;
    return 0;
}

static void on_listener_failed(uv_handle_t *h)
{
    sim_worker_t *w = h->data;
    w->listener_state = SIM_LISTENER_CLOSED;
}

static void on_listener_closed(uv_handle_t *h)
{
    sim_worker_t *w = h->data;
    w->listener_state = SIM_LISTENER_CLOSED;
    reconcile_listener(w);
}

static void reconcile_listener(sim_worker_t *w)
{
    sim_fault_state_t fault = sim_fault_get();
    int want_open = !atomic_load(&stopping) && !(fault.mode == SIM_FAULT_REFUSE && fault.every <= 1);
    if (want_open && w->listener_state == SIM_LISTENER_CLOSED) {
        open_listener(w);
    } else if (!want_open && w->listener_state == SIM_LISTENER_OPEN) {
        /* libuv closes the descriptor inside uv_close: new connections are refused from here */
        w->listener_state = SIM_LISTENER_CLOSING;
        uv_close((uv_handle_t *)&w->listener, on_listener_closed);
    }
    if (want_open ? w->listener_state == SIM_LISTENER_OPEN : w->listener_state != SIM_LISTENER_OPEN)
        atomic_store(&w->listener_generation, fault.generation);
}

/* generation a is b or newer (24-bit wrap-around) */
static int generation_reached(uint32_t a, uint32_t b) { return ((a - b) & 0xFFFFFFu) < 0x800000u; }

void sim_server_sync_listeners(sim_worker_t *w, uint32_t generation)
{
    reconcile_listener(w);
    /* the other workers react to their wakeup within microseconds; a short bounded wait keeps
     * this simple (only the test-control endpoint calls it) */
    for (int spins = 0; spins < 5000; spins++) {
        unsigned behind = 0;
        for (unsigned i = 0; i < n_workers; i++)
            if (!generation_reached(atomic_load(&workers[i].listener_generation), generation))
                behind++;
        if (behind == 0)
            return;
        nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    sim_log("fault change %u not applied by every worker within 1s", generation);
}

/* ---- per-worker timers ----------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    sim_worker_t *w = t->data;
    sim_http_check_hung(w);
    sim_pump_check_clients(w);
    sim_sched_check_clients(w);
    sim_sched_run(w);      /* a slot freed by another worker, should its wakeup have been missed */
    reconcile_listener(w); /* retries a listener that failed to reopen */
}

static void on_fault_expired(uv_timer_t *t)
{
    sim_worker_t *w = t->data;
    sim_fault_clear_if(w->fault_timer_generation);
}

void sim_server_expire_fault(sim_worker_t *w, uint32_t generation, uint64_t ms)
{
    w->fault_timer_generation = generation;
    uv_timer_start(&w->fault_timer, on_fault_expired, ms, 0);
}

static void on_wakeup(uv_async_t *a)
{
    sim_worker_t *w = a->data;
    reconcile_listener(w);
    sim_sched_run(w); /* a running slot was freed (sim_sched_release) */
    if (atomic_load(&stopping))
        uv_stop(&w->loop);
}

void sim_server_notify_all(void)
{
    for (unsigned i = 0; i < n_workers; i++)
        uv_async_send(&workers[i].wakeup);
}

/* ---- threads --------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    sim_worker_t *w = arg;
    int ok = 1;
    /* h2o_context_init walks the shared configuration; run one at a time to be safe */
    pthread_mutex_lock(&start_lock);
    h2o_context_init(&w->ctx, &w->loop, &globalconf);
    pthread_mutex_unlock(&start_lock);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = globalconf.hosts;
    h2o_linklist_init_anchor(&w->hung);
    h2o_linklist_init_anchor(&w->streams);
    h2o_linklist_init_anchor(&w->waiting);
    sj_init(&w->json);
    w->rng = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ ((uint64_t)(w->index + 1) * UINT64_C(0x9E3779B97F4A7C15));
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        w->rng ^= (uint64_t)ts.tv_nsec;
    }
    uv_timer_init(&w->loop, &w->hang_timer);
    w->hang_timer.data = w;
    uv_timer_start(&w->hang_timer, on_tick, SIM_TICK_MS, SIM_TICK_MS);
    uv_timer_init(&w->loop, &w->fault_timer);
    w->fault_timer.data = w;

    reconcile_listener(w); /* opens the listener unless the initial fault is refuse */
    if (!sim_fault_refusing_all() && w->listener_state != SIM_LISTENER_OPEN)
        ok = 0;

    pthread_mutex_lock(&start_lock);
    started++;
    if (!ok)
        start_failures++;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_lock);

    if (ok)
        uv_run(&w->loop, UV_RUN_DEFAULT);

    /* The process is exiting: connections and h2o state are left to the OS.  The thread parks
     * rather than returning so its thread-local state (h2o's recycled memory) stays reachable until
     * the process ends, instead of showing up as leaks under LeakSanitizer. */
    pthread_mutex_lock(&start_lock);
    stopped++;
    pthread_cond_broadcast(&start_cond);
    for (;;)
        pthread_cond_wait(&park_cond, &start_lock);
    return NULL;
}

int sim_server_start(void)
{
    n_workers = sim_cfg.workers;
    workers = calloc(n_workers, sizeof(*workers));
    if (workers == NULL)
        return -1;
    /* loops and wakeup handles exist before any thread runs, so sim_server_notify_all is always safe */
    for (unsigned i = 0; i < n_workers; i++) {
        sim_worker_t *w = &workers[i];
        w->index = i;
        uv_loop_init(&w->loop);
        uv_async_init(&w->loop, &w->wakeup, on_wakeup);
        w->wakeup.data = w;
    }
    for (unsigned i = 0; i < n_workers; i++) {
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            sim_log("pthread_create failed");
            return -1;
        }
    }
    pthread_mutex_lock(&start_lock);
    while (started < n_workers)
        pthread_cond_wait(&start_cond, &start_lock);
    unsigned failures = start_failures;
    pthread_mutex_unlock(&start_lock);
    return failures == 0 ? 0 : -1;
}

void sim_server_stop(void)
{
    atomic_store(&stopping, 1);
    sim_server_notify_all();
    pthread_mutex_lock(&start_lock);
    while (stopped < n_workers)
        pthread_cond_wait(&start_cond, &start_lock);
    pthread_mutex_unlock(&start_lock);
    if (holder_fd >= 0)
        close(holder_fd);
}
