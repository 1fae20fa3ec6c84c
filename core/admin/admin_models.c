/* admin_models.c — /admin/models: models with their source, fields and live state; runtime changes (admin_models.h). */
#include "admin/admin_models.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "admin/admin_auth.h"
#include "http/openai_error.h"
#include "plugin/plugin_host.h"
#include "server/worker.h"
#include "util/api.h"
#include "util/json.h"
#include "util/json_write.h"

void ig_model_change_release(ig_model_change_t *ch)
{
    if (ch == NULL || atomic_fetch_sub(&ch->refs, 1) != 1)
        return;
    free(ch->body);
    free(ch->error_json);
    ig_generation_release(ch->gen);
    free(ch);
}

/* ---- what an auth plugin says of the models (publications) --------------------------------- */

/* The plugin route serving /admin/models (the auth plugin's publications), or NULL. */
static const ig_route_decl_t *publication_route(const ig_generation_t *gen, const ig_plugin_instance_t **inst)
{
    for (size_t j = 0; j < gen->nplugins; j++)
        for (const ig_route_decl_t *rt = gen->plugins[j].desc->routes; rt && rt->path; rt++)
            if (strcmp(rt->path, "/admin/models") == 0) {
                *inst = &gen->plugins[j];
                return rt;
            }
    return NULL;
}

/*
 * The plugin's own GET answer for path (its publication list, or one model's), parsed; 0 when it
 * answered 200 with JSON. Its routes under /admin/models answer at once (they read memory), so
 * the call is made here, on the worker, like any plugin route.
 */
static int publications(h2o_req_t *req, const ig_generation_t *gen, const char *name, ig_json_value_t *out)
{
    const ig_plugin_instance_t *inst;
    const ig_route_decl_t *rt = publication_route(gen, &inst);
    if (rt == NULL)
        return -1;
    char *path = h2o_mem_alloc_pool(&req->pool, 16 + (name ? strlen(name) : 0));
    size_t plen = (size_t)sprintf(path, "/admin/models%s%s", name ? "/" : "", name ? name : "");
    ig_http_exchange_t x = {
        .host = ig_plugin_host_api(),
        .pool = &req->pool,
        .method = {"GET", 3},
        .path = {path, plen},
        .rest = {path + 13, plen - 13},
        .query = {"", 0},
        .body = {"", 0},
        .models = gen->model_views,
        .nmodels = gen->nmodels,
    };
    ig_error_t err = {{0}};
    if (rt->handle(inst->state, &x, &err) != 0 || (x.status != 0 && x.status != 200) || x.response.ptr == NULL)
        return -1;
    return ig_json_validate_value(x.response.ptr, x.response.len, NULL, out);
}

/* The item of list `data` whose "id" is name. */
static int find_item(const ig_json_value_t *list, const char *name, ig_json_value_t *item)
{
    ig_json_value_t data, id;
    ig_json_iter_t it;
    if (ig_json_object_get(list, "data", 4, &data) != 1 || ig_json_iter_init(&it, &data) != 0)
        return 0;
    while (ig_json_iter_next(&it, NULL, item) == 1)
        if (ig_json_object_get(item, "id", 2, &id) == 1 && ig_json_string_eq(&id, name, strlen(name)))
            return 1;
    return 0;
}

static void put_raw_member(ig_buf_t *b, const ig_json_value_t *obj, const char *key)
{
    ig_json_value_t v;
    if (ig_json_object_get(obj, key, strlen(key), &v) == 1)
        ig_buf_printf(b, ",\"%s\":%.*s", key, (int)v.len, v.ptr);
}

/* ---- one model ------------------------------------------------------------------------------ */

static void put_endpoint(ig_buf_t *b, const ig_endpoint_t *ep, int *first)
{
    ig_buf_puts(b, *first ? "{\"url\":" : ",{\"url\":");
    *first = 0;
    ig_json_write_cstr(b, ep->url);
    ig_buf_printf(b, ",\"healthy\":%s,\"in_flight\":%u,\"engine_load\":%u}",
                  atomic_load_explicit(&ep->healthy, memory_order_relaxed) ? "true" : "false",
                  (unsigned)atomic_load_explicit(&ep->in_flight, memory_order_relaxed),
                  (unsigned)atomic_load_explicit(&ep->engine_load, memory_order_relaxed));
}

