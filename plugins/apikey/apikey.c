/*
 * apikey — the auth plugin: API keys (Authorization: Bearer or X-API-Key) become principals.
 *
 * Customers own keys; a key may restrict the models it can use and carry limits; a published
 * model is visible only to the customers it was published to. Keys come from two places:
 * plugins.options.apikey (as SHA-256 hashes, replaced on every reload) and the admin API (stored
 * in SQLite under server.stateDir, surviving reloads and restarts). See README.md.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pthread_rwlockattr_setkind_np */
#endif
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ak_parse.h"
#include "ak_plugin.h"

/* plugins.options.apikey: both lists as JSON text, validated in load_config */
typedef struct {
    const char *customers, *keys;
} ak_options_t;

static const ig_option_decl_t ak_options[] = {
    {"customers", IG_OPT_JSON, "[]", "customers: [{id, name, limits}]", 0, 0, offsetof(ak_options_t, customers)},
    {"keys", IG_OPT_JSON, "[]", "keys: [{id, customer, hash: \"sha256:<hex>\", name, models, limits, expires}]", 0, 0,
     offsetof(ak_options_t, keys)},
    {NULL},
};

/* ---- the stored set's lifetime ---- */

ak_set_t *ak_stored_acquire(ak_proc_t *p)
{
    pthread_rwlock_rdlock(&p->set_lock);
    ak_set_t *s = p->stored;
    atomic_fetch_add(&s->refs, 1);
    pthread_rwlock_unlock(&p->set_lock);
    return s;
}

void ak_stored_release(ak_set_t *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        ak_set_free(s);
}

void ak_stored_swap(ak_proc_t *p, ak_set_t *next)
{
    pthread_rwlock_wrlock(&p->set_lock);
    ak_set_t *old = p->stored;
    /* PostgreSQL: the watcher's read and an admin write's read-back race; the older one loses */
    if (old && next->version < old->version) {
        old = next;
    } else {
        p->stored = next;
    }
    pthread_rwlock_unlock(&p->set_lock);
    ak_stored_release(old);
}

/* The PostgreSQL watcher's thread: what any gateway wrote, read back whole. Swapped under
 * write_lock: admin writes read p->stored without a reference while they hold it (ak_admin.c), so
 * the set must not change under them (it did: a key answered from a set the watcher had freed). */
static void on_watched_set(void *arg, ak_set_t *set)
{
    ak_proc_t *p = arg;
    pthread_mutex_lock(&p->write_lock);
    ak_stored_swap(p, set);
    pthread_mutex_unlock(&p->write_lock);
}

/* ---- process state: outlives reloads ---- */

static int ak_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    ak_proc_t *p = calloc(1, sizeof(*p));
    if (!p)
        return host->error(err, "out of memory");
    p->host = host;
    pthread_mutex_init(&p->write_lock, NULL);
    /* readers hold the lock for a lookup only, but on busy workers they overlap without pause:
     * prefer the writer so an admin write's pointer swap cannot starve */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&p->set_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    *process_state = p;
    return 0;
}

static void ak_unload(void *process_state)
{
    ak_proc_t *p = process_state;
    if (!p)
        return;
    ak_store_close(p->store); /* first: stops the PostgreSQL watcher, which swaps sets */
    ak_stored_release(p->stored);
    pthread_rwlock_destroy(&p->set_lock);
    pthread_mutex_destroy(&p->write_lock);
    free(p);
}

static int open_store(const ig_host_t *host, ak_proc_t *p, const ig_plugin_init_t *ctx, ig_error_t *err)
{
    char msg[512];
    p->store = ctx->database ? ak_store_open_pg(ctx->database, ctx->gateway_id, msg, sizeof(msg))
                             : ak_store_open(ctx->state_dir, msg, sizeof(msg));
    if (!p->store)
        return host->error(err, "key store: %s", msg);
    ak_set_t *s = ak_store_load(p->store, host->json, msg, sizeof(msg));
    if (!s) {
        ak_store_close(p->store);
        p->store = NULL;
        return host->error(err, "key store: %s", msg);
    }
    p->stored = s;
    if (ak_store_watch(p->store, host, on_watched_set, p, msg, sizeof(msg)) != 0) {
        ak_store_close(p->store);
        p->store = NULL;
        ak_set_free(s);
        p->stored = NULL;
        return host->error(err, "key store: %s", msg);
    }
    if (ctx->database)
        host->log(IG_LOG_INFO, "apikey",
                  "key store in server.database (gateway %s): %zu customers, %zu keys, %zu published models; "
                  "changes from other gateways are watched",
                  ctx->gateway_id, s->ncustomers, s->nkeys, s->npubs);
    else if (ctx->state_dir)
        host->log(IG_LOG_INFO, "apikey", "key store %s: %zu customers, %zu keys, %zu published models",
                  ak_store_path(p->store), s->ncustomers, s->nkeys, s->npubs);
    else
        host->log(IG_LOG_WARN, "apikey",
                  "server.stateDir is not set: keys made through the admin API are kept in memory only");
    return 0;
}

