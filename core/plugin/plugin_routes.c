/* plugin_routes.c — dispatch to plugin-declared routes (plugin_routes.h). */
#include "plugin/plugin_routes.h"
#include <string.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "plugin/plugin_host.h"

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

int ig_plugin_routes_serve(const ig_generation_t *gen, h2o_req_t *req)
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
            ig_http_exchange_t x = {
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
                x.query = (ig_str_t){req->path.base + req->query_at + 1, req->path.len - req->query_at - 1};
            else
                x.query = (ig_str_t){"", 0};
            ssize_t ai = h2o_find_header(&req->headers, H2O_TOKEN_ACCEPT, -1);
            x.accept = ai >= 0 ? (ig_str_t){req->headers.entries[ai].value.base, req->headers.entries[ai].value.len}
                               : (ig_str_t){"", 0};
            ig_error_t err = {{0}};
            if (rt->handle(inst->state, &x, &err) != 0)
                ig_send_plugin_error(req, &err, 400, "invalid_request_error", NULL);
            else
                answer(req, &x);
            return 1;
        }
    }
    return 0;
}
