#include "http/router.h"
#include <string.h>
#include "admin/admin_gateway.h"
#include "admin/admin_generation.h"
#include "admin/admin_models.h"
#include "admin/admin_replicas.h"
#include "admin/metrics_http.h"
#include "http/console_api.h"
#include "http/h1_body.h"
#include "http/me_api.h"
#include "http/models_api.h"
#include "http/static_files.h"
#include "plugin/plugin_routes.h"
#include "http/openai_request.h"
#include "http/openai_error.h"
#include "http/readiness.h"
#include "proxy/proxy.h"
#include "observe/request_log.h"
#include "server/worker.h"
#include "util/url.h"

#define PATH_IS(p, lit) ((p).len == sizeof(lit) - 1 && memcmp((p).base, lit, sizeof(lit) - 1) == 0)
#define PREFIX_IS(p, lit) ((p).len > sizeof(lit) - 1 && memcmp((p).base, lit, sizeof(lit) - 1) == 0)
#define STARTS(p, lit) ((p).len >= sizeof(lit) - 1 && memcmp((p).base, lit, sizeof(lit) - 1) == 0)

static int method_is(h2o_req_t *req, const char *m, size_t len)
{
    return req->method.len == len && memcmp(req->method.base, m, len) == 0;
}

static void method_not_allowed(h2o_req_t *req, const char *allowed)
{
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, allowed, strlen(allowed));
    ig_send_error(req, 405, "invalid_request_error", NULL, "method_not_allowed", "%.*s is not allowed on %.*s (use %s)",
                  (int)req->method.len, req->method.base, (int)req->path_normalized.len, req->path_normalized.base,
                  allowed);
}

static void send_text(h2o_req_t *req, int status, const char *body)
{
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, strlen(body));
}

typedef struct {
    h2o_handler_t super;
    ig_router_deps_t deps;
    ig_admin_models_deps_t models;   /* what /admin/models needs, made once from deps */
} router_t;

/* The console, the portal and the admin API that is the core's (not a plugin's). 1 when answered. */
static int console_routes(router_t *r, ig_worker_t *w, h2o_req_t *req, h2o_iovec_t path, int get)
{
    if (PATH_IS(path, "/")) {
        if (!get) {
            method_not_allowed(req, "GET");
            return 1;
        }
        req->res.status = 302;
        req->res.reason = "Found";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, H2O_STRLIT("/ui/"));
        h2o_send_inline(req, H2O_STRLIT("redirecting to the console: /ui/\n"));
        return 1;
    }
    if (PATH_IS(path, "/ui/api/session") || PATH_IS(path, "/portal/api/session")) {
        ig_static_security_headers(req);
        ig_console_session_serve(w, req, path.base[1] == 'u' ? IG_SESSION_ADMIN : IG_SESSION_PORTAL);
        return 1;
    }
    if (PREFIX_IS(path, "/ui/api/")) {
        ig_send_error(req, 404, "invalid_request_error", NULL, "unknown_url", "Unknown request URL: %.*s %.*s",
                      (int)req->method.len, req->method.base, (int)(path.len > 200 ? 200 : path.len), path.base);
        return 1;
    }
    if ((PATH_IS(path, "/ui") || STARTS(path, "/ui/") || PATH_IS(path, "/portal") || STARTS(path, "/portal/")) &&
        !STARTS(path, "/portal/api/")) {
        ig_static_serve(req, path, w->gen->config->server.ui.dir);
        return 1;
    }
    if (PATH_IS(path, "/admin/gateway")) {
        if (!get)
            method_not_allowed(req, "GET");
        else
            ig_admin_gateway_serve(req, w->gen, r->deps.info);
        return 1;
    }
    /* /admin/models and /admin/models/{name}; /admin/models/{name}/publish... are the auth plugin's */
    if (PATH_IS(path, "/admin/models")) {
        ig_admin_models_serve(w, req, &r->models, NULL, 0);
        return 1;
    }
    /* /admin/models/{name}: the name decoded once, from the path as sent ("a%2Fb" is "a/b") */
    h2o_iovec_t raw = req->path;
    if (req->query_at != SIZE_MAX && req->query_at <= raw.len)
        raw.len = req->query_at;
    if (PREFIX_IS(raw, "/admin/models/") && memchr(raw.base + 14, '/', raw.len - 14) == NULL) {
        size_t n = raw.len - 14, len = 0;
        char *name = h2o_mem_alloc_pool(&req->pool, n + 1);
        if (ig_url_decode(raw.base + 14, n, 0, name, n + 1, &len) != 0 || len == 0)
            ig_send_error(req, 400, "invalid_request_error", NULL, "invalid_path", "%s",
                          "the model name in the path has a malformed percent-escape, an encoded NUL, or is empty");
        else
            ig_admin_models_serve(w, req, &r->models, name, len);
        return 1;
    }
    return 0;
}

