/*
 * asyncroute.c — a plugin for the integration tests whose route answers later (IG_PENDING, then
 * host->route_done from a thread of its own, never a worker's):
 *   GET  /test/asyncroute/hold      held until released
 *   POST /test/asyncroute/release   a new thread answers every held call (200, x-asyncroute: later)
 *   GET  /test/asyncroute/stats     {"held":N,"answered":N}
 * At unload (after the workers have stopped) it answers what is still held: route_done must then
 * be safe and do nothing. A billing plugin only to have a kind; record() ignores its records.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infergate/plugin.h"

#define MAX_HELD 64

static const ig_host_t *ar_host;
static pthread_mutex_t ar_mu = PTHREAD_MUTEX_INITIALIZER;
static ig_http_exchange_t *ar_held[MAX_HELD];
static size_t ar_nheld;
static unsigned long ar_answered;

static int reply(ig_http_exchange_t *x, int status, const char *body)
{
    size_t n = strlen(body);
    char *p = ar_host->palloc(x->pool, n + 1);
    memcpy(p, body, n + 1);
    x->status = status;
    x->response = (ig_str_t){p, n};
    return 0;
}

/* Answers every held call from the calling thread (not a worker's). */
static void *answer_all(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ar_mu);
    size_t n = ar_nheld;
    for (size_t i = 0; i < n; i++) {
        char body[64]; /* the plugin's memory: route_done copies it */
        snprintf(body, sizeof(body), "{\"released\":true,\"of\":%zu}", n);
        ig_http_exchange_t *x = ar_held[i];
        x->status = 200;
        x->content_type = "application/json";
        x->response = (ig_str_t){body, strlen(body)};
        x->headers[0] = (ig_kv_t){"x-asyncroute", "later"};
        x->nheaders = 1;
        ar_host->route_done(x, 0, NULL);
        ar_answered++;
    }
    ar_nheld = 0;
    pthread_mutex_unlock(&ar_mu);
    return (void *)n;
}

static size_t answer_from_thread(void)
{
    pthread_t t;
    void *n = NULL;
    if (pthread_create(&t, NULL, answer_all, NULL) != 0)
        return 0;
    pthread_join(t, &n);
    return (size_t)n;
}

static int is(const ig_str_t s, const char *v)
{
    return s.len == strlen(v) && memcmp(s.ptr, v, s.len) == 0;
}

static int ar_route(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    (void)state;
    if (is(x->rest, "/hold")) {
        pthread_mutex_lock(&ar_mu);
        if (ar_nheld == MAX_HELD) {
            pthread_mutex_unlock(&ar_mu);
            return ar_host->error(err, "asyncroute: too many held");
        }
        ar_held[ar_nheld++] = x;
        pthread_mutex_unlock(&ar_mu);
        return IG_PENDING;
    }
    char body[96];
    if (is(x->rest, "/release")) {
        snprintf(body, sizeof(body), "{\"released\":%zu}", answer_from_thread());
        return reply(x, 200, body);
    }
    if (is(x->rest, "/stats")) {
        pthread_mutex_lock(&ar_mu);
        snprintf(body, sizeof(body), "{\"held\":%zu,\"answered\":%lu}", ar_nheld, ar_answered);
        pthread_mutex_unlock(&ar_mu);
        return reply(x, 200, body);
    }
    err->status = 404;
    return ar_host->error(err, "asyncroute: no such route");
}

static int ar_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    ar_host = host;
    if (!IG_HAS(host, route_done))
        return host->error(err, "asyncroute: the core has no route_done");
    *process_state = NULL;
    return 0;
}

static void ar_unload(void *process_state)
{
    (void)process_state;
    size_t n = answer_from_thread(); /* the workers are gone: route_done drops these */
    ar_host->log(IG_LOG_INFO, "asyncroute", "answered %zu held call(s) at unload", n);
}

static int ar_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    (void)host, (void)ctx, (void)err;
    *state = NULL;
    return 0;
}

static void ar_fini(void *state)
{
    (void)state;
}

static void ar_record(void *state, const ig_usage_record_t *rec)
{
    (void)state, (void)rec;
}

static const ig_billing_vtable_t ar_vtable = {.size = sizeof(ig_billing_vtable_t), .record = ar_record};

static const ig_route_decl_t ar_routes[] = {
    {"/test/asyncroute", IG_ROUTE_PUBLIC, ar_route},
    {NULL},
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "asyncroute",
    .kind = IG_PLUGIN_BILLING,
    .version = "test",
    .description = "test plugin whose route answers later, from a thread of its own",
    .load = ar_load,
    .unload = ar_unload,
    .init = ar_init,
    .fini = ar_fini,
    .vtable = &ar_vtable,
    .routes = ar_routes,
};