static void render_model(ig_buf_t *b, const ig_generation_t *gen, const ig_model_rt_t *rt,
                         const ig_admin_models_deps_t *d, const ig_json_value_t *publication)
{
    const ig_model_config_t *mc = rt->cfg;
    const ig_model_t *m = &mc->model;
    ig_buf_lit(b, "{\"object\":\"model\",\"id\":");
    ig_json_write_cstr(b, m->name);
    if (mc->runtime) {
        ig_buf_lit(b, ",\"source\":\"runtime\"");
    } else {
        ig_buf_lit(b, ",\"source\":");
        ig_buf_t src = {0};
        ig_buf_printf(&src, "file:%s:%d", mc->file, mc->line);
        ig_json_write_cstr(b, src.failed ? "file" : src.p);
        ig_buf_free(&src);
    }
    ig_buf_lit(b, ",\"file\":");
    ig_json_write_cstr(b, mc->file);
    ig_buf_printf(b, ",\"line\":%d,\"engine\":", mc->line);
    ig_json_write_cstr(b, m->engine);
    ig_buf_lit(b, ",\"features\":[");
    int first = 1;
    for (unsigned bit = 1; bit != 0 && bit <= m->features; bit <<= 1) {
        const char *f = (m->features & bit) ? ig_api_feature_name(bit) : NULL;
        if (f == NULL)
            continue;
        ig_buf_puts(b, first ? "" : ",");
        ig_json_write_cstr(b, f);
        first = 0;
    }
    ig_buf_printf(b, "],\"config\":%s", mc->config_json ? mc->config_json : "null");

    /* live state */
    ig_buf_lit(b, ",\"state\":{\"endpoints\":[");
    first = 1;
    for (size_t e = 0; e < rt->nendpoints; e++)
        put_endpoint(b, rt->endpoints[e], &first);
    for (size_t i = 0; rt->replicas != NULL && i < IG_REPLICA_SLOTS; i++) {
        if (atomic_load_explicit(&rt->replicas->slot[i].state, memory_order_acquire) == IG_SLOT_EMPTY)
            continue;
        ig_endpoint_t *ep = atomic_load_explicit(&rt->replicas->slot[i].ep, memory_order_acquire);
        if (ep != NULL)
            put_endpoint(b, ep, &first);
    }
    ig_buf_lit(b, "],\"replicas\":");
    if (rt->replicas != NULL && d->sched != NULL)
        ig_scheduler_render_model_replicas(d->sched, m->name, b);
    else
        ig_buf_lit(b, "[]");
    ig_metrics_model_totals_t t;
    ig_metrics_model_totals(d->shards, d->nshards, m->name, strlen(m->name), &t);
    ig_buf_printf(b,
                  ",\"in_flight\":%llu,\"queued\":%u,\"requests\":%llu,\"prompt_tokens\":%llu,"
                  "\"completion_tokens\":%llu}",
                  (unsigned long long)t.in_flight, atomic_load_explicit(&rt->queued, memory_order_relaxed),
                  (unsigned long long)t.requests, (unsigned long long)t.prompt_tokens,
                  (unsigned long long)t.completion_tokens);
    if (publication != NULL) {
        put_raw_member(b, publication, "published");
        put_raw_member(b, publication, "customers");
    }
    ig_buf_printf(b, ",\"generation\":%llu}", (unsigned long long)gen->id);
}

static void send_buf(h2o_req_t *req, int status, ig_buf_t *b)
{
    if (b->failed) {
        ig_buf_free(b);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory rendering the models");
        return;
    }
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, b->p ? b->p : "", b->len);
    ig_buf_free(b);
}

static const ig_model_rt_t *exact_model(const ig_generation_t *gen, const char *name, size_t len)
{
    for (size_t i = 0; i < gen->nmodels; i++) {
        const char *n = gen->models[i].cfg->model.name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return &gen->models[i];
    }
    return NULL;
}

