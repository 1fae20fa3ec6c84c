/* auth.c — runs the generation's auth plugin on a request, now or later (auth.h). */
#include "proxy/auth.h"
#include <string.h>
#include "http/openai_error.h"
#include "proxy/stage.h"

static ig_str_t header_value(h2o_req_t *req, const h2o_token_t *token, const char *name, size_t len)
{
    ssize_t i = token ? h2o_find_header(&req->headers, token, -1) : h2o_find_header_by_str(&req->headers, name, len, -1);
    if (i < 0)
        return (ig_str_t){"", 0};
    return (ig_str_t){req->headers.entries[i].value.base, req->headers.entries[i].value.len};
}

/* The plugin's answer, now or later: 0 (authenticated) or -1 after the error was sent. */
static int settle(ig_auth_stage_t *s, int rc, const ig_error_t *err)
{
    if (rc == 0) {
        s->principal = s->out;
        return 0;
    }
    ig_error_t none = {{0}};
    ig_send_plugin_error(s->req, err ? err : &none, 401, "invalid_request_error", "invalid_api_key");
    return -1;
}

static int start(ig_auth_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, ig_auth_resume_t resume,
                 ig_str_t authorization, ig_str_t api_key)
{
    memset(s, 0, sizeof(*s));
    s->req = req;
    s->resume = resume;
    if (gen->auth == NULL)
        return 0;
    s->plugin = gen->auth;
    const ig_auth_vtable_t *vt = gen->auth->desc->vtable;
    s->areq.pool = &req->pool;
    s->areq.authorization = authorization;
    s->areq.api_key = api_key;
    s->out = h2o_mem_alloc_pool(&req->pool, sizeof(*s->out));
    memset(s->out, 0, sizeof(*s->out));
    s->out->key_limits = s->out->customer_limits = s->out->key_model_limits = IG_LIMITS_NONE;
    ig_error_t err = {{0}};
    s->in_call = 1;
    int rc = vt->authenticate(gen->auth->state, &s->areq, s->out, &err);
    s->in_call = 0;
    if (rc != IG_PENDING)
        return settle(s, rc, &err);
    if (vt->cancel == NULL) {
        /* it could never be told that the client left: refuse to wait on it */
        ig_log_error("auth plugin `%s` answered IG_PENDING but has no cancel function (a plugin bug): answering 500",
                     s->plugin->desc->name);
        ig_send_error(req, 500, "server_error", NULL, NULL,
                      "the auth plugin `%s` answered later without a way to cancel (cancel is required with IG_PENDING)",
                      s->plugin->desc->name);
        return -1;
    }
    if (s->early != NULL) /* auth_done came from inside authenticate() */
        return settle(s, s->early->rc, s->early->has_err ? &s->early->err : NULL);
    s->pending = 1;
    s->worker = ig_host_worker_index();
    return IG_PENDING;
}

int ig_auth_start(ig_auth_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, ig_auth_resume_t resume)
{
    return start(s, req, gen, resume, header_value(req, H2O_TOKEN_AUTHORIZATION, NULL, 0),
                 header_value(req, NULL, H2O_STRLIT("x-api-key")));
}

int ig_auth_start_key(ig_auth_stage_t *s, h2o_req_t *req, const ig_generation_t *gen, const char *key, size_t len,
                      ig_auth_resume_t resume)
{
    char *authz = h2o_mem_alloc_pool(&req->pool, len + 8);
    memcpy(authz, "Bearer ", 7);
    memcpy(authz + 7, key, len);
    authz[len + 7] = '\0';
    return start(s, req, gen, resume, (ig_str_t){authz, len + 7}, (ig_str_t){"", 0});
}

void ig_auth_done(const ig_auth_request_t *areq, int rc, const ig_error_t *err)
{
    ig_auth_stage_t *s = (ig_auth_stage_t *)((char *)areq - offsetof(ig_auth_stage_t, areq));
    if (s->in_call && s->early == NULL) {
        s->early = ig_stage_early_keep(&s->req->pool, rc, err);
        return;
    }
    if (!ig_stage_answer_ok("auth_done", s->plugin->desc->name, s->pending, s->worker))
        return;
    s->pending = 0;
    s->resume(s, settle(s, rc, err));
}

void ig_auth_cancel(ig_auth_stage_t *s)
{
    if (!s->pending)
        return;
    s->pending = 0;
    ((const ig_auth_vtable_t *)s->plugin->desc->vtable)->cancel(s->plugin->state, &s->areq);
}

int ig_auth_model_allowed(const ig_generation_t *gen, ig_principal_t *principal, const ig_model_t *model)
{
    if (gen->auth == NULL || principal == NULL)
        return 1;
    const ig_auth_vtable_t *vt = gen->auth->desc->vtable;
    principal->key_model_limits = IG_LIMITS_NONE;
    return vt->authorize_model(gen->auth->state, principal, model) == 1;
}
