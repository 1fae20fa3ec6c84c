/*
 * Fuzz target: the apikey plugin's admin paths and query strings (plugins/apikey/ak_admin.c, whole
 * plugin compiled in, in-memory SQLite store, read-only requests). The store holds customers acme
 * (config) and beta (API), keys y1, y2 (acme, config) and b1 (beta, API); the gateway's models are
 * m1 and org/m2. Input: a mode byte, then
 *  - mode 0: the query string of GET /admin/keys?...;
 *  - mode 1: a record (byte 1) and which of its id's characters to percent-encode (bytes 2..):
 *    GET /admin/{customers,keys,models}/<id, encoded>;
 *  - mode 2: the rest of a GET path after /admin/{customers,keys,models} (byte 1 picks which).
 * Properties checked on every input:
 *  - every answer is a JSON object; an error is OpenAI-shaped, with a status the API documents;
 *  - a query value means what it says percent-decoded ('+' a space), as billing's do: the key list
 *    filtered by ?customer=X holds exactly the keys of X (all keys without the parameter), and a
 *    malformed escape, a repeated customer or any other parameter is a 400 (util/query.h);
 *  - a record's id percent-encoded in any characters (RFC 3986: the same URL) is the same record;
 *  - a path answered 200 names, decoded, an existing record, and that record's id is in the answer.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ak_plugin.h"
#include "test_host.h"
#include "util/json.h"
#include "util/url.h"

extern const ig_plugin_t infergate_plugin;

static const ig_host_t host = {.size = sizeof(ig_host_t), .abi_version = IG_PLUGIN_ABI_VERSION,
                               .log = test_host_log, .error = test_host_error, .palloc = test_pool_palloc,
                               .json = &ig_json_api};

static const ig_model_t m1 = {.name = "m1"}, m2 = {.name = "org/m2"};
static const ig_model_t *const models[] = {&m1, &m2};

static const char *const collections[] = {"/admin/customers", "/admin/keys", "/admin/models"};
static const struct {
    int coll;
    const char *id;
} records[] = {{0, "acme"}, {0, "beta"}, {1, "y1"}, {1, "y2"}, {1, "b1"}, {2, "m1"}, {2, "org/m2"}};
static const struct {
    const char *id, *customer;
} keys[] = {{"y1", "acme"}, {"y2", "acme"}, {"b1", "beta"}};

static void *gen_state;

static void get(const char *coll, const char *rest, size_t rest_len, const char *query, size_t qlen, test_pool_t *pool,
                ig_http_exchange_t *x)
{
    size_t cl = strlen(coll);
    char *path = host.palloc(pool, cl + rest_len + 1);
    memcpy(path, coll, cl);
    memcpy(path + cl, rest, rest_len);
    *x = (ig_http_exchange_t){.host = &host, .pool = pool, .method = {"GET", 3}, .path = {path, cl + rest_len},
                              .rest = {path + cl, rest_len}, .query = {query, qlen}, .models = models, .nmodels = 2};
    ig_error_t err = {{0}};
    const ig_route_decl_t *r;
    for (r = infergate_plugin.routes; r->path; r++)
        if (strcmp(r->path, coll) == 0)
            break;
    if (!r->path || r->handle(gen_state, x, &err) != 0)
        abort(); /* the handlers answer every error themselves */
}

static void setup(void)
{
    void *ps = NULL;
    ig_error_t err = {{0}};
    if (infergate_plugin.load(&host, &ps, &err) != 0)
        abort();
    const char *opts[2] = {0};
    const ig_option_decl_t *d = infergate_plugin.options;
    if (infergate_plugin.options_size != sizeof(opts) || d[0].offset != 0 || d[1].offset != sizeof(char *))
        abort();
    opts[0] = "[{\"id\":\"acme\"}]";
    opts[1] = "[{\"id\":\"y1\",\"customer\":\"acme\",\"hash\":\"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61"
              "f20015ad\"},{\"id\":\"y2\",\"customer\":\"acme\",\"hash\":\"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa"
              "7425e73043362938b9824\"}]";
    ig_plugin_init_t ctx = {.process_state = ps, .options = opts, .state_dir = NULL, .workers = 1, .generation = 1};
    if (infergate_plugin.init(&host, &ctx, &gen_state, &err) != 0)
        abort();
    static const char *const seed[][2] = {
        {"/admin/customers", "{\"id\":\"beta\"}"},
        {"/admin/keys", "{\"id\":\"b1\",\"customer\":\"beta\"}"},
    };
    for (size_t i = 0; i < 2; i++) {
        test_pool_t pool;
        pool.n = 0;
        size_t cl = strlen(seed[i][0]);
        ig_http_exchange_t x = {.host = &host, .pool = &pool, .method = {"POST", 4}, .path = {seed[i][0], cl},
                                .rest = {seed[i][0] + cl, 0}, .body = {seed[i][1], strlen(seed[i][1])},
                                .models = models, .nmodels = 2};
        ig_error_t e = {{0}};
        if (infergate_plugin.routes[0].handle(gen_state, &x, &e) != 0 || (x.status != 200 && x.status != 201))
            abort();
        test_pool_free(&pool);
    }
}

