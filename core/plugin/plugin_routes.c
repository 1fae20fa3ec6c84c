/* plugin_routes.c — dispatch to plugin-declared routes (plugin_routes.h). */
#include "plugin/plugin_routes.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "http/principal_call.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"
#include "server/worker.h"

/* "/admin/keys" matches "/admin/keys" and "/admin/keys/...", never "/admin/keysX". */
static int route_matches(const char *route, h2o_iovec_t path, size_t *rest_at)
{
    size_t n = strlen(route);
    if (path.len < n || memcmp(path.base, route, n) != 0)
        return 0;
    if (path.len > n && path.base[n] != '/' && route[n - 1] != '/')
        return 0;
    *rest_at = n;
    return 1;
}

static void answer(h2o_req_t *req, const ig_http_exchange_t *x)
{
    int status = x->status ? x->status : 200;
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    const char *ct = x->content_type ? x->content_type : "application/json";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ct, strlen(ct));
    for (size_t i = 0; i < x->nheaders && i < sizeof(x->headers) / sizeof(x->headers[0]); i++) {
        const ig_kv_t *h = &x->headers[i];
        if (h->key && h->value)
            h2o_add_header_by_str(&req->pool, &req->res.headers, h->key, strlen(h->key), 1, NULL, h->value,
                                  strlen(h->value));
    }
    h2o_send_inline(req, x->response.ptr ? x->response.ptr : "", x->response.len);
}

/*
 * Which models a public listing may show (ig_http_exchange_t.models_listed): those marked listed,
 * and, unless marked not listed, those every key may use (the auth plugin's model_open; all of them
 * without an auth plugin). An auth plugin that cannot say lists only the marked ones.
 */
static const unsigned char *models_listed(const ig_generation_t *gen, h2o_mem_pool_t *pool)
{
    unsigned char *v = h2o_mem_alloc_pool(pool, gen->nmodels + 1);
    const ig_auth_vtable_t *auth = gen->auth ? gen->auth->desc->vtable : NULL;
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_t *m = gen->model_views[i];
        if (m->listed != IG_LISTED_AUTO)
            v[i] = m->listed == IG_LISTED_YES;
        else if (!auth)
            v[i] = 1;
        else
            v[i] = auth->model_open && auth->model_open(gen->auth->state, m) == 1;
    }
    return v;
}

typedef struct defer_s defer_t;

/* Every exchange the core hands a plugin: what host->route_principal and route_defer find from x. */
typedef struct {
    ig_http_exchange_t x;
    const ig_principal_t *principal;
    h2o_req_t *req;
    const ig_generation_t *gen;
    defer_t *defer;             /* what route_defer queued, until its done */
    uint32_t magic;
    int in_handler;             /* route_defer may be called now */
} exchange_t;

#define EXCHANGE_MAGIC 0x69677278u /* "igrx": x came from here */

static exchange_t *exchange_of(const ig_http_exchange_t *x)
{
    exchange_t *e = x ? (exchange_t *)((char *)x - offsetof(exchange_t, x)) : NULL;
    return e && e->magic == EXCHANGE_MAGIC ? e : NULL;
}

const ig_principal_t *ig_plugin_route_principal(const ig_http_exchange_t *x)
{
    const exchange_t *e = exchange_of(x);
    return e ? e->principal : NULL;
}

static void send_route_result(h2o_req_t *req, ig_http_exchange_t *x, int rc, const ig_error_t *err)
{
    if (rc != 0)
        ig_send_plugin_error(req, err, 400, "invalid_request_error", NULL);
    else
        answer(req, x);
}

/*
 * A handler's work off the event loop (host->route_defer): queued on libuv's thread pool, finished on
 * the worker. The job is malloc'd: it outlives the request when the client leaves first. It holds the
 * generation (the plugin state work may use) and is tracked by the worker, so draining waits for it.
 */
struct defer_s {
    uv_work_t work_req;
    void (*work)(void *arg);
    int (*done)(void *arg, ig_http_exchange_t *x, ig_error_t *err);
    void *arg;
    exchange_t *e;              /* NULL once the request is gone (or was cut) */
    defer_t **marker;           /* in the request's pool: points back here while both live */
    ig_worker_t *w;
    ig_worker_gen_t *hold;
    ig_worker_request_t tracked;
};

/* The request's pool is being freed: the job finishes without it. */
static void on_request_gone(void *p)
{
    defer_t *d = *(defer_t **)p;
    if (d != NULL) {
        d->e = NULL;
        d->marker = NULL;
    }
}

/* The grace period ended while the work ran: the client hears why now, done hears of nothing. */
static void cut_deferred(ig_worker_request_t *t)
{
    defer_t *d = (defer_t *)((char *)t - offsetof(defer_t, tracked));
    if (d->e == NULL)
        return;
    h2o_req_t *req = d->e->req;
    d->e->magic = 0;
    d->e = NULL;
    if (d->marker)
        *d->marker = NULL;
    d->marker = NULL;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(req, 503, "server_error", NULL, "shutting_down",
                  "the gateway is shutting down: the request was cut at the end of server.shutdownGracePeriod");
}

static void deferred_work(uv_work_t *wr)
{
    defer_t *d = wr->data;
    d->work(d->arg);
}

static void deferred_done(uv_work_t *wr, int status)
{
    (void)status; /* the work always ran: nothing cancels it */
    defer_t *d = wr->data;
    exchange_t *e = d->e;
    ig_error_t err = {{0}};
    if (d->marker) /* the request's pool may outlive the job */
        *d->marker = NULL;
    if (e == NULL) {
        d->done(d->arg, NULL, &err);
    } else {
        e->defer = NULL;
        int rc = d->done(d->arg, &e->x, &err);
        e->magic = 0;
        send_route_result(e->req, &e->x, rc, &err);
    }
    ig_worker_untrack(d->w, &d->tracked);
    ig_worker_gen_release(d->w, d->hold);
    free(d);
}

