/*
 * test_apikey.c — the apikey auth plugin (plugins/apikey).
 *
 * Part 1 compiles the plugin's pure pieces in: key hashing and "sha256:" parsing, header parsing,
 * generated keys, the strict JSON readers (ids, names, limits, customers, keys, publications,
 * RFC 3339 times) with the field each error names.
 * Part 2 dlopens the built apikey.so and drives it like the core does, with a fake host: YAML
 * keys (as JSON options), authenticate for good, wrong, revoked, expired and missing keys,
 * authorize_model with key model lists and publications, the admin routes (create, rotate,
 * revoke, limits, publish, bad input leaves nothing written), and keys surviving a restart on the
 * same state directory.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ak_key.h"
#include "ak_parse.h"
#include "ig_test.h"
#include "test_host.h"
#include "util/json.h"

#define S(lit) ((ig_str_t){(lit), sizeof(lit) - 1})

/* ---------------------------------------------------------------- part 1: pure functions */

static void hashing(void)
{
    uint8_t h[AK_HASH_LEN], h2[AK_HASH_LEN];
    char txt[80];
    const char *why = NULL;
    ak_key_hash("abc", 3, h);
    ak_hash_format(h, txt);
    /* SHA-256("abc"), FIPS 180-2 test vector */
    CHECK(strcmp(txt, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK(ak_hash_parse(txt, strlen(txt), h2, &why) == 0 && ak_hash_equal(h, h2));
    CHECK(ak_hash_parse("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", 71, h2, &why) == 0 &&
          ak_hash_equal(h, h2));
    h2[31] ^= 1;
    CHECK(!ak_hash_equal(h, h2));
    const char *bad[] = {"", "sha256:", "sha1:ba7816bf", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                         "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
                         "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015adx",
                         "sha256:za7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why = NULL;
        CHECKF(ak_hash_parse(bad[i], strlen(bad[i]), h2, &why) == -1 && why, "bad hash %zu accepted", i);
    }

    char k1[160], k2[160];
    CHECK(ak_key_generate("key-1", k1, sizeof(k1)) == 0 && ak_key_generate("key-1", k2, sizeof(k2)) == 0);
    CHECKF(strncmp(k1, "ig-key-1-", 9) == 0 && strlen(k1) == 9 + 43, "generated %s", k1);
    CHECK(strcmp(k1, k2) != 0);
    CHECK(strspn(k1 + 9, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
    CHECK(ak_key_generate("key-1", k1, 20) == -1);
    char id[40];
    CHECK(ak_random_id("k_", id, sizeof(id)) == 0 && strlen(id) == 18 && ak_valid_id(id, strlen(id)));
}

static void headers(void)
{
    ig_str_t key = {0};
    const char *why = NULL;
    CHECK(ak_key_from_headers(S("Bearer abc"), S(""), &key, &why) == 1 && key.len == 3 && !memcmp(key.ptr, "abc", 3));
    CHECK(ak_key_from_headers(S("  bearer \t abc  "), S(""), &key, &why) == 1 && key.len == 3);
    CHECK(ak_key_from_headers(S("BEARER abc"), S("other"), &key, &why) == 1 && key.ptr[0] == 'a');
    CHECK(ak_key_from_headers(S(""), S(" xyz "), &key, &why) == 1 && key.len == 3 && key.ptr[0] == 'x');
    CHECK(ak_key_from_headers(S(""), S(""), &key, &why) == 0);
    CHECK(ak_key_from_headers(S("   "), S(""), &key, &why) == 0);
    /* another scheme with an X-API-Key: the X-API-Key counts; alone: an error */
    CHECK(ak_key_from_headers(S("Basic dXNlcjpwdw=="), S("xyz"), &key, &why) == 1 && key.ptr[0] == 'x');
    CHECK(ak_key_from_headers(S("Basic dXNlcjpwdw=="), S(""), &key, &why) == -1 && strstr(why, "Bearer"));
    CHECK(ak_key_from_headers(S("Bearer"), S(""), &key, &why) == -1);
    CHECK(ak_key_from_headers(S("Bearer a b"), S(""), &key, &why) == -1 && strstr(why, "spaces"));
    CHECK(ak_key_from_headers(S("Bearerabc"), S(""), &key, &why) == -1);
    char big[AK_KEY_MAX + 20];
    memcpy(big, "Bearer ", 7);
    memset(big + 7, 'a', AK_KEY_MAX + 1);
    CHECK(ak_key_from_headers((ig_str_t){big, 7 + AK_KEY_MAX + 1}, S(""), &key, &why) == -1 && strstr(why, "too long"));
    CHECK(ak_key_from_headers((ig_str_t){big, 7 + AK_KEY_MAX}, S(""), &key, &why) == 1);
}

static int parse_json(const char *text, ig_json_value_t *v)
{
    return ig_json_api.validate_value(text, strlen(text), NULL, v);
}

static void readers(void)
{
    const ig_json_api_t *j = &ig_json_api;
    ig_arena_t *a = ig_arena_create();
    ig_json_value_t v;
    ak_err_t e;

    CHECK(ak_valid_id("a.B_c-9", 7) && !ak_valid_id("", 0) && !ak_valid_id("a b", 3) && !ak_valid_id("a/b", 3));
    char id65[66];
    memset(id65, 'x', 65);
    CHECK(ak_valid_id(id65, 64) && !ak_valid_id(id65, 65));
    CHECK(ak_valid_name("Acme Inc. ☃", strlen("Acme Inc. ☃")) && !ak_valid_name("a\nb", 3) && !ak_valid_name("", 0));

    ig_limits_t l;
    parse_json("{\"requestsPerMinute\":60,\"tokensPerHour\":null,\"maxConcurrent\":1}", &v);
    CHECK(ak_parse_limits(j, &v, "limits", &l, &e) == 0 && l.requests_per_minute == 60 && l.tokens_per_hour == -1 &&
          l.max_concurrent == 1 && l.burst == -1 && l.requests_per_hour == -1 && l.tokens_per_minute == -1);
    parse_json("null", &v);
    CHECK(ak_parse_limits(j, &v, "limits", &l, &e) == 0 && l.requests_per_minute == -1);

    static const struct {
        int what; /* 0 limits, 1 customer (config), 2 key (config), 3 key (api), 4 publish, 5 customer (api) */
        const char *json, *param, *msg;
    } bad[] = {
        {0, "{\"requestsPerMinute\":-1}", "limits.requestsPerMinute", "out of range"},
        {0, "{\"requestsPerMinute\":0}", "limits.requestsPerMinute", "out of range (1.."},
        {0, "{\"burst\":5}", "limits.burst", "needs requestsPerMinute"},
        {0, "{\"requestsPerMinute\":1.5}", "limits.requestsPerMinute", "expected an integer or null"},
        {0, "{\"requestsPerMinute\":\"60\"}", "limits.requestsPerMinute", "got a string"},
        {0, "{\"requestsPerMinute\":1000000000001}", "limits.requestsPerMinute", "out of range"},
        {0, "{\"requestsPerMinute\":99999999999999999999}", "limits.requestsPerMinute", "out-of-range"},
        {0, "{\"rpm\":1}", "limits.rpm", "unknown field \"rpm\" (known: requestsPerMinute,"},
        {0, "{\"burst\":1,\"requestsPerMinute\":1,\"burst\":2}", "limits.burst", "given twice"},
        {0, "[1]", "limits", "expected an object, got an array"},
        {1, "{\"name\":\"x\"}", "c.id", "missing"},
        {1, "{\"id\":\"a b\"}", "c.id", "must be 1 to 64 characters"},
        {1, "{\"id\":\"x\",\"name\":\"\"}", "c.name", "must not be empty"},
        {1, "{\"id\":\"x\",\"name\":\"a\\u0000b\"}", "c.name", "control characters"},
        {1, "{\"id\":\"x\",\"name\":7}", "c.name", "expected a string, got a number"},
        {1, "{\"id\":\"x\",\"limits\":{\"burst\":true}}", "c.limits.burst", "got a boolean"},
        {1, "{\"id\":\"x\",\"extra\":1}", "c.extra", "unknown field \"extra\" (known: id, name, limits)"},
        {2, "{\"id\":\"k\",\"customer\":\"c\"}", "c.hash", "missing"},
        {2, "{\"id\":\"k\",\"customer\":\"c\",\"hash\":\"md5:00\"}", "c.hash", "sha256:"},
        {2, "{\"id\":\"k\",\"hash\":\"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}",
         "c.customer", "missing"},
        {2, "{\"id\":\"k\",\"customer\":\"c\",\"models\":\"m\"}", "c.models", "expected an array"},
        {2, "{\"id\":\"k\",\"customer\":\"c\",\"models\":[\"m\",3]}", "c.models[1]", "expected a string"},
        {2, "{\"id\":\"k\",\"customer\":\"c\",\"expires\":\"2026-02-30T00:00:00Z\"}", "c.expires", "UTC time"},
        {2, "{\"id\":\"k\",\"customer\":\"c\",\"expires\":-5}", "c.expires", "unix seconds"},
        {3, "{\"customer\":\"c\",\"hash\":\"sha256:00\"}", "c.hash", "not accepted"},
        {3, "{\"customer\":\"c\",\"customer\":\"d\"}", "c.customer", "given twice"},
        {3, "{}", "c.customer", "missing"},
        {4, "{\"limits\":{}}", "customers", "missing"},
        {4, "{\"customers\":[\"a\",\"\"]}", "customers[1]", "must be 1 to 64"},
        {4, "{\"customers\":{}}", "customers", "expected an array"},
        {4, "{\"customers\":[],\"limits\":5}", "limits", "expected an object"},
        {5, "{\"id\":null}", "c.id", "expected a string, got null"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        int rc = parse_json(bad[i].json, &v);
        CHECKF(rc == 0, "case %zu: test JSON invalid", i);
        ak_customer_t c;
        ak_key_t k;
        ak_publish_t p;
        switch (bad[i].what) {
        case 0: rc = ak_parse_limits(j, &v, "limits", &l, &e); break;
        case 1: rc = ak_parse_customer(j, &v, "c", a, AK_FROM_CONFIG, &c, &e); break;
        case 2: rc = ak_parse_key(j, &v, "c", a, AK_FROM_CONFIG, &k, &e); break;
        case 3: rc = ak_parse_key(j, &v, "c", a, AK_FROM_API, &k, &e); break;
        case 4: rc = ak_parse_publish(j, &v, a, &p, &e); break;
        default: rc = ak_parse_customer(j, &v, "c", a, AK_FROM_API, &c, &e); break;
        }
        CHECKF(rc == -1 && strcmp(e.param, bad[i].param) == 0 && strstr(e.msg, bad[i].msg) &&
                   strncmp(e.msg, bad[i].param, strlen(bad[i].param)) == 0,
               "case %zu (%s): want %s / %s, got rc %d, %s / %s", i, bad[i].json, bad[i].param, bad[i].msg, rc, e.param,
               e.msg);
    }
    /* a name of exactly 256 bytes is fine, 257 is not */
    char big[400];
    snprintf(big, sizeof(big), "{\"id\":\"x\",\"name\":\"%0256d\"}", 0);
    parse_json(big, &v);
    ak_customer_t c;
    CHECK(ak_parse_customer(j, &v, "c", a, AK_FROM_CONFIG, &c, &e) == 0 && strlen(c.name) == 256);
    snprintf(big, sizeof(big), "{\"id\":\"x\",\"name\":\"%0257d\"}", 0);
    parse_json(big, &v);
    CHECK(ak_parse_customer(j, &v, "c", a, AK_FROM_CONFIG, &c, &e) == -1 && strstr(e.msg, "longer than 256"));

    ak_key_t k;
    parse_json("{\"id\":\"k1\",\"customer\":\"acme\",\"name\":\"CI\",\"hash\":\"sha256:ba7816bf8f01cfea414140de5dae2223b0"
               "0361a396177a9cb410ff61f20015ad\",\"models\":[\"m1\",\"m2\"],\"limits\":{\"burst\":3,\"requestsPerMinute\":9},"
               "\"expires\":\"2030-01-02T03:04:05Z\"}",
               &v);
    if (CHECK(ak_parse_key(j, &v, "k", a, AK_FROM_CONFIG, &k, &e) == 0)) {
        CHECK(strcmp(k.id, "k1") == 0 && strcmp(k.customer, "acme") == 0 && strcmp(k.name, "CI") == 0);
        CHECK(k.nmodels == 2 && strcmp(k.models[1], "m2") == 0 && k.limits.burst == 3 && k.expires == 1893553445);
        CHECK(k.hash[0] == 0xba && k.hash[31] == 0xad);
    }
    parse_json("{\"customer\":\"acme\",\"models\":[],\"expires\":1893553445}", &v);
    CHECK(ak_parse_key(j, &v, "", a, AK_FROM_API, &k, &e) == 0 && k.id == NULL && k.models && k.nmodels == 0 &&
          k.expires == 1893553445);
    int64_t t;
    CHECK(ak_parse_rfc3339("1970-01-01T00:00:00Z", 20, &t) == 0 && t == 0);
    CHECK(ak_parse_rfc3339("2024-02-29T23:59:59Z", 20, &t) == 0 && t == 1709251199);
    CHECK(ak_parse_rfc3339("2023-02-29T00:00:00Z", 20, &t) == -1);
    CHECK(ak_parse_rfc3339("2024-01-01 00:00:00Z", 20, &t) == -1);
    CHECK(ak_parse_rfc3339("2024-01-01T00:00:00+01:00", 25, &t) == -1);
    CHECK(ak_parse_rfc3339("2024-13-01T00:00:00Z", 20, &t) == -1);
    ig_arena_destroy(a);
}

/* ---------------------------------------------------------------- part 2: the plugin, dlopen'ed */

static const ig_host_t host = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_host_t),
    .log = test_host_log,
    .error = test_host_error,
    .palloc = test_pool_palloc,
    .json = &ig_json_api,
};

typedef struct {
    void *dl;
    const ig_plugin_t *d;
    const ig_auth_vtable_t *vt;
    void *proc, *state;
    test_pool_t pool;
} plugin_t;

static const ig_model_t m1 = {.name = "m1"}, m2 = {.name = "m2"}, m3 = {.name = "m3"};
static const ig_model_t *const all_models[] = {&m1, &m2, &m3};

static int plugin_start(plugin_t *p, const char *dir, const char *customers, const char *keys, ig_error_t *err)
{
    /* apikey's options struct is its two JSON lists, in declaration order */
    const char *opts[2] = {customers, keys};
    if (!CHECK(p->d->options_size == sizeof(opts) && p->d->options[1].offset == sizeof(char *)))
        return -1;
    ig_plugin_init_t ctx = {.process_state = p->proc, .options = opts, .state_dir = dir, .workers = 2, .generation = 1};
    memset(err, 0, sizeof(*err));
    return p->d->init(&host, &ctx, &p->state, err);
}

static int plugin_open(plugin_t *p)
{
    memset(p, 0, sizeof(*p));
    p->dl = dlopen(APIKEY_SO, RTLD_NOW | RTLD_LOCAL);
    if (!CHECKF(p->dl != NULL, "dlopen: %s", dlerror()))
        return -1;
    p->d = dlsym(p->dl, IG_PLUGIN_SYMBOL);
    if (!CHECK(p->d && p->d->kind == IG_PLUGIN_AUTH && p->d->load && p->d->routes))
        return -1;
    p->vt = p->d->vtable;
    ig_error_t err = {{0}};
    return CHECKF(p->d->load(&host, &p->proc, &err) == 0, "load: %s", err.msg) ? 0 : -1;
}

static void plugin_close(plugin_t *p)
{
    if (p->state)
        p->d->fini(p->state);
    p->state = NULL;
    if (p->proc)
        p->d->unload(p->proc);
    test_pool_free(&p->pool);
    dlclose(p->dl);
}

/* authenticate with a bearer key; 0 / status on failure, principal in *out */
static int auth(plugin_t *p, const char *key, ig_principal_t *out, ig_error_t *err)
{
    char hdr[700];
    snprintf(hdr, sizeof(hdr), "Bearer %s", key);
    ig_auth_request_t r = {.pool = &p->pool, .authorization = {hdr, strlen(hdr)}, .api_key = {"", 0}};
    memset(err, 0, sizeof(*err));
    if (p->vt->authenticate(p->state, &r, out, err) == 0)
        return 0;
    return err->status ? err->status : 401;
}

typedef struct {
    int status;
    char body[8192];
} answer_t;

static answer_t call(plugin_t *p, const char *method, const char *path, const char *body)
{
    answer_t a = {0};
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    const ig_route_decl_t *r;
    for (r = p->d->routes; r->path; r++) {
        size_t rl = strlen(r->path);
        if (plen >= rl && strncmp(path, r->path, rl) == 0 && (plen == rl || path[rl] == '/'))
            break;
    }
    if (!r->path) {
        a.status = -1;
        return a;
    }
    ig_http_exchange_t x = {
        .host = &host,
        .pool = &p->pool,
        .method = {method, strlen(method)},
        .path = {path, plen},
        .rest = {path + strlen(r->path), plen - strlen(r->path)},
        .query = {q ? q + 1 : "", q ? strlen(q + 1) : 0},
        .body = {body ? body : "", body ? strlen(body) : 0},
        .models = all_models,
        .nmodels = 3,
    };
    ig_error_t err = {{0}};
    CHECK(r->access == IG_ROUTE_ADMIN);
    if (r->handle(p->state, &x, &err) != 0) {
        a.status = err.status ? err.status : 400;
        snprintf(a.body, sizeof(a.body), "%s", err.msg);
    } else {
        a.status = x.status ? x.status : 200;
        snprintf(a.body, sizeof(a.body), "%.*s", (int)x.response.len, x.response.ptr);
    }
    return a;
}

/* The "key" field of an admin answer. */
static void secret_of(const answer_t *a, char *out, size_t cap)
{
    out[0] = '\0';
    const char *k = strstr(a->body, "\"key\":\"");
    if (!k)
        return;
    k += 7;
    const char *e = strchr(k, '"');
    snprintf(out, cap, "%.*s", e ? (int)(e - k) : 0, k);
}

/* hash of "yaml-secret-1" etc., made at run time so the test states the secret */
static void yaml_hash(const char *secret, char *out)
{
    uint8_t h[AK_HASH_LEN];
    ak_key_hash(secret, strlen(secret), h);
    ak_hash_format(h, out);
}

/* Worker threads authenticating while the main thread writes through the admin API. */
typedef struct {
    plugin_t *p;
    const char *good;
    int ok, bad;
} racer_t;

static void *racer(void *arg)
{
    racer_t *r = arg;
    test_pool_t *pool = calloc(1, sizeof(*pool));
    for (int i = 0; i < 3000; i++) {
        ig_principal_t pr;
        ig_error_t err = {{0}};
        char hdr[256];
        snprintf(hdr, sizeof(hdr), "Bearer %s", (i & 1) ? r->good : "sk-not-a-key");
        ig_auth_request_t q = {.pool = pool, .authorization = {hdr, strlen(hdr)}, .api_key = {"", 0}};
        int rc = r->p->vt->authenticate(r->p->state, &q, &pr, &err);
        if ((i & 1) && rc == 0 && pr.customer_id.len == 4 && r->p->vt->authorize_model(r->p->state, &pr, &m2) == 1)
            r->ok++;
        else if (!(i & 1) && rc == -1)
            r->bad++;
        test_pool_free(pool);
    }
    free(pool);
    return NULL;
}

static void concurrent(plugin_t *p, const char *good)
{
    racer_t r[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (racer_t){p, good, 0, 0};
        pthread_create(&t[i], NULL, racer, &r[i]);
    }
    int writes = 0;
    for (int i = 0; i < 40; i++) {
        char body[160];
        snprintf(body, sizeof(body), "{\"id\":\"race-%d\",\"customer\":\"beta\",\"limits\":{\"burst\":%d,\"requestsPerMinute\":99}}", i, i + 1);
        writes += call(p, "POST", "/admin/keys", body).status == 201;
        writes += call(p, "PUT", "/admin/customers/beta/limits", "{\"maxConcurrent\":3}").status == 200;
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECKF(r[i].ok == 1500 && r[i].bad == 1500, "racer %d: %d ok, %d refused", i, r[i].ok, r[i].bad);
    }
    CHECK(writes == 80);
    test_pool_free(&p->pool);
}

static void plugin_flow(void)
{
    char dir[] = "/tmp/ig-apikey-XXXXXX";
    if (!CHECK(mkdtemp(dir) != NULL))
        return;
    char h1[80], h2[80], h3[80], keys[1024];
    yaml_hash("yaml-secret-1", h1);
    yaml_hash("yaml-secret-2", h2);
    yaml_hash("yaml-secret-3", h3);
    snprintf(keys, sizeof(keys),
             "[{\"id\":\"y1\",\"customer\":\"acme\",\"hash\":\"%s\",\"limits\":{\"requestsPerMinute\":5}},"
             "{\"id\":\"y2\",\"customer\":\"acme\",\"hash\":\"%s\",\"models\":[\"m2\"]},"
             "{\"id\":\"y3\",\"customer\":\"acme\",\"hash\":\"%s\",\"expires\":\"2001-01-01T00:00:00Z\"}]",
             h1, h2, h3);
    const char *customers = "[{\"id\":\"acme\",\"name\":\"Acme\",\"limits\":{\"tokensPerHour\":1000}}]";

    plugin_t p;
    if (plugin_open(&p) != 0)
        return;
    ig_error_t err;
    /* a bad configuration is refused naming the field */
    CHECK(plugin_start(&p, dir, customers, "[{\"id\":\"y1\",\"customer\":\"nobody\",\"hash\":\"sha256:00\"}]", &err) ==
              -1 &&
          strstr(err.msg, "plugins.options.apikey.keys[0].hash"));
    CHECK(plugin_start(&p, dir, customers, "[{\"id\":\"y1\",\"customer\":\"nobody\",\"hash\":\"sha256:"
                                           "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}]",
                       &err) == -1 &&
          strstr(err.msg, "keys[0].customer: no customer \"nobody\""));
    CHECK(plugin_start(&p, dir, "{}", "[]", &err) == -1 && strstr(err.msg, "customers: expected a list"));
    if (!CHECKF(plugin_start(&p, dir, customers, keys, &err) == 0, "init: %s", err.msg))
        return;

    ig_principal_t pr;
    CHECK(auth(&p, "yaml-secret-1", &pr, &err) == 0);
    CHECK(pr.key_id.len == 2 && memcmp(pr.key_id.ptr, "y1", 2) == 0 && pr.customer_name.len == 4 &&
          pr.key_limits.requests_per_minute == 5 && pr.customer_limits.tokens_per_hour == 1000 &&
          pr.key_model_limits.requests_per_minute == -1);
    CHECK(p.vt->authorize_model(p.state, &pr, &m1) == 1 && p.vt->authorize_model(p.state, &pr, &m3) == 1);
    CHECK(auth(&p, "yaml-secret-2", &pr, &err) == 0);
    CHECK(p.vt->authorize_model(p.state, &pr, &m1) == 0 && p.vt->authorize_model(p.state, &pr, &m2) == 1);
    CHECK(auth(&p, "yaml-secret-3", &pr, &err) == 401 && strstr(err.msg, "expired"));
    CHECK(auth(&p, "wrong", &pr, &err) == 401 && strstr(err.msg, "Incorrect API key") &&
          strcmp(err.code, "invalid_api_key") == 0);
    ig_auth_request_t none = {.pool = &p.pool, .authorization = {"", 0}, .api_key = {"", 0}};
    CHECK(p.vt->authenticate(p.state, &none, &pr, &err) == -1 && strstr(err.msg, "didn't provide an API key"));
    ig_auth_request_t xkey = {.pool = &p.pool, .authorization = {"", 0}, .api_key = S("yaml-secret-1")};
    CHECK(p.vt->authenticate(p.state, &xkey, &pr, &err) == 0);

    /* admin: customers and keys */
    answer_t a = call(&p, "POST", "/admin/customers", "{\"id\":\"beta\",\"name\":\"Beta Ltd\"}");
    CHECKF(a.status == 201 && strstr(a.body, "\"id\":\"beta\"") && strstr(a.body, "\"source\":\"api\""), "%d %s", a.status,
           a.body);
    a = call(&p, "POST", "/admin/customers", "{\"id\":\"beta\"}");
    CHECK(a.status == 409);
    a = call(&p, "POST", "/admin/customers", "{\"id\":\"acme\"}");
    CHECK(a.status == 409);
    a = call(&p, "POST", "/admin/keys", "{\"id\":\"b1\",\"customer\":\"beta\",\"limits\":{\"burst\":2,\"requestsPerMinute\":60}}");
    CHECKF(a.status == 201 && strstr(a.body, "\"key\":\"ig-b1-"), "%d %s", a.status, a.body);
    char s1[200];
    secret_of(&a, s1, sizeof(s1));
    CHECK(auth(&p, s1, &pr, &err) == 0 && pr.customer_id.len == 4 && pr.key_limits.burst == 2);
    a = call(&p, "GET", "/admin/keys/b1", NULL);
    CHECK(a.status == 200 && !strstr(a.body, "\"key\":") && !strstr(a.body, s1) && strstr(a.body, "\"status\":\"active\""));
    a = call(&p, "POST", "/admin/keys", "{\"customer\":\"acme\"}"); /* an admin key for a YAML customer, id generated */
    CHECKF(a.status == 201 && strstr(a.body, "\"id\":\"k_"), "%d %s", a.status, a.body);
    char s2[200];
    secret_of(&a, s2, sizeof(s2));
    CHECK(auth(&p, s2, &pr, &err) == 0 && pr.customer_limits.tokens_per_hour == 1000);

    /* bad input: a clear 400 naming the field, nothing written */
    static const struct {
        const char *method, *path, *body, *param;
    } bad[] = {
        {"POST", "/admin/keys", "{\"customer\":\"beta\",\"colour\":\"red\"}", "\"param\":\"colour\""},
        {"POST", "/admin/keys", "{\"customer\":\"beta\",\"limits\":{\"burst\":\"2\"}}", "\"param\":\"limits.burst\""},
        {"POST", "/admin/keys", "{\"customer\":\"nobody\"}", "\"param\":\"customer\""},
        {"POST", "/admin/keys", "{\"customer\":\"beta\"", "\"code\":\"invalid_json\""},
        {"POST", "/admin/keys", "[]", "must be a JSON object"},
        {"POST", "/admin/keys", "", "not valid JSON"},
        {"POST", "/admin/customers", "{\"id\":\"bad id\"}", "\"param\":\"id\""},
        {"PUT", "/admin/keys/b1/limits", "{\"requestsPerMinute\":-3}", "\"param\":\"requestsPerMinute\""},
        {"POST", "/admin/keys/b1/revoke", "{\"now\":true}", "takes no fields"},
        {"POST", "/admin/models/m1/publish", "{\"customers\":[\"beta\",\"nobody\"]}", "\"param\":\"customers[1]\""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = call(&p, bad[i].method, bad[i].path, bad[i].body);
        CHECKF(a.status == 400 && strstr(a.body, bad[i].param) && strstr(a.body, "\"type\":\"invalid_request_error\""),
               "bad %zu: %d %s", i, a.status, a.body);
    }
    a = call(&p, "GET", "/admin/keys?customer=beta", NULL);
    CHECKF(a.status == 200 && strstr(a.body, "\"id\":\"b1\"") && !strstr(a.body, "\"id\":\"y1\"") &&
               !strstr(a.body, "\"id\":\"k_"),
           "%d [%s]", a.status, a.body);
    a = call(&p, "GET", "/admin/models", NULL);
    CHECKF(a.status == 200 && !strstr(a.body, "\"published\":true"), "nothing published after the bad publish: %s", a.body);
    CHECK(call(&p, "GET", "/admin/keys/nope", NULL).status == 404);
    CHECK(call(&p, "DELETE", "/admin/keys", NULL).status == 405);
    CHECK(call(&p, "GET", "/admin/keys/b1/whatever", NULL).status == 404);
    CHECK(call(&p, "POST", "/admin/keys/y1/revoke", NULL).status == 409); /* YAML keys change in YAML */

    /* limits, rotation, revocation */
    a = call(&p, "PUT", "/admin/keys/b1/limits", "{\"requestsPerMinute\":7}");
    CHECK(a.status == 200 && strstr(a.body, "\"requestsPerMinute\":7") && strstr(a.body, "\"burst\":null"));
    CHECK(auth(&p, s1, &pr, &err) == 0 && pr.key_limits.requests_per_minute == 7 && pr.key_limits.burst == -1);
    a = call(&p, "PUT", "/admin/customers/beta/limits", "{\"maxConcurrent\":3}");
    CHECK(a.status == 200 && strstr(a.body, "\"maxConcurrent\":3"));
    CHECK(call(&p, "PUT", "/admin/customers/acme/limits", "{}").status == 409);
    a = call(&p, "POST", "/admin/keys/b1/rotate", NULL);
    char s1b[200];
    secret_of(&a, s1b, sizeof(s1b));
    CHECKF(a.status == 200 && s1b[0] && strcmp(s1, s1b) != 0, "%d %s", a.status, a.body);
    CHECK(auth(&p, s1, &pr, &err) == 401);
    CHECK(auth(&p, s1b, &pr, &err) == 0 && pr.customer_limits.max_concurrent == 3);

    /* publication: m1 for beta only; an unpublished model stays open to everyone */
    a = call(&p, "POST", "/admin/models/m1/publish", "{\"customers\":[\"beta\"],\"limits\":{\"tokensPerMinute\":99}}");
    CHECKF(a.status == 200 && strstr(a.body, "\"published\":true") && strstr(a.body, "\"customer\":\"beta\""), "%s",
           a.body);
    CHECK(auth(&p, s1b, &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m1) == 1 &&
          pr.key_model_limits.tokens_per_minute == 99 && p.vt->authorize_model(p.state, &pr, &m3) == 1);
    CHECK(auth(&p, "yaml-secret-1", &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m1) == 0 &&
          p.vt->authorize_model(p.state, &pr, &m3) == 1);
    a = call(&p, "POST", "/admin/models/m3/publish", "{\"customers\":[]}"); /* published to nobody: hidden */
    CHECK(a.status == 200 && strstr(a.body, "\"customers\":[]"));
    CHECK(auth(&p, s1b, &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m3) == 0);
    a = call(&p, "POST", "/admin/models/some%2Fother/publish", "{\"customers\":[\"acme\"]}");
    CHECKF(a.status == 200 && strstr(a.body, "\"id\":\"some/other\"") && strstr(a.body, "\"configured\":false"), "%s",
           a.body);
    CHECK(call(&p, "DELETE", "/admin/models/m1/publish/beta", NULL).status == 200);
    CHECK(auth(&p, s1b, &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m1) == 0); /* still published, to nobody */
    CHECK(call(&p, "DELETE", "/admin/models/m1/publish", NULL).status == 200);
    CHECK(auth(&p, s1b, &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m1) == 1); /* open again */
    CHECK(call(&p, "DELETE", "/admin/models/m1/publish", NULL).status == 404);

    concurrent(&p, s1b);
    a = call(&p, "POST", "/admin/keys/b1/revoke", NULL);
    CHECK(a.status == 200 && strstr(a.body, "\"status\":\"revoked\""));
    CHECK(auth(&p, s1b, &pr, &err) == 401 && strstr(err.msg, "revoked"));
    CHECK(call(&p, "POST", "/admin/keys/b1/rotate", NULL).status == 409);
    test_pool_free(&p.pool);
    plugin_close(&p);

    /* restart on the same directory: stored keys, limits and publications are still there */
    if (plugin_open(&p) != 0)
        return;
    if (CHECKF(plugin_start(&p, dir, "[]", "[]", &err) == 0, "restart: %s", err.msg)) {
        CHECK(auth(&p, s2, &pr, &err) == 401 && strstr(err.msg, "customer no longer exists")); /* acme was YAML */
        CHECK(auth(&p, s1b, &pr, &err) == 401 && strstr(err.msg, "revoked"));
        CHECK(auth(&p, "yaml-secret-1", &pr, &err) == 401);
        a = call(&p, "GET", "/admin/customers/beta", NULL);
        CHECK(a.status == 200 && strstr(a.body, "\"maxConcurrent\":3"));
        a = call(&p, "POST", "/admin/keys", "{\"customer\":\"beta\",\"models\":[\"m2\"]}");
        char s3[200];
        secret_of(&a, s3, sizeof(s3));
        CHECK(auth(&p, s3, &pr, &err) == 0 && p.vt->authorize_model(p.state, &pr, &m2) == 1 &&
              p.vt->authorize_model(p.state, &pr, &m1) == 0 && p.vt->authorize_model(p.state, &pr, &m3) == 0);
        /* a YAML key id that the store already uses is refused at init */
        void *old = p.state;
        p.state = NULL;
        snprintf(keys, sizeof(keys), "[{\"id\":\"b1\",\"customer\":\"beta\",\"hash\":\"%s\"}]", h1);
        CHECK(plugin_start(&p, dir, "[]", keys, &err) == -1 && strstr(err.msg, "created through the admin API"));
        p.state = old;
    }
    test_pool_free(&p.pool);
    plugin_close(&p);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    hashing();
    headers();
    readers();
    plugin_flow();
    return ig_test_summary();
}
