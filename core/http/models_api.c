#include "util/json.h"
#include "http/models_api.h"
#include <stdio.h>
#include <string.h>
#include "proxy/auth.h"
#include "http/openai_error.h"
#include "server/worker.h"

/* owned_by: the model's owner (KubeAI's spec.owner), else "infergate". */
static const char *owner_of(const ig_model_t *m)
{
    return m->owner ? m->owner : "infergate";
}

/* Worst case of one entry: escaped name and owner (6x) plus fixed text. */
static size_t entry_cap(const ig_model_t *m)
{
    return strlen(m->name) * 6 * 2 + strlen(owner_of(m)) * 6 + 160;
}

static size_t put_entry(char *buf, size_t cap, const char *name, const ig_model_t *m, const char *parent, long created)
{
    size_t off = (size_t)snprintf(buf, cap, "{\"id\":");
    off += ig_json_escape(name, strlen(name), buf + off, cap - off);
    off += (size_t)snprintf(buf + off, cap - off, ",\"object\":\"model\",\"created\":%ld,\"owned_by\":", created);
    off += ig_json_escape(owner_of(m), strlen(owner_of(m)), buf + off, cap - off);
    if (parent != NULL) {
        off += (size_t)snprintf(buf + off, cap - off, ",\"parent\":");
        off += ig_json_escape(parent, strlen(parent), buf + off, cap - off);
    }
    off += (size_t)snprintf(buf + off, cap - off, "}");
    return off;
}

static void send_json(h2o_req_t *req, char *body, size_t len)
{
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body, len);
}

/* "created" is when the generation that serves the model was loaded: stable across requests. */
static long created_of(const ig_generation_t *gen)
{
    return (long)gen->created_at;
}

void ig_models_api_list(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal)
{
    size_t cap = 64;
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_t *m = &gen->models[i].cfg->model;
        cap += entry_cap(m) + 2;
        for (size_t a = 0; a < m->nadapters; a++)
            cap += entry_cap(m) + strlen(m->adapters[a].name) * 6 + 8;
    }
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    size_t off = (size_t)snprintf(buf, cap, "{\"object\":\"list\",\"data\":[");
    int first = 1;
    char name[512];
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_t *m = &gen->models[i].cfg->model;
        if (!ig_auth_model_allowed(gen, principal, m))
            continue;
        off += (size_t)snprintf(buf + off, cap - off, "%s", first ? "" : ",");
        off += put_entry(buf + off, cap - off, m->name, m, NULL, created_of(gen));
        first = 0;
        for (size_t a = 0; a < m->nadapters; a++) {
            snprintf(name, sizeof(name), "%s_%s", m->name, m->adapters[a].name);
            off += (size_t)snprintf(buf + off, cap - off, ",");
            off += put_entry(buf + off, cap - off, name, m, m->name, created_of(gen));
        }
    }
    off += (size_t)snprintf(buf + off, cap - off, "]}\n");
    send_json(req, buf, off);
}

void ig_models_api_get(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, const char *id,
                       size_t id_len)
{
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, id, id_len, &adapter);
    if (m == NULL || !ig_auth_model_allowed(gen, principal, &m->cfg->model)) {
        ig_send_error(req, 404, "invalid_request_error", "model", "model_not_found",
                      "The model `%.*s` does not exist or you do not have access to it.", (int)(id_len > 200 ? 200 : id_len),
                      id);
        return;
    }
    size_t cap = entry_cap(&m->cfg->model) + id_len * 6 + 16;
    char *buf = h2o_mem_alloc_pool(&req->pool, cap);
    char *name = h2o_mem_alloc_pool(&req->pool, id_len + 1);
    memcpy(name, id, id_len);
    name[id_len] = '\0';
    size_t off = put_entry(buf, cap, name, &m->cfg->model, adapter.len ? m->cfg->model.name : NULL, created_of(gen));
    buf[off++] = '\n';
    send_json(req, buf, off);
}

/* One GET /v1/models call, from its start until h2o disposes of it. */
typedef struct {
    ig_auth_stage_t auth;
    ig_worker_request_t tracked;    /* while the auth plugin has not answered */
    ig_worker_t *worker;
    ig_worker_gen_t *hold;          /* the generation it began on, held until it is disposed */
    h2o_req_t *req;
    const char *id;                 /* NULL for the list */
    size_t id_len;
    int tracking;
} models_call_t;

static void answer(models_call_t *c)
{
    if (c->id == NULL)
        ig_models_api_list(c->req, c->hold->gen, c->auth.principal);
    else
        ig_models_api_get(c->req, c->hold->gen, c->auth.principal, c->id, c->id_len);
}

static void untrack(models_call_t *c)
{
    if (c->tracking) {
        c->tracking = 0;
        ig_worker_untrack(c->worker, &c->tracked);
    }
}

static void on_authenticated(ig_auth_stage_t *s, int rc)
{
    models_call_t *c = (models_call_t *)((char *)s - offsetof(models_call_t, auth));
    untrack(c);
    if (rc == 0)
        answer(c);
}

/* The grace period ended while the auth plugin still decides: it is told, the client gets a 503. */
static void cut_for_shutdown(ig_worker_request_t *t)
{
    models_call_t *c = (models_call_t *)((char *)t - offsetof(models_call_t, tracked));
    ig_auth_cancel(&c->auth);
    untrack(c);
    h2o_add_header(&c->req->pool, &c->req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("5"));
    ig_send_error(c->req, 503, "server_error", NULL, "shutting_down",
                  "the gateway is shutting down: the request was cut at the end of server.shutdownGracePeriod");
}

static void on_dispose(void *arg)
{
    models_call_t *c = arg;
    ig_auth_cancel(&c->auth); /* the client left while the auth plugin decides */
    untrack(c);
    ig_worker_gen_release(c->worker, c->hold);
}

void ig_models_api_serve(ig_worker_t *w, h2o_req_t *req, const char *id, size_t id_len)
{
    models_call_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), on_dispose);
    memset(c, 0, sizeof(*c));
    c->worker = w;
    c->hold = ig_worker_gen_acquire(w);
    c->req = req;
    c->id = id;
    c->id_len = id_len;
    int rc = ig_auth_start(&c->auth, req, c->hold->gen, on_authenticated);
    if (rc == 0) {
        answer(c);
    } else if (rc == IG_PENDING) {
        c->tracking = 1;
        ig_worker_track(w, &c->tracked, cut_for_shutdown);
    }
}