/*
 * The model a request's address names: its Host (a model's hosts:) or its path's prefix (pathPrefix:,
 * then *path is what follows the prefix). NULL: none. -1 when the two name different models (answered).
 */
static int address_scope(h2o_req_t *req, const ig_generation_t *gen, h2o_iovec_t *path, const char **scope)
{
    *scope = NULL;
    const ig_address_index_t *ix = &gen->addresses;
    if (ix->nhosts == 0 && ix->nprefixes == 0)
        return 0;
    long by_host = -1, by_prefix = -1;
    char name[IG_ADDRESS_HOST_MAX + 1];
    size_t n = ig_address_host_of(req->authority.base, req->authority.len, name, sizeof(name));
    if (n)
        by_host = ig_address_find_host(ix, name, n);
    size_t rest = 0;
    by_prefix = ig_address_find_prefix(ix, path->base, path->len, &rest);
    if (by_host >= 0 && by_prefix >= 0 && by_host != by_prefix) {
        ig_send_error(req, 404, "invalid_request_error", NULL, "unknown_url",
                      "Unknown request URL: this host serves the model `%s`, this path's prefix the model `%s`",
                      gen->models[by_host].cfg->model.name, gen->models[by_prefix].cfg->model.name);
        return -1;
    }
    if (by_prefix >= 0) {
        *path = h2o_iovec_init(path->base + rest, path->len - rest);
        *scope = gen->models[by_prefix].cfg->model.name;
        /* under a prefix, only the model's API: nothing of the gateway's own */
        if (!STARTS(*path, "/v1/")) {
            ig_send_error(req, 404, "invalid_request_error", NULL, "unknown_url",
                          "Unknown request URL: %.*s serves the model `%s` under /v1/ only",
                          (int)(rest > 200 ? 200 : rest), req->path_normalized.base, *scope);
            return -1;
        }
    } else if (by_host >= 0) {
        *scope = gen->models[by_host].cfg->model.name;
    }
    return 0;
}

/*
 * The path a plugin's route gets: as sent, still percent-encoded (the plugin decodes each segment
 * once; path_normalized is h2o's decoding already, so "%2F" would split a segment and "%2561" decode
 * twice), past the address prefix the router took off the normalized path. A prefix written with
 * escapes or dot-segments leaves the routed (normalized) path.
 */
static h2o_iovec_t plugin_path(h2o_req_t *req, h2o_iovec_t routed)
{
    h2o_iovec_t raw = req->path;
    if (req->query_at != SIZE_MAX && req->query_at <= raw.len)
        raw.len = req->query_at;
    size_t cut = req->path_normalized.len - routed.len;
    if (cut == 0)
        return raw;
    if (raw.len >= cut && memcmp(raw.base, req->path_normalized.base, cut) == 0)
        return h2o_iovec_init(raw.base + cut, raw.len - cut);
    return routed;
}

static void route(h2o_handler_t *self, h2o_req_t *req);

