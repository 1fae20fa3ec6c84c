/*
 * Fuzz target: the apikey plugin's admin API input validation (plugins/apikey, whole plugin
 * compiled in, in-memory SQLite store). Input: one byte choosing a route and method, then the
 * request body. Properties checked on every input:
 *  - the answer is JSON, and an error is OpenAI-shaped with a status the API documents;
 *  - all-or-nothing: a refused request (status >= 400) leaves the stored set untouched (no
 *    commit happened: the snapshot pointer and its contents are the same objects as before);
 *  - what the API answers is what it accepts: every "limits" object in a successful answer reads
 *    back through the same strict reader.
 * The store starts afresh every 500 inputs (the seeded customer "beta", key "b1", publication "m1").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ak_parse.h"
#include "ak_plugin.h"
#include "test_host.h"
#include "util/json.h"

extern const ig_plugin_t infergate_plugin;

static const ig_host_t host = {.size = sizeof(ig_host_t), .abi_version = IG_PLUGIN_ABI_VERSION,
                               .log = test_host_log,
                               .error = test_host_error,
                               .palloc = test_pool_palloc,
                               .json = &ig_json_api};

static const ig_model_t m1 = {.name = "m1"}, m2 = {.name = "m2"};
static const ig_model_t *const models[] = {&m1, &m2};

static const struct {
    const char *method, *path;
} routes[] = {
    {"POST", "/admin/customers"},        {"PUT", "/admin/customers/beta/limits"}, {"POST", "/admin/keys"},
    {"PUT", "/admin/keys/b1/limits"},    {"POST", "/admin/keys/b1/rotate"},       {"POST", "/admin/models/m1/publish"},
    {"POST", "/admin/models/m%2F2/publish"}, {"PUT", "/admin/keys/y1/limits"},     {"POST", "/admin/keys/nope/revoke"},
    {"GET", "/admin/keys?customer=beta"}, {"GET", "/admin/models"},               {"DELETE", "/admin/keys"},
};

static void *gen_state;
static ak_proc_t *proc;
static unsigned runs;

static int call(const char *method, const char *path, const char *body, size_t len, test_pool_t *pool,
                ig_http_exchange_t *x)
{
    const char *q = strchr(path, '?');
    size_t plen = q ? (size_t)(q - path) : strlen(path);
    const ig_route_decl_t *r;
    for (r = infergate_plugin.routes; r->path; r++)
        if (strncmp(path, r->path, strlen(r->path)) == 0)
            break;
    if (!r->path)
        abort();
    size_t rl = strlen(r->path);
    *x = (ig_http_exchange_t){.host = &host,
                              .pool = pool,
                              .method = {method, strlen(method)},
                              .path = {path, plen},
                              .rest = {path + rl, plen - rl},
                              .query = {q ? q + 1 : "", q ? strlen(q + 1) : 0},
                              .body = {body, len},
                              .models = models,
                              .nmodels = 2};
    ig_error_t err = {{0}};
    return r->handle(gen_state, x, &err);
}

static void setup(void)
{
    void *ps = NULL;
    ig_error_t err = {{0}};
    if (infergate_plugin.load(&host, &ps, &err) != 0)
        abort();
    proc = ps;
    /* sha256("abc") as the YAML key's hash */
    /* apikey's options struct: its two JSON lists, where its declarations put them */
    const char *opts[2] = {0};
    const ig_option_decl_t *d = infergate_plugin.options;
    if (infergate_plugin.options_size != sizeof(opts) || d[0].offset != 0 || d[1].offset != sizeof(char *))
        abort();
    opts[0] = "[{\"id\":\"acme\"}]";
    opts[1] = "[{\"id\":\"y1\",\"customer\":\"acme\",\"hash\":\"sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb41"
              "0ff61f20015ad\"}]";
    ig_plugin_init_t ctx = {.process_state = ps, .options = opts, .state_dir = NULL, .workers = 1, .generation = 1};
    if (infergate_plugin.init(&host, &ctx, &gen_state, &err) != 0)
        abort();
    static const char *const seed[][3] = {
        {"POST", "/admin/customers", "{\"id\":\"beta\"}"},
        {"POST", "/admin/keys", "{\"id\":\"b1\",\"customer\":\"beta\"}"},
        {"POST", "/admin/models/m1/publish", "{\"customers\":[\"beta\"]}"},
    };
    for (size_t i = 0; i < 3; i++) {
        test_pool_t pool;
        pool.n = 0;
        ig_http_exchange_t x;
        call(seed[i][0], seed[i][1], seed[i][2], strlen(seed[i][2]), &pool, &x);
        if (x.status != 200 && x.status != 201)
            abort();
        test_pool_free(&pool);
    }
}

/* Every "limits" member anywhere in the answer must read back through ak_parse_limits. */
static void check_limits(const ig_json_value_t *v, int depth)
{
    if (depth > 8 || (v->type != IG_JSON_OBJECT && v->type != IG_JSON_ARRAY))
        return;
    ig_json_iter_t it;
    ig_json_value_t k, val;
    ig_json_api.iter_init(&it, v);
    while (ig_json_api.iter_next(&it, v->type == IG_JSON_OBJECT ? &k : NULL, &val) == 1) {
        if (v->type == IG_JSON_OBJECT && ig_json_api.string_eq(&k, "limits", 6) && val.type == IG_JSON_OBJECT) {
            ig_limits_t l;
            ak_err_t e;
            if (ak_parse_limits(&ig_json_api, &val, "limits", &l, &e) != 0)
                abort();
        }
        check_limits(&val, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a fresh store now and then: accepted creates pile up, and every write reads the store back */
    if (gen_state && ++runs % 500 == 0) {
        infergate_plugin.fini(gen_state);
        infergate_plugin.unload(proc);
        gen_state = NULL;
    }
    if (!gen_state)
        setup();
    if (size < 1)
        return 0;
    size_t which = data[0] % (sizeof(routes) / sizeof(routes[0]));
    char *body = malloc(size); /* exact size: overreads are caught */
    memcpy(body, data + 1, size - 1);

    pthread_rwlock_rdlock(&proc->set_lock);
    ak_set_t *before = proc->stored;
    size_t nc = before->ncustomers, nk = before->nkeys, np = before->npubs;
    pthread_rwlock_unlock(&proc->set_lock);

    test_pool_t pool;
    pool.n = 0;
    ig_http_exchange_t x;
    if (call(routes[which].method, routes[which].path, body, size - 1, &pool, &x) != 0)
        abort(); /* the handlers answer every error themselves */
    int st = x.status ? x.status : 200;
    if (!(st == 200 || st == 201 || st == 400 || st == 404 || st == 405 || st == 409))
        abort();
    ig_json_value_t v;
    if (ig_json_api.validate_value(x.response.ptr, x.response.len, NULL, &v) != 0 || v.type != IG_JSON_OBJECT)
        abort();
    if (st >= 400) {
        ig_json_value_t e;
        if (ig_json_api.path(&v, "error.message", &e) != 1 || e.type != IG_JSON_STRING ||
            ig_json_api.path(&v, "error.type", &e) != 1 || ig_json_api.path(&v, "error.param", &e) != 1 ||
            ig_json_api.path(&v, "error.code", &e) != 1)
            abort();
        /* nothing half-written: no new snapshot, the same contents */
        if (proc->stored != before || before->ncustomers != nc || before->nkeys != nk || before->npubs != np)
            abort();
    } else {
        check_limits(&v, 0);
    }
    test_pool_free(&pool);
    free(body);
    return 0;
}
