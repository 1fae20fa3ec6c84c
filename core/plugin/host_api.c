/* host_api.c — the ig_host_t table every plugin entry point receives. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <h2o.h>
#include "upstream/endpoint.h"
#include "util/json.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"
#include "plugin/plugin_routes.h"
#include "proxy/auth.h"
#include "proxy/ratelimit.h"

static int host_error(ig_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static void host_log(ig_log_level_t level, const char *plugin, const char *fmt, ...)
{
    if ((int)level > (int)ig_log_get_level())
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ig_log_plugin(level, plugin, "%s", buf);
}

static void *host_palloc(void *pool, size_t n)
{
    return h2o_mem_alloc_pool((h2o_mem_pool_t *)pool, n);
}

static uint64_t host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *host_endpoint_url(const ig_endpoint_t *ep)
{
    return ep->url;
}

static uint32_t host_endpoint_in_flight(const ig_endpoint_t *ep)
{
    return atomic_load_explicit(&((ig_endpoint_t *)ep)->in_flight, memory_order_relaxed);
}

static int host_endpoint_healthy(const ig_endpoint_t *ep)
{
    return atomic_load_explicit(&((ig_endpoint_t *)ep)->healthy, memory_order_relaxed);
}

static uint32_t host_endpoint_engine_load(const ig_endpoint_t *ep)
{
    return atomic_load_explicit(&((ig_endpoint_t *)ep)->engine_load, memory_order_relaxed);
}

/* The worker thread this is, set once by each worker at its start (ig_host_set_worker). */
static _Thread_local uv_loop_t *worker_loop;
static _Thread_local int worker_index = -1;

/* What plugins asked to run when this worker's loop ends (host->on_worker_exit), newest first. */
typedef struct exit_hook_s {
    void (*fn)(void *arg);
    void *arg;
    struct exit_hook_s *next;
} exit_hook_t;
static _Thread_local exit_hook_t *exit_hooks;

void ig_host_set_worker(uv_loop_t *loop, int index)
{
    worker_loop = loop;
    worker_index = index;
}

int ig_host_worker_index(void)
{
    return worker_index;
}

static struct uv_loop_s *host_worker_loop(void)
{
    return worker_loop;
}

static int host_worker_index(void)
{
    return worker_index;
}

static int host_on_worker_exit(void (*fn)(void *arg), void *arg)
{
    if (worker_loop == NULL || fn == NULL)
        return -1;
    exit_hook_t *h = malloc(sizeof(*h));
    if (h == NULL)
        return -1;
    ig_plugin_pin((const void *)fn); /* its code must still be there when the hook runs */
    h->fn = fn;
    h->arg = arg;
    h->next = exit_hooks;
    exit_hooks = h;
    return 0;
}

void ig_host_run_worker_exit(void)
{
    /* in registration order, the way plugins set things up; a hook may register another */
    while (exit_hooks != NULL) {
        exit_hook_t *rev = NULL;
        while (exit_hooks != NULL) {
            exit_hook_t *h = exit_hooks;
            exit_hooks = h->next;
            h->next = rev;
            rev = h;
        }
        while (rev != NULL) {
            exit_hook_t *h = rev;
            rev = h->next;
            h->fn(h->arg);
            free(h);
        }
    }
}

static const ig_host_t host_api = {
    .size = sizeof(ig_host_t),
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .log = host_log,
    .error = host_error,
    .palloc = host_palloc,
    .now_ms = host_now_ms,
    .json = &ig_json_api,
    .endpoint_url = host_endpoint_url,
    .endpoint_in_flight = host_endpoint_in_flight,
    .endpoint_healthy = host_endpoint_healthy,
    .endpoint_engine_load = host_endpoint_engine_load,
    .worker_loop = host_worker_loop,
    .worker_index = host_worker_index,
    .auth_done = ig_auth_done,
    .admit_done = ig_ratelimit_done,
    .on_worker_exit = host_on_worker_exit,
    .route_principal = ig_plugin_route_principal,
    .route_defer = ig_plugin_route_defer,
};

const ig_host_t *ig_plugin_host_api(void)
{
    return &host_api;
}
