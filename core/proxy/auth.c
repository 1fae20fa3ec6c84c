/* auth.c — runs the generation's auth plugin on a request (auth.h). */
#include "proxy/auth.h"
#include <string.h>
#include "http/openai_error.h"
#include "plugin/plugin_host.h"

static ig_str_t header_value(h2o_req_t *req, const h2o_token_t *token, const char *name, size_t len)
{
    ssize_t i = token ? h2o_find_header(&req->headers, token, -1) : h2o_find_header_by_str(&req->headers, name, len, -1);
    if (i < 0)
        return (ig_str_t){"", 0};
    return (ig_str_t){req->headers.entries[i].value.base, req->headers.entries[i].value.len};
}

int ig_auth_authenticate(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t **out)
{
    *out = NULL;
    if (gen->auth == NULL)
        return 0;
    const ig_auth_vtable_t *vt = gen->auth->desc->vtable;
    ig_auth_request_t ar = {
        .pool = &req->pool,
        .authorization = header_value(req, H2O_TOKEN_AUTHORIZATION, NULL, 0),
        .api_key = header_value(req, NULL, H2O_STRLIT("x-api-key")),
    };
    ig_principal_t *p = h2o_mem_alloc_pool(&req->pool, sizeof(*p));
    memset(p, 0, sizeof(*p));
    p->key_limits = p->customer_limits = p->key_model_limits = IG_LIMITS_NONE;
    ig_error_t err = {{0}};
    if (vt->authenticate(gen->auth->state, &ar, p, &err) != 0) {
        ig_send_plugin_error(req, &err, 401, "invalid_request_error", "invalid_api_key");
        return -1;
    }
    *out = p;
    return 0;
}

int ig_auth_model_allowed(const ig_generation_t *gen, ig_principal_t *principal, const ig_model_t *model)
{
    if (gen->auth == NULL || principal == NULL)
        return 1;
    const ig_auth_vtable_t *vt = gen->auth->desc->vtable;
    principal->key_model_limits = IG_LIMITS_NONE;
    return vt->authorize_model(gen->auth->state, principal, model) == 1;
}
