/* me_api.c — GET /v1/me composed from the core and every plugin's describe_principal (me_api.h). */
#include "http/me_api.h"
#include <string.h>
#include "http/openai_error.h"
#include "http/principal_call.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"
#include "proxy/auth.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/json_write.h"

/* Members the core writes itself: no plugin may write them. */
static const char *const core_members[] = {"object", "customer", "customer_name", "key_id", "models", NULL};
/* Members written as a default when no plugin did. */
static const char *const defaults[][2] = {{"key_name", "null"}, {"limits", "[]"}};
#define NDEFAULTS (sizeof(defaults) / sizeof(defaults[0]))
#define MAX_MEMBERS 64

typedef struct {
    ig_json_value_t names[MAX_MEMBERS]; /* spans of the keys written so far, quotes included */
    size_t n;
} seen_t;

static int key_is(const ig_json_value_t *k, const char *name)
{
    size_t n = strlen(name);
    return k->len == n + 2 && memcmp(k->ptr + 1, name, n) == 0;
}

static int seen_has(const seen_t *s, const ig_json_value_t *k)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->names[i].len == k->len && memcmp(s->names[i].ptr, k->ptr, k->len) == 0)
            return 1;
    return 0;
}

/*
 * Checks a plugin's members: valid JSON once wrapped in braces, none the core's, none written twice,
 * and remembers their names. 0, or -1 with why.
 */
static int check_members(h2o_mem_pool_t *pool, ig_str_t m, seen_t *seen, const char **why)
{
    char *obj = h2o_mem_alloc_pool(pool, m.len + 2);
    obj[0] = '{';
    memcpy(obj + 1, m.ptr, m.len);
    obj[m.len + 1] = '}';
    ig_json_value_t v, k, val;
    if (ig_json_validate_value(obj, m.len + 2, NULL, &v) != 0 || v.type != IG_JSON_OBJECT) {
        *why = "its members are not valid JSON";
        return -1;
    }
    ig_json_iter_t it;
    ig_json_iter_init(&it, &v);
    int rc;
    while ((rc = ig_json_iter_next(&it, &k, &val)) == 1) {
        for (size_t i = 0; core_members[i]; i++)
            if (key_is(&k, core_members[i])) {
                *why = "it writes a member the core writes";
                return -1;
            }
        if (seen_has(seen, &k)) {
            *why = "it writes a member another plugin (or itself) wrote already";
            return -1;
        }
        if (seen->n == MAX_MEMBERS) {
            *why = "too many members";
            return -1;
        }
        seen->names[seen->n++] = k;
    }
    if (rc < 0) {
        *why = "its members are not valid JSON";
        return -1;
    }
    return 0;
}

static void put_price(ig_buf_t *b, const char *name, const char *v, int first)
{
    ig_buf_printf(b, "%s\"%s\":", first ? "" : ",", name);
    ig_json_write_cstr(b, v ? v : "0");
}

static void put_model(ig_buf_t *b, const ig_model_t *m, int first)
{
    ig_buf_puts(b, first ? "{\"id\":" : ",{\"id\":");
    ig_json_write_cstr(b, m->name);
    ig_buf_puts(b, ",\"prices\":{");
    put_price(b, "prompt", m->pricing.prompt, 1);
    put_price(b, "completion", m->pricing.completion, 0);
    put_price(b, "request", m->pricing.request, 0);
    put_price(b, "input_cache_read", m->pricing.input_cache_read, 0);
    if (m->pricing.audio)
        put_price(b, "audio", m->pricing.audio, 0);
    ig_buf_puts(b, "}}");
}

static void put_str(ig_buf_t *b, const char *name, ig_str_t v)
{
    ig_buf_printf(b, ",\"%s\":", name);
    ig_json_write_str(b, v.ptr ? v.ptr : "", v.ptr ? v.len : 0);
}

void ig_me_api_answer(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal)
{
    if (principal == NULL) {
        ig_send_error(req, 404, "invalid_request_error", NULL, "not_available",
                      "GET /v1/me describes the caller's API key: it needs an auth plugin (plugins.load: [apikey])");
        return;
    }
    /* the models it may use, and its own limits on each */
    const ig_model_t **models = h2o_mem_alloc_pool(&req->pool, (gen->nmodels + 1) * sizeof(*models));
    ig_limits_t *kml = h2o_mem_alloc_pool(&req->pool, (gen->nmodels + 1) * sizeof(*kml));
    size_t n = 0;
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_t *m = &gen->models[i].cfg->model;
        if (!ig_auth_model_allowed(gen, principal, m))
            continue;
        models[n] = m;
        kml[n++] = principal->key_model_limits;
    }
    principal->key_model_limits = IG_LIMITS_NONE;

    ig_buf_t b = {0};
    ig_buf_puts(&b, "{\"object\":\"me\"");
    put_str(&b, "customer", principal->customer_id);
    put_str(&b, "customer_name", principal->customer_name);
    put_str(&b, "key_id", principal->key_id);
    seen_t seen = {.n = 0};
    for (size_t j = 0; j < gen->nplugins; j++) {
        const ig_plugin_instance_t *inst = &gen->plugins[j];
        if (inst->desc->describe_principal == NULL)
            continue;
        ig_describe_t d = {
            .host = ig_plugin_host_api(),
            .pool = &req->pool,
            .principal = principal,
            .models = models,
            .key_model_limits = kml,
            .nmodels = n,
        };
        ig_error_t err = {{0}};
        const char *why = NULL;
        if (inst->desc->describe_principal(inst->state, &d, &err) != 0) {
            ig_buf_free(&b);
            ig_send_plugin_error(req, &err, 500, "server_error", NULL);
            return;
        }
        if (d.members.len == 0)
            continue;
        if (d.members.ptr == NULL || check_members(&req->pool, d.members, &seen, &why) != 0) {
            ig_buf_free(&b);
            ig_log_error("plugin %s: describe_principal: %s (a plugin bug)", inst->desc->name,
                         why ? why : "no text");
            ig_send_error(req, 500, "server_error", NULL, NULL, "the plugin `%s` described the caller wrongly: %s",
                          inst->desc->name, why ? why : "no text");
            return;
        }
        ig_buf_putc(&b, ',');
        ig_buf_put(&b, d.members.ptr, d.members.len);
    }
    for (size_t i = 0; i < NDEFAULTS; i++) {
        int have = 0;
        for (size_t s = 0; s < seen.n && !have; s++)
            have = key_is(&seen.names[s], defaults[i][0]);
        if (!have)
            ig_buf_printf(&b, ",\"%s\":%s", defaults[i][0], defaults[i][1]);
    }
    ig_buf_puts(&b, ",\"models\":[");
    for (size_t i = 0; i < n; i++)
        put_model(&b, models[i], i == 0);
    ig_buf_puts(&b, "]}\n");
    if (b.failed) {
        ig_buf_free(&b);
        ig_send_error(req, 500, "server_error", NULL, NULL, "out of memory describing the caller");
        return;
    }
    char *body = h2o_mem_alloc_pool(&req->pool, b.len);
    memcpy(body, b.p, b.len);
    size_t len = b.len;
    ig_buf_free(&b);
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
    h2o_send_inline(req, body, len);
}

static void answer(h2o_req_t *req, const ig_generation_t *gen, ig_principal_t *principal, void *arg)
{
    (void)arg;
    ig_me_api_answer(req, gen, principal);
}

void ig_me_api_serve(ig_worker_t *w, h2o_req_t *req)
{
    ig_principal_call(w, req, answer, NULL);
}
