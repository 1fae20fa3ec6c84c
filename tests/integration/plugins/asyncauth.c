/*
 * asyncauth.c — an auth plugin for the integration tests that answers later (IG_PENDING, then
 * host->auth_done from a timer on the worker's loop). The key (Authorization: Bearer, or X-API-Key):
 *   sync-<name>   authenticated at once, customer <name>
 *   ok-<name>     authenticated after `delay`, customer <name>
 *   bad-<name>    refused after `delay` (401, the plugin's message)
 *   hold-<name>   authenticated once POST /test/asyncauth/release is called after it began
 *   none          refused at once (401)
 * Every model is allowed. GET /test/asyncauth/stats counts calls and answers (async_waiters.h).
 */
#include "async_waiters.h"

typedef struct {
    int64_t delay_ms;
} aa_options_t;

typedef struct {
    aa_options_t opt;
} aa_state_t;

static void aw_answer(aw_waiter_t *w)
{
    const ig_auth_request_t *req = w->req;
    if (w->decision == 0) {
        aw_host->auth_done(req, 0, NULL);
        return;
    }
    ig_error_t err = {{0}};
    aw_host->error(&err, "asyncauth: the key was refused after a while");
    aw_host->auth_done(req, -1, &err);
}

static ig_str_t key_of(const ig_auth_request_t *req)
{
    if (req->authorization.len > 7 && strncmp(req->authorization.ptr, "Bearer ", 7) == 0)
        return (ig_str_t){req->authorization.ptr + 7, req->authorization.len - 7};
    return req->api_key;
}

static int starts(ig_str_t k, const char *p, ig_str_t *rest)
{
    size_t n = strlen(p);
    if (k.len < n || memcmp(k.ptr, p, n) != 0)
        return 0;
    *rest = (ig_str_t){k.ptr + n, k.len - n};
    return 1;
}

static int aa_authenticate(void *state, const ig_auth_request_t *req, ig_principal_t *out, ig_error_t *err)
{
    aa_state_t *s = state;
    atomic_fetch_add(&aw_count.calls, 1);
    ig_str_t k = key_of(req), name;
    int later = 1, decision = 0, held = 0;
    if (starts(k, "sync-", &name))
        later = 0;
    else if (starts(k, "ok-", &name))
        ;
    else if (starts(k, "bad-", &name))
        decision = -1;
    else if (starts(k, "hold-", &name))
        held = 1;
    else {
        atomic_fetch_add(&aw_count.sync_answers, 1);
        return aw_host->error(err, "asyncauth: no key, or a key it does not know");
    }
    /* the principal is filled now; the core reads it only once auth_done(0) came */
    char *id = aw_host->palloc(req->pool, name.len + 1);
    memcpy(id, name.ptr, name.len);
    id[name.len] = '\0';
    out->customer_id = (ig_str_t){id, name.len};
    out->key_id = k;
    if (!later) {
        atomic_fetch_add(&aw_count.sync_answers, 1);
        return 0;
    }
    if (aw_wait(req, s, decision, held, (uint64_t)s->opt.delay_ms) != 0)
        return aw_host->error(err, "asyncauth: cannot wait (not a worker thread, or out of memory)");
    return IG_PENDING;
}

static int aa_authorize_model(void *state, ig_principal_t *principal, const ig_model_t *model)
{
    return 1;
}

static void aa_cancel(void *state, const ig_auth_request_t *req)
{
    aw_cancel(req);
}

static int aa_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    aw_host = host;
    aw_name = "asyncauth";
    aa_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return host->error(err, "out of memory");
    s->opt = *(const aa_options_t *)ctx->options;
    *state = s;
    return 0;
}

static void aa_fini(void *state)
{
    aw_fini_check();
    free(state);
}

static const ig_option_decl_t aa_options[] = {
    {"delay", IG_OPT_DURATION, "30ms", "how long a later answer takes", 0, 60000, offsetof(aa_options_t, delay_ms)},
    {NULL},
};

static const ig_auth_vtable_t aa_vtable = {
    .size = sizeof(ig_auth_vtable_t),
    .authenticate = aa_authenticate,
    .authorize_model = aa_authorize_model,
    .cancel = aa_cancel,
};

static const ig_route_decl_t aa_routes[] = {
    {"/test/asyncauth", IG_ROUTE_PUBLIC, aw_route},
    {NULL},
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "asyncauth",
    .kind = IG_PLUGIN_AUTH,
    .version = "test",
    .description = "test auth plugin that answers later, from a timer on the worker's loop",
    .options = aa_options,
    .options_size = sizeof(aa_options_t),
    .init = aa_init,
    .fini = aa_fini,
    .vtable = &aa_vtable,
    .routes = aa_routes,
};