static void not_found(h2o_req_t *req, const char *name, size_t len)
{
    ig_send_error(req, 404, "invalid_request_error", NULL, "model_not_found", "no model named \"%.*s\"",
                  (int)(len > 200 ? 200 : len), name);
}

/* One model as GET shows it, answered with status. */
static void send_model(h2o_req_t *req, int status, const ig_generation_t *gen, const ig_admin_models_deps_t *d,
                       const char *name, size_t len)
{
    const ig_model_rt_t *rt = exact_model(gen, name, len);
    if (rt == NULL) {
        not_found(req, name, len);
        return;
    }
    ig_json_value_t item;
    int has_pub = publications(req, gen, rt->cfg->model.name, &item) == 0;
    ig_buf_t b = {0};
    render_model(&b, gen, rt, d, has_pub ? &item : NULL);
    ig_buf_lit(&b, "\n");
    send_buf(req, status, &b);
}

static void send_list(h2o_req_t *req, const ig_generation_t *gen, const ig_admin_models_deps_t *d)
{
    ig_json_value_t pubs, item, id;
    int has_pubs = publications(req, gen, NULL, &pubs) == 0;
    ig_buf_t b = {0};
    ig_buf_printf(&b, "{\"object\":\"list\",\"generation\":%llu,\"data\":[", (unsigned long long)gen->id);
    for (size_t i = 0; i < gen->nmodels; i++) {
        if (i)
            ig_buf_lit(&b, ",");
        int found = has_pubs && find_item(&pubs, gen->models[i].cfg->model.name, &item);
        render_model(&b, gen, &gen->models[i], d, found ? &item : NULL);
    }
    ig_buf_lit(&b, "]");
    if (has_pubs) {
        /* publications prepared for models not (yet) configured */
        ig_json_value_t data;
        ig_json_iter_t it;
        ig_buf_lit(&b, ",\"publications\":[");
        int first = 1;
        if (ig_json_object_get(&pubs, "data", 4, &data) == 1 && ig_json_iter_init(&it, &data) == 0) {
            while (ig_json_iter_next(&it, NULL, &item) == 1) {
                char name[256];
                size_t n = 0;
                if (ig_json_object_get(&item, "id", 2, &id) != 1 ||
                    ig_json_string_unescape(&id, name, sizeof(name) - 1, &n) != 0)
                    continue;
                if (exact_model(gen, name, n) != NULL)
                    continue;
                ig_buf_printf(&b, "%s%.*s", first ? "" : ",", (int)item.len, item.ptr);
                first = 0;
            }
        }
        ig_buf_lit(&b, "]");
    }
    ig_buf_lit(&b, "}\n");
    send_buf(req, 200, &b);
}

/* ---- PUT and DELETE: handed to the main thread ---------------------------------------------- */

typedef struct {
    ig_worker_request_t tracked;     /* until the outcome came (SIGTERM's grace period cuts it) */
    ig_worker_t *worker;
    h2o_req_t *req;
    ig_model_change_t *ch;
    const ig_admin_models_deps_t *deps;
    int tracking;
} change_call_t;

static void untrack(change_call_t *c)
{
    if (c->tracking) {
        c->tracking = 0;
        ig_worker_untrack(c->worker, &c->tracked);
    }
}

void ig_model_change_outcome(void *arg, int run)
{
    ig_model_change_t *ch = arg;
    change_call_t *c = ch->call;
    if (run && c != NULL) {
        ch->call = NULL;
        untrack(c);
        h2o_req_t *req = c->req;
        if (ch->status >= 400) {
            req->res.status = ch->status;
            req->res.reason = ig_http_reason(ch->status);
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                           H2O_STRLIT("application/json"));
            const char *body = ch->error_json ? ch->error_json : "{\"error\":{\"message\":\"failed\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n";
            h2o_send_inline(req, body, strlen(body));
        } else if (ch->remove) {
            ig_buf_t b = {0};
            ig_buf_lit(&b, "{\"object\":\"model\",\"id\":");
            ig_json_write_cstr(&b, ch->name);
            ig_buf_printf(&b, ",\"deleted\":true,\"generation\":%llu}\n", (unsigned long long)ch->gen->id);
            send_buf(req, 200, &b);
        } else {
            /* the change's own generation: a later change may be serving already */
            send_model(req, ch->status, ch->gen, c->deps, ch->name, strlen(ch->name));
        }
    }
    ig_model_change_release(ch); /* the main thread's */
}

