/*
 * ak_admin.c — the admin API: customers, keys, limits and model publication (see README.md).
 *
 * The core has checked the admin key before any handler runs. Every handler validates its whole
 * input before touching the store, then writes in one transaction under the writer lock, then
 * reads the stored set back and swaps it in: a request writes everything or nothing, and what the
 * next request sees is what is on disk. Errors are OpenAI-shaped with "param" naming the field.
 *
 * Every request but a GET runs on the core's thread pool (route_offload: host->route_defer): a write
 * is a transaction on disk or, with server.database, over the network plus a read-back of the whole
 * store, and a database that does not answer must not hold the worker's event loop. GETs answer
 * from the set in memory, in place.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ak_buf.h"
#include "ak_parse.h"
#include "ak_plugin.h"
#include "route_offload.h"
#include "util/query.h"
#include "util/url.h"

#define MAX_SEGMENTS 6
#define MAX_BODY (64 * 1024)

/* ---- answers ---- */

static int reply(ig_http_exchange_t *x, int status, ak_buf_t *b)
{
    if (b->failed) {
        ig_buf_free(b);
        b->failed = 0;
        ig_buf_puts(b, "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,\"code\":null}}");
        status = 500;
    }
    char *out = x->host->palloc(x->pool, b->len + 1);
    if (out) {
        memcpy(out, b->p ? b->p : "", b->len);
        out[b->len] = '\0';
    }
    x->status = out ? status : 500;
    x->response = (ig_str_t){out ? out : "", out ? b->len : 0};
    ig_buf_free(b);
    return 0;
}