/* ---- the configuration's customers and keys ---- */

static int parse_list(const ig_host_t *host, const char *json, const char *what, ig_json_value_t *out, ig_error_t *err)
{
    ig_json_error_t je;
    if (host->json->validate_value(json, strlen(json), &je, out) != 0)
        return host->error(err, "plugins.options.apikey.%s: %s", what, je.msg);
    if (out->type != IG_JSON_ARRAY)
        return host->error(err, "plugins.options.apikey.%s: expected a list", what);
    return 0;
}

static int load_config(const ig_host_t *host, const ak_set_t *stored, const ak_options_t *opts, ak_set_t *set,
                       ig_error_t *err)
{
    const ig_json_api_t *j = host->json;
    ig_json_value_t list, item;
    ig_json_iter_t it;
    ak_err_t e = {{0}};
    char path[64];

    if (parse_list(host, opts->customers, "customers", &list, err) != 0)
        return -1;
    j->iter_init(&it, &list);
    for (size_t i = 0; j->iter_next(&it, NULL, &item) == 1; i++) {
        snprintf(path, sizeof(path), "plugins.options.apikey.customers[%zu]", i);
        ak_customer_t c;
        if (ak_parse_customer(j, &item, path, set->arena, AK_FROM_CONFIG, &c, &e) != 0)
            return host->error(err, "%s", e.msg);
        if (!c.name)
            c.name = c.id;
        if (ak_set_customer(set, c.id, strlen(c.id)))
            return host->error(err, "%s.id: customer \"%s\" is declared twice", path, c.id);
        if (ak_set_customer(stored, c.id, strlen(c.id)))
            return host->error(err, "%s.id: customer \"%s\" was created through the admin API; use another id", path,
                               c.id);
        ak_customer_t *slot = ak_set_add_customer(set);
        if (!slot)
            return host->error(err, "out of memory");
        *slot = c;
    }

    if (parse_list(host, opts->keys, "keys", &list, err) != 0)
        return -1;
    j->iter_init(&it, &list);
    for (size_t i = 0; j->iter_next(&it, NULL, &item) == 1; i++) {
        snprintf(path, sizeof(path), "plugins.options.apikey.keys[%zu]", i);
        ak_key_t k;
        if (ak_parse_key(j, &item, path, set->arena, AK_FROM_CONFIG, &k, &e) != 0)
            return host->error(err, "%s", e.msg);
        if (ak_set_key_by_id(set, k.id, strlen(k.id)))
            return host->error(err, "%s.id: key \"%s\" is declared twice", path, k.id);
        if (ak_set_key_by_id(stored, k.id, strlen(k.id)))
            return host->error(err, "%s.id: key \"%s\" was created through the admin API; use another id", path, k.id);
        if (!ak_set_customer(set, k.customer, strlen(k.customer)) &&
            !ak_set_customer(stored, k.customer, strlen(k.customer)))
            return host->error(err, "%s.customer: no customer \"%s\" (declare it under customers)", path, k.customer);
        for (size_t m = 0; m < set->nkeys; m++)
            if (ak_hash_equal(set->keys[m].hash, k.hash))
                return host->error(err, "%s.hash: the same hash as key \"%s\"", path, set->keys[m].id);
        ak_key_t *slot = ak_set_add_key(set);
        if (!slot)
            return host->error(err, "out of memory");
        *slot = k;
    }
    return ak_set_seal(set) == 0 ? 0 : host->error(err, "out of memory");
}

/* ---- generation state ---- */

static void ak_fini(void *state)
{
    ak_gen_t *g = state;
    if (!g)
        return;
    ak_set_free(g->config);
    free(g);
}

