/* plugin_routes.c — dispatch to plugin-declared routes (plugin_routes.h). */
#include "plugin/plugin_routes.h"
#include <string.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "plugin/plugin_host.h"
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
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

/*
 * One call of a plugin route. The exchange lives here, not on the stack, so a handler may answer
 * later (IG_PENDING, then host->route_done from any thread). Two references: the request's side
 * (dropped when the request is disposed) and the plugin's (dropped once its answer was sent or
 * could not be any more). The request's side is touched on the worker thread only.
 */
typedef struct route_call_s route_call_t;

typedef struct {
    ig_worker_request_t tracked;     /* until the answer came (SIGTERM's grace period cuts it) */
    ig_worker_t *worker;
    h2o_req_t *req;
    route_call_t *call;
    int tracking;
} route_req_t;

struct route_call_s {
    ig_http_exchange_t x;            /* first: route_done gets back here from &x */
    atomic_int refs;
    route_req_t *rr;                 /* NULL once the request is gone or answered (worker thread) */
    ig_worker_ref_t *worker;
    /* the late answer, copied out of the plugin's memory by route_done */
    int rc;
    ig_error_t err;
    char *body, *content_type, *hkeys[4], *hvalues[4];
};

static void call_release(route_call_t *c)
{
    if (atomic_fetch_sub(&c->refs, 1) != 1)
        return;
    free(c->body);
    free(c->content_type);
    for (size_t i = 0; i < 4; i++) {
        free(c->hkeys[i]);
        free(c->hvalues[i]);
    }
    ig_worker_ref_release(c->worker);
    free(c);
}

static void answer(h2o_req_t *req, const ig_http_exchange_t *x)
{
    int status = x->status ? x->status : 200;
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    const char *ct = x->content_type ? x->content_type : "application/json";
    /* copied: the values may be the plugin's memory (a late answer's, freed after this) */
    h2o_iovec_t v = h2o_strdup(&req->pool, ct, strlen(ct));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, v.base, v.len);
    for (size_t i = 0; i < x->nheaders && i < sizeof(x->headers) / sizeof(x->headers[0]); i++) {
        const ig_kv_t *h = &x->headers[i];
        if (h->key && h->value) {
            h2o_iovec_t k = h2o_strdup(&req->pool, h->key, strlen(h->key));
            v = h2o_strdup(&req->pool, h->value, strlen(h->value));
            h2o_add_header_by_str(&req->pool, &req->res.headers, k.base, k.len, 1, NULL, v.base, v.len);
        }
    }
    h2o_send_inline(req, x->response.ptr ? x->response.ptr : "", x->response.len);
}

static void untrack(route_req_t *rr)
{
    if (rr->tracking) {
        rr->tracking = 0;
        ig_worker_untrack(rr->worker, &rr->tracked);
    }
}

/* The request was disposed (answered, or its client left): the late answer has nowhere to go. */
static void on_dispose(void *arg)
{
    route_req_t *rr = arg;
    untrack(rr);
    if (rr->call != NULL) {
        rr->call->rr = NULL;
        call_release(rr->call);
        rr->call = NULL;
    }
}

