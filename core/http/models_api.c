#include "util/json.h"
#include "http/models_api.h"
#include <stdio.h>
#include <string.h>
#include "proxy/auth.h"
#include "http/principal_call.h"
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

void ig_models_api_list(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, const char *scope)
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
        if ((scope != NULL && strcmp(m->name, scope) != 0) || !ig_auth_model_allowed(gen, principal, m))
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
                       size_t id_len, const char *scope)
{
    ig_str_t adapter;
    const ig_model_rt_t *m = ig_generation_find_model(gen, id, id_len, &adapter);
    if (m == NULL || (scope != NULL && strcmp(m->cfg->model.name, scope) != 0) ||
        !ig_auth_model_allowed(gen, principal, &m->cfg->model)) {
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

/* What a call asks: the list (id NULL) or one model. */
typedef struct {
    const char *id;
    size_t id_len;
    const char *scope;
} models_ask_t;

static void answer(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, void *arg)
{
    const models_ask_t *a = arg;
    if (a->id == NULL)
        ig_models_api_list(req, gen, principal, a->scope);
    else
        ig_models_api_get(req, gen, principal, a->id, a->id_len, a->scope);
}

void ig_models_api_serve(ig_worker_t *w, h2o_req_t *req, const char *id, size_t id_len, const char *scope)
{
    models_ask_t *a = h2o_mem_alloc_pool(&req->pool, sizeof(*a));
    a->id = id;
    a->id_len = id_len;
    a->scope = scope;
    ig_principal_call(w, req, answer, a);
}