static int ak_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    ak_proc_t *p = ctx->process_state;
    if (!p)
        return host->error(err, "no process state (the core did not call load())");
    pthread_mutex_lock(&p->write_lock);
    int rc = p->store ? 0 : open_store(host, p, ctx, err);
    if (p->store && ctx->generation > 1 && (ctx->database != NULL) != (strcmp(ak_store_path(p->store), "server.database") == 0))
        host->log(IG_LOG_WARN, "apikey", "server.database was %s: the key store stays %s until a restart",
                  ctx->database ? "added" : "removed", ak_store_path(p->store));
    else if (p->store && ctx->generation > 1 && ctx->state_dir && !ctx->database &&
        strncmp(ak_store_path(p->store), ctx->state_dir, strlen(ctx->state_dir)) != 0)
        host->log(IG_LOG_WARN, "apikey", "server.stateDir changed to %s: the key store stays %s until a restart",
                  ctx->state_dir, ak_store_path(p->store));
    pthread_mutex_unlock(&p->write_lock);
    if (rc != 0)
        return -1;
    ak_gen_t *g = calloc(1, sizeof(*g));
    if (!g || !(g->config = ak_set_new())) {
        free(g);
        return host->error(err, "out of memory");
    }
    g->proc = p;
    g->host = host;
    /* the stored set is read for conflicts; admin writes cannot swap it while we hold a reference */
    ak_set_t *stored = ak_stored_acquire(p);
    rc = load_config(host, stored, ctx->options, g->config, err);
    ak_stored_release(stored);
    if (rc != 0) {
        ak_fini(g);
        return -1;
    }
    host->log(IG_LOG_INFO, "apikey", "generation %llu: %zu customers and %zu keys from the configuration",
              (unsigned long long)ctx->generation, g->config->ncustomers, g->config->nkeys);
    *state = g;
    return 0;
}

/* ---- authentication ---- */

typedef struct {
    const char *customer;
    const char *const *models; /* NULL: no restriction of its own */
    size_t nmodels;
    const char *key_name;      /* NULL when the key has none */
    int64_t expires;           /* unix seconds; 0: never */
} ak_auth_data_t;

static char *pool_dup(const ig_host_t *host, void *pool, const char *s, size_t *len)
{
    size_t n = strlen(s);
    char *d = host->palloc(pool, n + 1);
    if (d)
        memcpy(d, s, n + 1);
    *len = n;
    return d;
}

static int deny(ig_error_t *err, const ig_host_t *host, const char *msg)
{
    err->status = 401;
    err->type = "invalid_request_error";
    err->code = "invalid_api_key";
    return host->error(err, "%s", msg);
}