int ig_plugin_route_defer(ig_http_exchange_t *x, void (*work)(void *arg),
                          int (*done)(void *arg, ig_http_exchange_t *x, ig_error_t *err), void *arg)
{
    exchange_t *e = exchange_of(x);
    if (e == NULL || !e->in_handler || e->defer != NULL || work == NULL || done == NULL)
        return -1;
    ig_worker_t *w = ig_worker_of(e->req);
    defer_t *d = calloc(1, sizeof(*d));
    defer_t **marker = h2o_mem_alloc_shared(&e->req->pool, sizeof(*marker), on_request_gone);
    *marker = NULL;
    ig_worker_gen_t *hold = d ? ig_worker_gen_hold(w, e->gen) : NULL;
    if (hold == NULL) {
        free(d);
        return -1;
    }
    *d = (defer_t){.work = work, .done = done, .arg = arg, .e = e, .marker = marker, .w = w, .hold = hold};
    d->work_req.data = d;
    *marker = d;
    if (uv_queue_work(&w->loop, &d->work_req, deferred_work, deferred_done) != 0) {
        *marker = NULL;
        ig_worker_gen_release(w, d->hold);
        free(d);
        return -1;
    }
    ig_worker_track(w, &d->tracked, cut_deferred);
    e->defer = d;
    return 0;
}

/* One matched route, ready to run once the caller is known (or at once). */
typedef struct {
    const ig_plugin_instance_t *inst;
    const ig_route_decl_t *rt;
    h2o_iovec_t path;           /* as routed */
    size_t rest_at;
} route_call_t;

static void run(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, void *arg)
{
    const route_call_t *rc = arg;
    h2o_iovec_t path = rc->path;
    if (rc->rt->access == IG_ROUTE_PRINCIPAL && principal == NULL) {
        ig_send_error(req, 404, "invalid_request_error", NULL, "not_available",
                      "%.*s is a customer's own route: it needs an auth plugin (plugins.load: [apikey])",
                      (int)(path.len > 200 ? 200 : path.len), path.base);
        return;
    }
    const ig_plugin_instance_t *inst = rc->inst; /* of gen: the call holds the generation it matched on */
    /* in the pool: a deferred answer fills it after this returns */
    exchange_t *e = h2o_mem_alloc_pool(&req->pool, sizeof(*e));
    *e = (exchange_t){
        .x = {
            .host = ig_plugin_host_api(),
            .pool = &req->pool,
            .method = {req->method.base, req->method.len},
            .path = {path.base, path.len},
            .rest = {path.base + rc->rest_at, path.len - rc->rest_at},
            .body = {req->entity.base ? req->entity.base : "", req->entity.len},
            .models = gen->model_views,
            .nmodels = gen->nmodels,
            .models_listed = models_listed(gen, &req->pool),
        },
        .principal = principal,
        .req = req,
        .gen = gen,
        .magic = EXCHANGE_MAGIC,
        .in_handler = 1,
    };
    ig_http_exchange_t *x = &e->x;
    if (req->query_at != SIZE_MAX && req->query_at + 1 <= req->path.len)
        x->query = (ig_str_t){req->path.base + req->query_at + 1, req->path.len - req->query_at - 1};
    else
        x->query = (ig_str_t){"", 0};
    ssize_t ai = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
    x->accept = ai >= 0 ? (ig_str_t){req->headers.entries[ai].value.base, req->headers.entries[ai].value.len}
                        : (ig_str_t){"", 0};
    ig_error_t err = {{0}};
    int r = rc->rt->handle(inst->state, x, &err);
    e->in_handler = 0;
    if (r == IG_PENDING && e->defer != NULL)
        return; /* answered by the deferred work's done */
    if (r == IG_PENDING) {
        ig_log_error("plugin %s: route %s answered IG_PENDING without route_defer (a plugin bug)", inst->desc->name,
                     rc->rt->path);
        err = (ig_error_t){.status = 500, .type = "server_error"};
        snprintf(err.msg, sizeof(err.msg), "the plugin `%s` did not answer %s", inst->desc->name, rc->rt->path);
        r = -1;
    } else if (e->defer != NULL) {
        /* it queued work and answered anyway: the work's done will find no request */
        e->defer->e = NULL;
        e->defer = NULL;
    }
    e->magic = 0;
    send_route_result(req, x, r, &err);
}

int ig_plugin_routes_serve(ig_worker_t *w, const ig_generation_t *gen, h2o_req_t *req, h2o_iovec_t path)
{
    for (size_t j = 0; j < gen->nplugins; j++) {
        const ig_plugin_instance_t *inst = &gen->plugins[j];
        for (const ig_route_decl_t *rt = inst->desc->routes; rt && rt->path; rt++) {
            size_t rest_at;
            if (!route_matches(rt->path, path, &rest_at))
                continue;
            if (rt->access == IG_ROUTE_ADMIN && ig_admin_authorize(req, &gen->config->server) != 0)
                return 1;
            route_call_t *rc = h2o_mem_alloc_pool(&req->pool, sizeof(*rc));
            *rc = (route_call_t){.inst = inst, .rt = rt, .path = path, .rest_at = rest_at};
            if (rt->access == IG_ROUTE_PRINCIPAL)
                ig_principal_call(w, req, run, rc);
            else
                run(req, gen, NULL, rc);
            return 1;
        }
    }
    return 0;
}