/* a request refused before route(): in the access log and metrics all the same */
static void refused(h2o_handler_t *self, h2o_req_t *req)
{
    ig_request_log_t *log = ig_request_log_start(req, ((router_t *)self)->deps.access_log, ig_worker_of(req)->metrics);
    log->api = ig_api_from_path(req->path_normalized.base, req->path_normalized.len) != IG_API_NONE;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    /* an HTTP/1 head h2o was shown without its body: refused, or route() once the body is in */
    if (ig_h1_body_intercept(ig_worker_of(req), self, req, route, refused))
        return 0;
    route(self, req);
    return 0;
}

static void route(h2o_handler_t *self, h2o_req_t *req)
{
    const ig_router_deps_t *d = &((router_t *)self)->deps;
    ig_worker_t *w = ig_worker_of(req);
    ig_request_log_t *log = ig_request_log_start(req, d->access_log, w->metrics);
    h2o_iovec_t path = req->path_normalized;
    int get = method_is(req, H2O_STRLIT("GET")) || method_is(req, H2O_STRLIT("HEAD"));
    int post = method_is(req, H2O_STRLIT("POST"));
    const char *scope;
    if (address_scope(req, w->gen, &path, &scope) != 0)
        return;
    if (ig_console_portal_cookie(req, path) != 0) /* the portal's cookie stands for its key where it may */
        return;

    ig_api_t api = ig_api_from_path(path.base, path.len);
    if (api != IG_API_NONE) {
        log->api = 1;
        if (!post)
            method_not_allowed(req, "POST");
        else
            ig_proxy_handle(w, req, api, log, scope);
        return;
    }
    if (PATH_IS(path, "/v1/models") || PREFIX_IS(path, "/v1/models/")) {
        if (!get)
            method_not_allowed(req, "GET");
        else if (path.len == 10)
            ig_models_api_serve(w, req, NULL, 0, scope);
        else
            ig_models_api_serve(w, req, path.base + 11, path.len - 11, scope);
        return;
    }
    if (PATH_IS(path, "/v1/me")) {
        if (!get)
            method_not_allowed(req, "GET");
        else
            ig_me_api_serve(w, req);
        return;
    }
    if (console_routes((router_t *)self, w, req, path, get))
        return;
    if (PATH_IS(path, "/healthz")) {
        send_text(req, 200, "{\"status\":\"ok\"}\n");
        return;
    }
    if (PATH_IS(path, "/readyz")) {
        ig_readiness_serve(req, w->gen); /* ready to route: some model can take a request */
        return;
    }
    if (PATH_IS(path, "/metrics")) {
        if (!get)
            method_not_allowed(req, "GET");
        else
            ig_metrics_http_serve(req, w->gen, d->shards, d->nshards, d->reloads, d->sched);
        return;
    }
    if (PATH_IS(path, "/admin/generation")) {
        if (!get)
            method_not_allowed(req, "GET");
        else
            ig_admin_generation_serve(req, w->gen, d->reloads);
        return;
    }
    if (PATH_IS(path, "/admin/replicas")) {
        if (!get)
            method_not_allowed(req, "GET");
        else
            ig_admin_replicas_serve(req, w->gen, d->sched);
        return;
    }
    if (ig_plugin_routes_serve(w, w->gen, req, plugin_path(req, path)))
        return;
    ig_send_error(req, 404, "invalid_request_error", NULL, "unknown_url", "Unknown request URL: %.*s %.*s",
                  (int)req->method.len, req->method.base, (int)(path.len > 200 ? 200 : path.len), path.base);
    return;
}

int ig_router_register(h2o_pathconf_t *pathconf, const ig_router_deps_t *deps)
{
    router_t *h = (router_t *)h2o_create_handler(pathconf, sizeof(*h));
    if (h == NULL)
        return -1;
    h->super.on_req = on_req;
    h->deps = *deps;
    h->models = (ig_admin_models_deps_t){
        .sched = deps->sched,
        .shards = deps->shards,
        .nshards = deps->nshards,
        .submit = deps->submit_model_change,
        .submit_data = deps->submit_data,
    };
    return 0;
}