static void cut_for_shutdown(ig_worker_request_t *t)
{
    route_req_t *rr = (route_req_t *)((char *)t - offsetof(route_req_t, tracked));
    untrack(rr);
    if (rr->call != NULL)
        rr->call->rr = NULL; /* a late answer is dropped: this one went out */
    h2o_add_header(&rr->req->pool, &rr->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(rr->req, 503, "server_error", NULL, "shutting_down",
                  "the gateway is shutting down before the answer was ready");
}

/* On the request's worker thread (run = 1), or on the joining thread once the worker ended (run = 0). */
static void late_answer(void *arg, int run)
{
    route_call_t *c = arg;
    if (run && c->rr != NULL) {
        route_req_t *rr = c->rr;
        untrack(rr);
        c->rr = NULL;
        if (c->rc != 0)
            ig_send_plugin_error(rr->req, &c->err, 400, "invalid_request_error", NULL);
        else
            answer(rr->req, &c->x);
    }
    call_release(c); /* the plugin's */
}

static char *dup_or_null(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* host->route_done: any thread, once per IG_PENDING. Copies the answer out of the plugin's memory. */
void ig_plugin_route_done(ig_http_exchange_t *x, int rc, const ig_error_t *err)
{
    route_call_t *c = (route_call_t *)x;
    c->rc = rc;
    if (rc != 0) {
        if (err != NULL)
            c->err = *err;
        else
            snprintf(c->err.msg, sizeof(c->err.msg), "the plugin failed to answer");
    } else {
        int oom = 0;
        c->body = dup_or_null(x->response.ptr ? x->response.ptr : "", x->response.len);
        x->response = (ig_str_t){c->body, x->response.len};
        oom |= c->body == NULL;
        if (x->content_type != NULL)
            oom |= (x->content_type = c->content_type = dup_or_null(x->content_type, strlen(x->content_type))) == NULL;
        size_t nh = x->nheaders < 4 ? x->nheaders : 4;
        for (size_t i = 0; i < nh; i++) {
            ig_kv_t *h = &x->headers[i];
            if (h->key == NULL || h->value == NULL)
                continue;
            oom |= (h->key = c->hkeys[i] = dup_or_null(h->key, strlen(h->key))) == NULL;
            oom |= (h->value = c->hvalues[i] = dup_or_null(h->value, strlen(h->value))) == NULL;
        }
        if (oom) {
            c->rc = -1;
            c->err = (ig_error_t){.status = 500, .type = "server_error"};
            snprintf(c->err.msg, sizeof(c->err.msg), "out of memory copying the answer");
        }
    }
    if (ig_worker_ref_post(c->worker, late_answer, c) != 0)
        call_release(c); /* the worker is gone (its requests were cut) */
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

int ig_plugin_routes_serve(ig_worker_t *w, const ig_generation_t *gen, h2o_req_t *req)
{
    h2o_iovec_t path = req->path_normalized;
    for (size_t j = 0; j < gen->nplugins; j++) {
        const ig_plugin_instance_t *inst = &gen->plugins[j];
        for (const ig_route_decl_t *rt = inst->desc->routes; rt && rt->path; rt++) {
            size_t rest_at;
            if (!route_matches(rt->path, path, &rest_at))
                continue;
            if (rt->access == IG_ROUTE_ADMIN && ig_admin_authorize(req, &gen->config->server) != 0)
                return 1;
            route_call_t *c = calloc(1, sizeof(*c));
            if (c == NULL) {
                ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
                return 1;
            }
            atomic_init(&c->refs, 1);
            ig_http_exchange_t *x = &c->x;
            *x = (ig_http_exchange_t){
                .host = ig_plugin_host_api(),
                .pool = &req->pool,
                .method = {req->method.base, req->method.len},
                .path = {path.base, path.len},
                .rest = {path.base + rest_at, path.len - rest_at},
                .body = {req->entity.base ? req->entity.base : "", req->entity.len},
                .models = gen->model_views,
                .nmodels = gen->nmodels,
                .models_listed = models_listed(gen, &req->pool),
            };
            if (req->query_at != SIZE_MAX && req->query_at + 1 <= req->path.len)
                x->query = (ig_str_t){req->path.base + req->query_at + 1, req->path.len - req->query_at - 1};
            else
                x->query = (ig_str_t){"", 0};
            ssize_t ai = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
            x->accept = ai >= 0 ? (ig_str_t){req->headers.entries[ai].value.base, req->headers.entries[ai].value.len}
                                : (ig_str_t){"", 0};
            /* the request's side, ready before the call: a handler may call route_done from another
             * thread before handle() has even returned */
            route_req_t *rr = h2o_mem_alloc_shared(&req->pool, sizeof(*rr), on_dispose);
            memset(rr, 0, sizeof(*rr));
            rr->worker = w;
            rr->req = req;
            c->worker = ig_worker_ref_take(w);
            ig_error_t err = {{0}};
            atomic_fetch_add(&c->refs, 1); /* the request's, for a pending answer */
            rr->call = c;
            c->rr = rr;
            int rc = rt->handle(inst->state, x, &err);
            if (rc == IG_PENDING) {
                rr->tracking = 1;
                ig_worker_track(w, &rr->tracked, cut_for_shutdown);
                return 1;
            }
            /* answered now: the call is done on both sides */
            c->rr = NULL;
            rr->call = NULL;
            call_release(c);
            if (rc != 0)
                ig_send_plugin_error(req, &err, 400, "invalid_request_error", NULL);
            else
                answer(req, x);
            call_release(c);
            return 1;
        }
    }
    return 0;
}