static int fail(ig_http_exchange_t *x, int status, const char *type, const char *code, const char *param,
                const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static int fail(ig_http_exchange_t *x, int status, const char *type, const char *code, const char *param,
                const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ak_buf_t b = {0};
    ig_json_write_error(&b, msg, type, param, code);
    return reply(x, status, &b);
}

static int bad_input(ig_http_exchange_t *x, const ak_err_t *e)
{
    return fail(x, 400, "invalid_request_error", "invalid_value", e->param, "%s", e->msg);
}

static int not_found(ig_http_exchange_t *x, const char *what, const char *id)
{
    return fail(x, 404, "invalid_request_error", "not_found", NULL, "no %s \"%s\"", what, id);
}

static int conflict(ig_http_exchange_t *x, const char *fmt, const char *id)
{
    return fail(x, 409, "invalid_request_error", "conflict", NULL, fmt, id);
}

static int no_route(ig_http_exchange_t *x)
{
    return fail(x, 404, "invalid_request_error", "unknown_url", NULL, "Unknown admin request: %.*s %.*s",
                (int)x->method.len, x->method.ptr, (int)x->path.len, x->path.ptr);
}

static int bad_method(ig_http_exchange_t *x, const char *allowed)
{
    x->headers[0] = (ig_kv_t){"allow", allowed};
    x->nheaders = 1;
    return fail(x, 405, "invalid_request_error", "method_not_allowed", NULL, "%.*s is not allowed here (allowed: %s)",
                (int)x->method.len, x->method.ptr, allowed);
}

static int server_error(ig_http_exchange_t *x, const char *what, const char *detail)
{
    x->host->log(IG_LOG_ERROR, "apikey", "%s: %s", what, detail);
    return fail(x, 500, "server_error", NULL, NULL, "%s: %s", what, detail);
}

/* ---- requests ---- */

static int is(const ig_http_exchange_t *x, const char *method)
{
    return x->method.len == strlen(method) && memcmp(x->method.ptr, method, x->method.len) == 0;
}

/* Splits x->rest ("/a/b%2Fc") into percent-decoded segments in the pool. Count, or -1 (malformed). */
static int segments(ig_http_exchange_t *x, char **seg)
{
    const char *p = x->rest.ptr, *end = p + x->rest.len;
    int n = 0;
    if (p == end)
        return 0;
    if (*p != '/')
        return -1;
    while (p < end) {
        p++; /* the '/' */
        const char *s = p;
        while (p < end && *p != '/')
            p++;
        if (n == MAX_SEGMENTS)
            return -1;
        size_t len = (size_t)(p - s);
        char *d = x->host->palloc(x->pool, len + 1);
        if (!d)
            return -1;
        size_t o = 0;
        if (ig_url_decode(s, len, 0, d, len + 1, &o) != 0)
            return -1;
        if (o == 0 && p < end)
            return -1; /* "//" */
        seg[n++] = d;
    }
    return n;
}

/* The body as a JSON value; an empty body is {} when allow_empty. 0, or -1 after answering 400. */
static int body_json(ig_http_exchange_t *x, int allow_empty, ig_json_value_t *v)
{
    const ig_json_api_t *j = x->host->json;
    if (x->body.len == 0 && allow_empty) {
        static const char empty[] = "{}";
        *v = (ig_json_value_t){IG_JSON_OBJECT, empty, 2};
        return 0;
    }
    if (x->body.len > MAX_BODY) {
        fail(x, 400, "invalid_request_error", "invalid_value", NULL, "request body larger than %d bytes", MAX_BODY);
        return -1;
    }
    ig_json_error_t je;
    if (j->validate_value(x->body.ptr, x->body.len, &je, v) != 0) {
        fail(x, 400, "invalid_request_error", "invalid_json", NULL, "request body is not valid JSON: %s (at byte %zu)",
             je.msg, je.offset);
        return -1;
    }
    if (v->type != IG_JSON_OBJECT) {
        fail(x, 400, "invalid_request_error", "invalid_value", NULL, "request body must be a JSON object");
        return -1;
    }
    return 0;
}

/*
 * The query, decoded once (util/query.h: '+' a space, as billing's queries and any form encoder):
 * ac%6De is acme, as the same URL must be. Only GET /admin/keys takes a parameter (customer); any
 * other, a repeated or a malformed one is a 400 naming it. 0, or -1 after answering.
 */
static int parse_query(ig_http_exchange_t *x, int n, ig_query_t *q)
{
    static const char *const keys_list[] = {"customer", NULL}, *const none[] = {NULL};
    static const char keys[] = "/admin/keys";
    int is_key_list = n == 0 && x->path.len == sizeof(keys) - 1 && memcmp(x->path.ptr, keys, sizeof(keys) - 1) == 0 &&
                      is(x, "GET");
    char *mem = x->host->palloc(x->pool, IG_QUERY_MEM(x->query.len));
    ig_query_error_t e;
    if (mem == NULL)
        return server_error(x, "query", "out of memory"), -1;
    if (ig_query_parse(x->query.ptr, x->query.len, is_key_list ? keys_list : none, mem, IG_QUERY_MEM(x->query.len), q,
                       &e) != 0) {
        char msg[160];
        fail(x, 400, "invalid_request_error", ig_query_error_code(&e), e.param, "%s",
             ig_query_error_message(&e, msg, sizeof(msg)));
        return -1;
    }
    return 0;
}

/* ---- records out ---- */

static void customer_json(ak_buf_t *b, const ak_customer_t *c)
{
    ig_buf_puts(b, "{\"object\":\"customer\",\"id\":");
    ig_json_write_cstr(b, c->id);
    ig_buf_puts(b, ",\"name\":");
    ig_json_write_cstr(b, c->name);
    ig_buf_puts(b, ",\"limits\":");
    ak_buf_limits(b, &c->limits);
    ig_buf_puts(b, ",\"created\":");
    ak_buf_time(b, c->created);
    ig_buf_puts(b, c->source == AK_SRC_CONFIG ? ",\"source\":\"config\"}" : ",\"source\":\"api\"}");
}

static void key_json(ak_buf_t *b, const ak_key_t *k, const char *secret)
{
    int64_t now = (int64_t)time(NULL);
    ig_buf_puts(b, "{\"object\":\"api_key\",\"id\":");
    ig_json_write_cstr(b, k->id);
    ig_buf_puts(b, ",\"customer\":");
    ig_json_write_cstr(b, k->customer);
    ig_buf_puts(b, ",\"name\":");
    ig_json_write_cstr(b, k->name);
    ig_buf_puts(b, ",\"models\":");
    ak_buf_models(b, k->models, k->nmodels);
    ig_buf_puts(b, ",\"limits\":");
    ak_buf_limits(b, &k->limits);
    ig_buf_puts(b, ",\"created\":");
    ak_buf_time(b, k->created);
    ig_buf_puts(b, ",\"expires\":");
    ak_buf_time(b, k->expires);
    ig_buf_puts(b, ",\"revoked\":");
    ak_buf_time(b, k->revoked);
    ig_buf_puts(b, k->revoked ? ",\"status\":\"revoked\""
                   : k->expires && k->expires <= now ? ",\"status\":\"expired\""
                                                     : ",\"status\":\"active\"");
    ig_buf_puts(b, k->source == AK_SRC_CONFIG ? ",\"source\":\"config\"" : ",\"source\":\"api\"");
    if (secret) {
        ig_buf_puts(b, ",\"key\":");
        ig_json_write_cstr(b, secret);
    }
    ig_buf_puts(b, "}");
}

static void publication_json(ak_buf_t *b, const char *model, int configured, const ak_publication_t *p)
{
    ig_buf_puts(b, "{\"object\":\"model_publication\",\"id\":");
    ig_json_write_cstr(b, model);
    ig_buf_puts(b, configured ? ",\"configured\":true" : ",\"configured\":false");
    ig_buf_puts(b, p ? ",\"published\":true,\"customers\":[" : ",\"published\":false,\"customers\":null");
    for (size_t i = 0; p && i < p->ngrants; i++) {
        ig_buf_puts(b, i ? ",{\"customer\":" : "{\"customer\":");
        ig_json_write_cstr(b, p->grants[i].customer);
        ig_buf_puts(b, ",\"limits\":");
        ak_buf_limits(b, &p->grants[i].limits);
        ig_buf_puts(b, "}");
    }
    ig_buf_puts(b, p ? "],\"created\":" : ",\"created\":");
    ak_buf_time(b, p ? p->created : 0);
    ig_buf_puts(b, "}");
}

/* ---- writing ---- */

/* Runs after a successful commit: the next stored set, read back from the file. */
static int refresh(ak_proc_t *p, ig_http_exchange_t *x)
{
    char msg[512];
    ak_set_t *next = ak_store_load(p->store, x->host->json, msg, sizeof(msg));
    if (!next)
        return server_error(x, "the change was saved but could not be read back", msg), -1;
    ak_stored_swap(p, next);
    return 0;
}

/*
 * Ends an admin write begun with ak_store_begin: commits when ok says every statement went in (else
 * rolls back and answers 500 naming what), then reads the store back. 1 when the caller should
 * answer from the new set.
 */
static int stored(ak_proc_t *p, ig_http_exchange_t *x, const char *what, int ok)
{
    if (!ok || ak_store_commit(p->store) != 0) {
        server_error(x, what, ak_store_error(p->store));
        ak_store_rollback(p->store);
        return 0;
    }
    return refresh(p, x) == 0;
}

static const ak_customer_t *find_customer(ak_gen_t *g, const char *id)
{
    const ak_customer_t *c = ak_set_customer(g->config, id, strlen(id));
    return c ? c : ak_set_customer(g->proc->stored, id, strlen(id));
}

static const ak_key_t *find_key(ak_gen_t *g, const char *id)
{
    const ak_key_t *k = ak_set_key_by_id(g->config, id, strlen(id));
    return k ? k : ak_set_key_by_id(g->proc->stored, id, strlen(id));
}

/* ---- /admin/customers ---- */

static int customer_create(ak_gen_t *g, ig_http_exchange_t *x)
{
    ig_json_value_t v;
    ak_err_t e = {{0}};
    ak_customer_t c;
    if (body_json(x, 0, &v) != 0)
        return 0;
    ig_arena_t *a = ig_arena_create();
    if (!a)
        return server_error(x, "customer", "out of memory");
    if (ak_parse_customer(x->host->json, &v, "", a, AK_FROM_API, &c, &e) != 0) {
        bad_input(x, &e);
        goto done;
    }
    char idbuf[40];
    ak_proc_t *p = g->proc;
    pthread_mutex_lock(&p->write_lock);
    if (!c.id) {
        do
            ak_random_id("c_", idbuf, sizeof(idbuf));
        while (find_customer(g, idbuf));
        c.id = idbuf;
    }
    if (!c.name)
        c.name = c.id;
    c.created = (int64_t)time(NULL);
    if (find_customer(g, c.id)) {
        conflict(x, "a customer \"%s\" exists already", c.id);
    } else if (stored(p, x, "cannot store the customer", ak_store_begin(p->store) == 0 &&
                      ak_store_put_customer(p->store, x->host->json, &c) == 0)) {
        ak_buf_t b = {0};
        customer_json(&b, find_customer(g, c.id));
        reply(x, 201, &b);
    }
    pthread_mutex_unlock(&p->write_lock);
done:
    ig_arena_destroy(a);
    return 0;
}

static int customer_limits(ak_gen_t *g, ig_http_exchange_t *x, const char *id)
{
    ig_json_value_t v;
    ak_err_t e = {{0}};
    ig_limits_t l;
    if (body_json(x, 0, &v) != 0)
        return 0;
    if (ak_parse_limits(x->host->json, &v, "", &l, &e) != 0)
        return bad_input(x, &e);
    ak_proc_t *p = g->proc;
    pthread_mutex_lock(&p->write_lock);
    const ak_customer_t *c = find_customer(g, id);
    if (!c) {
        not_found(x, "customer", id);
    } else if (c->source == AK_SRC_CONFIG) {
        conflict(x, "customer \"%s\" is declared in the configuration: change its limits there", id);
    } else {
        ak_customer_t next = *c;
        next.limits = l;
        if (stored(p, x, "cannot store the limits", ak_store_begin(p->store) == 0 &&
                   ak_store_put_customer(p->store, x->host->json, &next) == 0)) {
            ak_buf_t b = {0};
            customer_json(&b, find_customer(g, id));
            reply(x, 200, &b);
        }
    }
    pthread_mutex_unlock(&p->write_lock);
    return 0;
}

static int admin_customers(ak_gen_t *g, ig_http_exchange_t *x, char **seg, int n)
{
    if (n == 0) {
        if (is(x, "POST"))
            return customer_create(g, x);
        if (!is(x, "GET"))
            return bad_method(x, "GET, POST");
        ak_set_t *s = ak_stored_acquire(g->proc);
        ak_buf_t b = {0};
        ig_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
        size_t k = 0;
        for (size_t i = 0; i < g->config->ncustomers; i++, k++) {
            if (k)
                ig_buf_puts(&b, ",");
            customer_json(&b, &g->config->customers[i]);
        }
        for (size_t i = 0; i < s->ncustomers; i++, k++) {
            if (k)
                ig_buf_puts(&b, ",");
            customer_json(&b, &s->customers[i]);
        }
        ig_buf_puts(&b, "]}");
        ak_stored_release(s);
        return reply(x, 200, &b);
    }
    if (n == 1) {
        if (!is(x, "GET"))
            return bad_method(x, "GET");
        ak_set_t *s = ak_stored_acquire(g->proc);
        const ak_customer_t *c = ak_set_customer(g->config, seg[0], strlen(seg[0]));
        if (!c)
            c = ak_set_customer(s, seg[0], strlen(seg[0]));
        ak_buf_t b = {0};
        if (c)
            customer_json(&b, c);
        ak_stored_release(s);
        return c ? reply(x, 200, &b) : not_found(x, "customer", seg[0]);
    }
    if (n == 2 && strcmp(seg[1], "limits") == 0) {
        if (!is(x, "PUT"))
            return bad_method(x, "PUT");
        return customer_limits(g, x, seg[0]);
    }
    return no_route(x);
}

/* ---- /admin/keys ---- */

static int key_create(ak_gen_t *g, ig_http_exchange_t *x)
{
    ig_json_value_t v;
    ak_err_t e = {{0}};
    ak_key_t k;
    if (body_json(x, 0, &v) != 0)
        return 0;
    ig_arena_t *a = ig_arena_create();
    if (!a)
        return server_error(x, "key", "out of memory");
    if (ak_parse_key(x->host->json, &v, "", a, AK_FROM_API, &k, &e) != 0) {
        bad_input(x, &e);
        goto done;
    }
    char idbuf[40], secret[AK_ID_MAX + 80];
    ak_proc_t *p = g->proc;
    pthread_mutex_lock(&p->write_lock);
    if (!k.id) {
        do
            ak_random_id("k_", idbuf, sizeof(idbuf));
        while (find_key(g, idbuf));
        k.id = idbuf;
    }
    k.created = (int64_t)time(NULL);
    if (find_key(g, k.id)) {
        conflict(x, "a key \"%s\" exists already", k.id);
    } else if (!find_customer(g, k.customer)) {
        fail(x, 400, "invalid_request_error", "invalid_value", "customer", "customer: no customer \"%s\"", k.customer);
    } else if (ak_key_generate(k.id, secret, sizeof(secret)) != 0) {
        server_error(x, "cannot make a key", "no randomness");
    } else {
        ak_key_hash(secret, strlen(secret), k.hash);
        if (stored(p, x, "cannot store the key", ak_store_begin(p->store) == 0 &&
                   ak_store_put_key(p->store, x->host->json, &k) == 0)) {
            ak_buf_t b = {0};
            key_json(&b, find_key(g, k.id), secret);
            reply(x, 201, &b);
        }
    }
    pthread_mutex_unlock(&p->write_lock);
done:
    ig_arena_destroy(a);
    return 0;
}

typedef enum { KEY_REVOKE, KEY_ROTATE, KEY_LIMITS } key_change_t;

static int key_change(ak_gen_t *g, ig_http_exchange_t *x, const char *id, key_change_t what)
{
    ig_json_value_t v;
    ak_err_t e = {{0}};
    ig_limits_t l = IG_LIMITS_NONE;
    if (body_json(x, what != KEY_LIMITS, &v) != 0)
        return 0;
    if (what == KEY_LIMITS && ak_parse_limits(x->host->json, &v, "", &l, &e) != 0)
        return bad_input(x, &e);
    if (what != KEY_LIMITS && v.len > 2) {
        /* revoke and rotate take no fields: anything in the body is a mistake worth reporting */
        ig_json_iter_t it;
        ig_json_value_t kk, vv;
        x->host->json->iter_init(&it, &v);
        if (x->host->json->iter_next(&it, &kk, &vv) == 1)
            return fail(x, 400, "invalid_request_error", "invalid_value", NULL,
                        "unknown field %.*s: this request takes no fields", (int)(kk.len > 66 ? 66 : kk.len), kk.ptr);
    }
    ak_proc_t *p = g->proc;
    char secret[AK_ID_MAX + 80];
    pthread_mutex_lock(&p->write_lock);
    const ak_key_t *k = find_key(g, id);
    if (!k) {
        not_found(x, "key", id);
    } else if (k->source == AK_SRC_CONFIG) {
        conflict(x, "key \"%s\" is declared in the configuration: change it there", id);
    } else if (what == KEY_ROTATE && k->revoked) {
        conflict(x, "key \"%s\" is revoked: create a new key", id);
    } else if (what == KEY_ROTATE && ak_key_generate(k->id, secret, sizeof(secret)) != 0) {
        server_error(x, "cannot make a key", "no randomness");
    } else {
        ak_key_t next = *k;
        if (what == KEY_REVOKE && !next.revoked)
            next.revoked = (int64_t)time(NULL);
        if (what == KEY_ROTATE)
            ak_key_hash(secret, strlen(secret), next.hash);
        if (what == KEY_LIMITS)
            next.limits = l;
        if (stored(p, x, "cannot store the key", ak_store_begin(p->store) == 0 &&
                   ak_store_put_key(p->store, x->host->json, &next) == 0)) {
            ak_buf_t b = {0};
            key_json(&b, find_key(g, id), what == KEY_ROTATE ? secret : NULL);
            reply(x, 200, &b);
        }
    }
    pthread_mutex_unlock(&p->write_lock);
    return 0;
}

static void key_list(ak_buf_t *b, const ak_set_t *s, const char *customer, size_t clen, size_t *count)
{
    for (size_t i = 0; i < s->nkeys; i++) {
        const ak_key_t *k = &s->keys[i];
        if (customer && !(strlen(k->customer) == clen && memcmp(k->customer, customer, clen) == 0))
            continue;
        if ((*count)++)
            ig_buf_puts(b, ",");
        key_json(b, k, NULL);
    }
}

static int admin_keys(ak_gen_t *g, ig_http_exchange_t *x, const ig_query_t *q, char **seg, int n)
{
    if (n == 0) {
        if (is(x, "POST"))
            return key_create(g, x);
        if (!is(x, "GET"))
            return bad_method(x, "GET, POST");
        const char *customer = ig_query_get(q, "customer");
        size_t clen = customer ? strlen(customer) : 0;
        ak_set_t *s = ak_stored_acquire(g->proc);
        ak_buf_t b = {0};
        size_t count = 0;
        ig_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
        key_list(&b, g->config, customer, clen, &count);
        key_list(&b, s, customer, clen, &count);
        ig_buf_puts(&b, "]}");
        ak_stored_release(s);
        return reply(x, 200, &b);
    }
    if (n == 1) {
        if (!is(x, "GET"))
            return bad_method(x, "GET");
        ak_set_t *s = ak_stored_acquire(g->proc);
        const ak_key_t *k = ak_set_key_by_id(g->config, seg[0], strlen(seg[0]));
        if (!k)
            k = ak_set_key_by_id(s, seg[0], strlen(seg[0]));
        ak_buf_t b = {0};
        if (k)
            key_json(&b, k, NULL);
        ak_stored_release(s);
        return k ? reply(x, 200, &b) : not_found(x, "key", seg[0]);
    }
    if (n == 2) {
        if (strcmp(seg[1], "revoke") == 0 || strcmp(seg[1], "rotate") == 0) {
            if (!is(x, "POST"))
                return bad_method(x, "POST");
            return key_change(g, x, seg[0], seg[1][1] == 'e' ? KEY_REVOKE : KEY_ROTATE);
        }
        if (strcmp(seg[1], "limits") == 0) {
            if (!is(x, "PUT"))
                return bad_method(x, "PUT");
            return key_change(g, x, seg[0], KEY_LIMITS);
        }
    }
    return no_route(x);
}

/* ---- /admin/models ---- */

static int model_configured(const ig_http_exchange_t *x, const char *name)
{
    for (size_t i = 0; i < x->nmodels; i++)
        if (strcmp(x->models[i]->name, name) == 0)
            return 1;
    return 0;
}

static int publish(ak_gen_t *g, ig_http_exchange_t *x, const char *model)
{
    ig_json_value_t v;
    ak_err_t e = {{0}};
    ak_publish_t pub;
    if (!ak_valid_name(model, strlen(model)))
        return fail(x, 400, "invalid_request_error", "invalid_value", "model",
                    "model: the name must be 1 to %d bytes without control characters", AK_NAME_MAX);
    if (body_json(x, 0, &v) != 0)
        return 0;
    ig_arena_t *a = ig_arena_create();
    if (!a)
        return server_error(x, "publish", "out of memory");
    if (ak_parse_publish(x->host->json, &v, a, &pub, &e) != 0) {
        bad_input(x, &e);
        ig_arena_destroy(a);
        return 0;
    }
    ak_proc_t *p = g->proc;
    pthread_mutex_lock(&p->write_lock);
    size_t i;
    for (i = 0; i < pub.ncustomers; i++)
        if (!find_customer(g, pub.customers[i]))
            break;
    if (i < pub.ncustomers) {
        char param[40];
        snprintf(param, sizeof(param), "customers[%zu]", i);
        fail(x, 400, "invalid_request_error", "invalid_value", param, "%s: no customer \"%s\"", param,
             pub.customers[i]);
    } else {
        int64_t now = (int64_t)time(NULL);
        const ig_limits_t none = IG_LIMITS_NONE;
        const ak_publication_t *old = ak_set_pub(p->stored, model, strlen(model));
        int rc = ak_store_begin(p->store);
        /* the marker row keeps the publication (and the model hidden) even with no customers left */
        if (rc == 0)
            rc = ak_store_put_grant(p->store, x->host->json, model, "", &none,
                                    old ? old->created : now);
        for (i = 0; rc == 0 && i < pub.ncustomers; i++)
            rc = ak_store_put_grant(p->store, x->host->json, model, pub.customers[i], &pub.limits, now);
        if (stored(p, x, "cannot store the publication", rc == 0)) {
            ak_buf_t b = {0};
            publication_json(&b, model, model_configured(x, model), ak_set_pub(p->stored, model, strlen(model)));
            reply(x, 200, &b);
        }
    }
    pthread_mutex_unlock(&p->write_lock);
    ig_arena_destroy(a);
    return 0;
}

static int unpublish(ak_gen_t *g, ig_http_exchange_t *x, const char *model, const char *customer)
{
    ak_proc_t *p = g->proc;
    pthread_mutex_lock(&p->write_lock);
    const ak_publication_t *old = ak_set_pub(p->stored, model, strlen(model));
    if (!old) {
        fail(x, 404, "invalid_request_error", "not_found", NULL, "model \"%s\" is not published", model);
    } else if (customer && !ak_pub_grant(old, customer, strlen(customer))) {
        fail(x, 404, "invalid_request_error", "not_found", NULL, "model \"%s\" is not published to customer \"%s\"",
             model, customer);
    } else if (stored(p, x, "cannot remove the publication", ak_store_begin(p->store) == 0 &&
                      ak_store_delete_grants(p->store, model, customer) >= 0)) {
        ak_buf_t b = {0};
        publication_json(&b, model, model_configured(x, model), ak_set_pub(p->stored, model, strlen(model)));
        reply(x, 200, &b);
    }
    pthread_mutex_unlock(&p->write_lock);
    return 0;
}

static int admin_models(ak_gen_t *g, ig_http_exchange_t *x, char **seg, int n)
{
    if (n == 0) {
        if (!is(x, "GET"))
            return bad_method(x, "GET");
        ak_set_t *s = ak_stored_acquire(g->proc);
        ak_buf_t b = {0};
        ig_buf_puts(&b, "{\"object\":\"list\",\"data\":[");
        size_t count = 0;
        for (size_t i = 0; i < x->nmodels; i++, count++) {
            const char *m = x->models[i]->name;
            if (count)
                ig_buf_puts(&b, ",");
            publication_json(&b, m, 1, ak_set_pub(s, m, strlen(m)));
        }
        for (size_t i = 0; i < s->npubs; i++) {
            if (model_configured(x, s->pubs[i].model))
                continue;
            if (count++)
                ig_buf_puts(&b, ",");
            publication_json(&b, s->pubs[i].model, 0, &s->pubs[i]);
        }
        ig_buf_puts(&b, "]}");
        ak_stored_release(s);
        return reply(x, 200, &b);
    }
    /* /{model}, /{model}/publish, /{model}/publish/{customer}; a model name with '/' is sent as %2F */
    if (n == 1) {
        if (!is(x, "GET"))
            return bad_method(x, "GET");
        int configured = model_configured(x, seg[0]);
        ak_set_t *s = ak_stored_acquire(g->proc);
        const ak_publication_t *pub = ak_set_pub(s, seg[0], strlen(seg[0]));
        ak_buf_t b = {0};
        if (configured || pub)
            publication_json(&b, seg[0], configured, pub);
        ak_stored_release(s);
        return configured || pub ? reply(x, 200, &b) : not_found(x, "model", seg[0]);
    }
    if (n == 2 && strcmp(seg[1], "publish") == 0) {
        if (is(x, "POST"))
            return publish(g, x, seg[0]);
        if (is(x, "DELETE"))
            return unpublish(g, x, seg[0], NULL);
        return bad_method(x, "POST, DELETE");
    }
    if (n == 3 && strcmp(seg[1], "publish") == 0) {
        if (!is(x, "DELETE"))
            return bad_method(x, "DELETE");
        return unpublish(g, x, seg[0], seg[2]);
    }
    return no_route(x);
}

static int admin_handle(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    (void)err;
    char *seg[MAX_SEGMENTS];
    int n = segments(x, seg);
    if (n < 0)
        return no_route(x);
    ig_query_t q;
    if (parse_query(x, n, &q) != 0)
        return 0;
    /* the route's prefix is what the core matched: the path starts with it */
    static const char customers[] = "/admin/customers", keys[] = "/admin/keys";
    if (x->path.len >= sizeof(customers) - 1 && memcmp(x->path.ptr, customers, sizeof(customers) - 1) == 0)
        return admin_customers(state, x, seg, n);
    if (x->path.len >= sizeof(keys) - 1 && memcmp(x->path.ptr, keys, sizeof(keys) - 1) == 0)
        return admin_keys(state, x, &q, seg, n);
    return admin_models(state, x, seg, n);
}

int ak_admin(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    /* reads come from memory; anything else may write (bad input is refused on the pool too: the
     * method decides, not the route) */
    if (is(x, "GET"))
        return admin_handle(state, x, err);
    return route_offload(state, x, err, admin_handle);
}