static int ak_authenticate(void *state, const ig_auth_request_t *req, ig_principal_t *out, ig_error_t *err)
{
    ak_gen_t *g = state;
    const ig_host_t *host = g->host;
    ig_str_t key;
    const char *why = NULL;
    int r = ak_key_from_headers(req->authorization, req->api_key, &key, &why);
    if (r == 0)
        return deny(err, host,
                    "You didn't provide an API key. You need to provide your API key in an Authorization header "
                    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the X-API-Key header.");
    if (r < 0)
        return deny(err, host, why);
    uint8_t h[AK_HASH_LEN];
    ak_key_hash(key.ptr, key.len, h);

    ak_proc_t *p = g->proc;
    int64_t now = (int64_t)time(NULL);
    const char *problem = NULL;
    pthread_rwlock_rdlock(&p->set_lock);
    const ak_key_t *k = ak_set_key_by_hash(g->config, h);
    if (!k)
        k = ak_set_key_by_hash(p->stored, h);
    const ak_customer_t *c = NULL;
    if (!k)
        problem = "Incorrect API key provided.";
    else if (k->revoked)
        problem = "This API key has been revoked.";
    else if (k->expires && k->expires <= now)
        problem = "This API key has expired.";
    else if (!(c = ak_set_customer(g->config, k->customer, strlen(k->customer))) &&
             !(c = ak_set_customer(p->stored, k->customer, strlen(k->customer))))
        problem = "This API key's customer no longer exists.";
    ak_auth_data_t *ad = NULL;
    if (!problem) {
        /* copy what the request needs: the sets may be replaced once the lock is dropped */
        memset(out, 0, sizeof(*out));
        ad = host->palloc(req->pool, sizeof(*ad));
        out->customer_id.ptr = pool_dup(host, req->pool, c->id, &out->customer_id.len);
        out->customer_name.ptr = pool_dup(host, req->pool, c->name, &out->customer_name.len);
        out->key_id.ptr = pool_dup(host, req->pool, k->id, &out->key_id.len);
        out->key_limits = k->limits;
        out->customer_limits = c->limits;
        out->key_model_limits = IG_LIMITS_NONE;
        if (ad) {
            size_t len;
            ad->customer = out->customer_id.ptr;
            ad->key_name = k->name ? pool_dup(host, req->pool, k->name, &len) : NULL;
            ad->expires = k->expires;
            ad->models = NULL;
            ad->nmodels = k->nmodels;
            if (k->models) {
                const char **m = host->palloc(req->pool, (k->nmodels + 1) * sizeof(*m));
                for (size_t i = 0; m && i < k->nmodels; i++) {
                    size_t len;
                    m[i] = pool_dup(host, req->pool, k->models[i], &len);
                }
                ad->models = m;
                if (!m)
                    ad = NULL;
            }
        }
        out->auth_data = ad;
    }
    pthread_rwlock_unlock(&p->set_lock);
    if (problem)
        return deny(err, host, problem);
    if (!ad || !out->customer_id.ptr || !out->customer_name.ptr || !out->key_id.ptr) {
        err->status = 500;
        err->type = "server_error";
        err->code = NULL;
        return host->error(err, "out of memory");
    }
    return 0;
}

/*
 * The model rule: a key with a models list may use only those; a model published through the
 * admin API may be used only by the customers it was published to (with that grant's limits);
 * any other model is open to every key.
 */
static int ak_authorize_model(void *state, ig_principal_t *principal, const ig_model_t *model)
{
    ak_gen_t *g = state;
    const ak_auth_data_t *ad = principal->auth_data;
    if (!ad || !model || !model->name)
        return 0;
    if (ad->models) {
        size_t i;
        for (i = 0; i < ad->nmodels; i++)
            if (strcmp(ad->models[i], model->name) == 0)
                break;
        if (i == ad->nmodels)
            return 0;
    }
    int ok = 1;
    ig_limits_t limits = IG_LIMITS_NONE;
    pthread_rwlock_rdlock(&g->proc->set_lock);
    const ak_publication_t *pub = ak_set_pub(g->proc->stored, model->name, strlen(model->name));
    if (pub) {
        const ak_grant_t *gr = ak_pub_grant(pub, ad->customer, strlen(ad->customer));
        if (gr)
            limits = gr->limits;
        else
            ok = 0;
    }
    pthread_rwlock_unlock(&g->proc->set_lock);
    if (ok)
        principal->key_model_limits = limits;
    return ok;
}

/* Every key may use the model unless a publication names the customers who may (or nobody: hidden).
 * A key's own models list restricts only that key, so it does not count here. */
static int ak_model_open(void *state, const ig_model_t *model)
{
    ak_gen_t *g = state;
    if (!model || !model->name)
        return 0;
    pthread_rwlock_rdlock(&g->proc->set_lock);
    int open = ak_set_pub(g->proc->stored, model->name, strlen(model->name)) == NULL;
    pthread_rwlock_unlock(&g->proc->set_lock);
    return open;
}

/* GET /v1/me: the key's name and when it expires (the core writes customer, key id and models). */
static int ak_describe(void *state, ig_describe_t *d, ig_error_t *err)
{
    (void)state;
    (void)err;
    const ak_auth_data_t *ad = d->principal->auth_data;
    if (!ad)
        return 0;
    const ig_json_api_t *j = d->host->json;
    const char *name = ad->key_name;
    size_t nlen = name ? strlen(name) : 0;
    size_t need = name ? j->escape(name, nlen, NULL, 0) : 4;
    size_t cap = need + 64;
    char *out = d->host->palloc(d->pool, cap);
    if (!out)
        return 0;
    size_t off = (size_t)snprintf(out, cap, "\"key_name\":");
    if (name)
        off += j->escape(name, nlen, out + off, cap - off);
    else
        off += (size_t)snprintf(out + off, cap - off, "null");
    if (ad->expires)
        off += (size_t)snprintf(out + off, cap - off, ",\"key_expires_at\":%lld", (long long)ad->expires);
    else
        off += (size_t)snprintf(out + off, cap - off, ",\"key_expires_at\":null");
    d->members = (ig_str_t){out, off};
    return 0;
}

static const ig_auth_vtable_t ak_vtable = {
    .size = sizeof(ig_auth_vtable_t),
    .authenticate = ak_authenticate,
    .authorize_model = ak_authorize_model,
    .model_open = ak_model_open,
};

static const ig_route_decl_t ak_routes[] = {
    {"/admin/customers", IG_ROUTE_ADMIN, ak_admin},
    {"/admin/keys", IG_ROUTE_ADMIN, ak_admin},
    {"/admin/models", IG_ROUTE_ADMIN, ak_admin},
    {NULL},
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "apikey",
    .kind = IG_PLUGIN_AUTH,
    .version = "0.1.0",
    .description = "API keys (Bearer or X-API-Key) owned by customers, stored as SHA-256; admin API for keys, "
                   "customers, limits and model publication",
    .options = ak_options,
    .options_size = sizeof(ak_options_t),
    .load = ak_load,
    .unload = ak_unload,
    .init = ak_init,
    .fini = ak_fini,
    .vtable = &ak_vtable,
    .routes = ak_routes,
    .describe_principal = ak_describe,
};