/* The answer: JSON, OpenAI-shaped when an error, with a documented status. Returns the status. */
static int check_answer(const ig_http_exchange_t *x, ig_json_value_t *v)
{
    int st = x->status ? x->status : 200;
    if (!(st == 200 || st == 400 || st == 404 || st == 405))
        abort();
    if (ig_json_api.validate_value(x->response.ptr, x->response.len, NULL, v) != 0 || v->type != IG_JSON_OBJECT)
        abort();
    if (st >= 400) {
        ig_json_value_t e;
        if (ig_json_api.path(v, "error.message", &e) != 1 || e.type != IG_JSON_STRING ||
            ig_json_api.path(v, "error.type", &e) != 1 || ig_json_api.path(v, "error.code", &e) != 1)
            abort();
    }
    return st;
}

static int id_is(const ig_json_value_t *v, const char *id)
{
    ig_json_value_t f;
    return ig_json_api.object_get(v, "id", 2, &f) == 1 && f.type == IG_JSON_STRING && ig_json_api.string_eq(&f, id, strlen(id));
}

/* mode 0: GET /admin/keys?query */
static void list_keys(const char *q, size_t qlen)
{
    /* the query read independently of util/query.c: every non-empty piece must be exactly one
     * customer=..., well encoded; anything else (another key, a second customer, a bad escape) is 400 */
    const char *raw = NULL;
    size_t raw_len = 0;
    int malformed = 0;
    char want[4096], key[4096];
    for (size_t i = 0; i < qlen && !malformed;) {
        size_t j = i, e;
        while (j < qlen && q[j] != '&')
            j++;
        for (e = i; e < j && q[e] != '='; e++)
            ;
        if (j > i) {
            if (ig_url_decode(q + i, e - i, IG_URL_PLUS_SPACE, key, sizeof(key), NULL) != 0 ||
                strcmp(key, "customer") != 0 || raw != NULL)
                malformed = 1;
            raw = q + (e < j ? e + 1 : j);
            raw_len = j - (size_t)(raw - q);
            if (ig_url_decode(raw, raw_len, IG_URL_PLUS_SPACE, want, sizeof(want), NULL) != 0)
                malformed = 1;
        }
        i = j + 1;
    }
    test_pool_t pool;
    pool.n = 0;
    ig_http_exchange_t x;
    get("/admin/keys", "", 0, q, qlen, &pool, &x);
    ig_json_value_t v, data, k, cust;
    int st = check_answer(&x, &v);
    if (malformed) {
        if (st != 400)
            abort();
        test_pool_free(&pool);
        return;
    }
    if (st != 200 || ig_json_api.object_get(&v, "data", 4, &data) != 1 || data.type != IG_JSON_ARRAY)
        abort();
    size_t expected = 0, got = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        expected += !raw || strcmp(keys[i].customer, want) == 0;
    ig_json_iter_t it;
    ig_json_api.iter_init(&it, &data);
    while (ig_json_api.iter_next(&it, NULL, &k) == 1) {
        got++;
        if (raw && (ig_json_api.object_get(&k, "customer", 8, &cust) != 1 || !ig_json_api.string_eq(&cust, want, strlen(want))))
            abort();
    }
    if (got != expected)
        abort();
    test_pool_free(&pool);
}

/* mode 1: a record by its id, some characters percent-encoded */
static void get_record(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    size_t which = p[0] % (sizeof(records) / sizeof(records[0]));
    const char *id = records[which].id;
    char rest[128];
    size_t len = 0;
    rest[len++] = '/';
    for (size_t i = 0; id[i]; i++) {
        unsigned bits = 1 + i / 8 < n ? p[1 + i / 8] : 0;
        /* '/' in a model name is always encoded: unencoded it would be two segments */
        if (id[i] == '/' || (bits >> (i % 8)) & 1)
            len += (size_t)snprintf(rest + len, sizeof(rest) - len, (bits >> 7) ? "%%%02x" : "%%%02X", (unsigned char)id[i]);
        else
            rest[len++] = id[i];
    }
    test_pool_t pool;
    pool.n = 0;
    ig_http_exchange_t x;
    get(collections[records[which].coll], rest, len, "", 0, &pool, &x);
    ig_json_value_t v;
    if (check_answer(&x, &v) != 200 || !id_is(&v, id))
        abort();
    test_pool_free(&pool);
}

/* mode 2: any rest of a path */
static void get_path(const uint8_t *p, size_t n)
{
    if (n < 1)
        return;
    int coll = p[0] % 3;
    char *rest = malloc(n); /* exact size */
    memcpy(rest, p + 1, n - 1);
    test_pool_t pool;
    pool.n = 0;
    ig_http_exchange_t x;
    get(collections[coll], rest, n - 1, "", 0, &pool, &x);
    ig_json_value_t v;
    if (check_answer(&x, &v) == 200 && n > 1) {
        /* "/<segment>": the segment decoded is a record of this collection, and the answer names it */
        char id[256];
        if (rest[0] != '/' || memchr(rest + 1, '/', n - 2) || ig_url_decode(rest + 1, n - 2, 0, id, sizeof(id), NULL) != 0)
            abort();
        int known = 0;
        for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
            known |= records[i].coll == coll && strcmp(records[i].id, id) == 0;
        if (!known || !id_is(&v, id))
            abort();
    }
    test_pool_free(&pool);
    free(rest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!gen_state)
        setup(); /* read-only requests: one store serves every input */
    if (size < 1 || size > 2048)
        return 0;
    switch (data[0] % 3) {
    case 0: {
        char *q = malloc(size); /* exact size */
        memcpy(q, data + 1, size - 1);
        list_keys(q, size - 1);
        free(q);
        break;
    }
    case 1:
        get_record(data + 1, size - 1);
        break;
    default:
        get_path(data + 1, size - 1);
        break;
    }
    return 0;
}