static void cut_for_shutdown(ig_worker_request_t *t)
{
    change_call_t *c = (change_call_t *)((char *)t - offsetof(change_call_t, tracked));
    untrack(c);
    c->ch->call = NULL;
    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(c->req, 503, "server_error", NULL, "shutting_down",
                  "the gateway is shutting down: the model change may or may not have been applied");
}

static void on_dispose(void *arg)
{
    change_call_t *c = arg;
    untrack(c);
    c->ch->call = NULL;
    ig_model_change_release(c->ch); /* the worker's */
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return 0;
    return !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.') && s[0] != '.';
}

static void submit_change(ig_worker_t *w, h2o_req_t *req, const ig_admin_models_deps_t *d, const char *name, size_t len,
                          int remove)
{
    if (!valid_name(name, len)) {
        ig_send_error(req, 400, "invalid_request_error", "name", "invalid_model_name",
                      "invalid model name \"%.*s\" (1 to 128 of A-Z a-z 0-9 . _ -, not starting with '.')",
                      (int)(len > 200 ? 200 : len), name);
        return;
    }
    if (!remove && req->entity.len == 0) {
        ig_send_error(req, 400, "invalid_request_error", NULL, "invalid_model",
                      "PUT needs the model: a JSON object with the fields of a models[] entry, or a KubeAI Model "
                      "manifest (YAML or JSON)");
        return;
    }
    ig_model_change_t *ch = calloc(1, sizeof(*ch));
    if (ch == NULL || (!remove && (ch->body = malloc(req->entity.len + 1)) == NULL)) {
        free(ch);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory");
        return;
    }
    atomic_init(&ch->refs, 2);
    memcpy(ch->name, name, len);
    ch->remove = remove;
    if (!remove) {
        memcpy(ch->body, req->entity.base, req->entity.len);
        ch->body[req->entity.len] = '\0';
        ch->body_len = req->entity.len;
    }
    ch->worker = w;
    change_call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), on_dispose);
    memset(c, 0, sizeof(*c));
    c->worker = w;
    c->req = req;
    c->ch = ch;
    c->deps = d;
    ch->call = c;
    c->tracking = 1;
    ig_worker_track(w, &c->tracked, cut_for_shutdown);
    if (d->submit == NULL || d->submit(d->submit_data, ch) != 0) {
        ig_model_change_release(ch); /* the main thread's, never taken */
        untrack(c);
        ch->call = NULL;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
        ig_send_error(req, 503, "server_error", NULL, "shutting_down", "the gateway is shutting down");
    }
}

void ig_admin_models_serve(ig_worker_t *w, h2o_req_t *req, const ig_admin_models_deps_t *d, const char *name,
                           size_t len)
{
    const ig_generation_t *gen = w->gen;
    if (ig_admin_authorize(req, &gen->config->server) != 0)
        return;
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
              h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (name == NULL) {
        if (get) {
            send_list(req, gen, d);
        } else {
            h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET"));
            ig_send_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
                          "%.*s is not allowed on /admin/models (use GET, or PUT /admin/models/{name})",
                          (int)req->method.len, req->method.base);
        }
        return;
    }
    if (get)
        send_model(req, 200, gen, d, name, len);
    else if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("PUT")))
        submit_change(w, req, d, name, len, 0);
    else if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("DELETE")))
        submit_change(w, req, d, name, len, 1);
    else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, PUT, DELETE"));
        ig_send_error(req, 405, "invalid_request_error", NULL, "method_not_allowed",
                      "%.*s is not allowed on /admin/models/{name} (use GET, PUT or DELETE)", (int)req->method.len,
                      req->method.base);
    }
}
