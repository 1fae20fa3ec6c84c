/*
 * Fuzz target: rerank answers as engine plugins rewrite them (plugins/common/oac_rerank.c).
 * Input: a flags byte (return_documents absent/false/true, top_n, engine status), a split
 * point, then the engine's answer. Fed whole and in two pieces, both must give the client the
 * same bytes and usage; a 2xx rerank answer the writer rewrote must come out as valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/json.h"
#include "oac_rerank.h"

typedef struct {
    void *blocks[64];
    size_t n;
} pool_t;

static void *fuzz_palloc(void *p, size_t n)
{
    pool_t *pool = p;
    if (pool->n == 64)
        abort();
    return pool->blocks[pool->n++] = malloc(n ? n : 1);
}

static int fuzz_error(ig_error_t *err, const char *fmt, ...)
{
    (void)fmt;
    err->msg[0] = 'x';
    return -1;
}

typedef struct {
    ig_sink_t sink;
    char *data;
    size_t len;
} capture_t;

static void capture_write(ig_sink_t *s, const char *d, size_t n)
{
    capture_t *c = (capture_t *)s;
    c->data = realloc(c->data, c->len + n + 1);
    memcpy(c->data + c->len, d, n);
    c->len += n;
}

static const char *const client_bodies[] = {
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"]}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"],\"return_documents\":false}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"],\"return_documents\":true,\"top_n\":2}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1,\"return_documents\":true}",
};

static void run(uint8_t flags, const char *body, size_t len, size_t split, capture_t *out, ig_usage_t *usage)
{
    static ig_host_t host;
    host.palloc = fuzz_palloc;
    host.error = fuzz_error;
    host.json = &ig_json_api;
    pool_t pool = {{0}, 0};
    ig_model_t model = {.name = "client-model", .served_name = (flags & 4) ? "served" : "client-model"};
    const char *cb = client_bodies[flags & 3];
    ig_engine_req_t r = {.host = &host, .pool = &pool, .api = IG_API_RERANK, .model = &model};
    if (ig_json_validate_value(cb, strlen(cb), NULL, &r.body) != 0 || ig_json_object_get(&r.body, "model", 5, &r.model_field) != 1)
        abort();
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    ig_error_t err;
    if (oac_rerank_prepare(&r, "/rerank", oac_upstream_model(&r), &err) != 0)
        abort();
    r.upstream_status = (flags & 8) ? 400 : 200;
    out->sink.write = capture_write;
    oac_on_response_data(&r, body, split, &out->sink);
    oac_on_response_data(&r, body + split, len - split, &out->sink);
    oac_on_response_end(&r, !(flags & 16), &out->sink);
    *usage = r.usage;
    for (size_t i = 0; i < pool.n; i++)
        free(pool.blocks[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t len = size - 2;
    char *body = malloc(len ? len : 1);
    memcpy(body, data + 2, len);
    size_t split = len ? data[1] % (len + 1) : 0;
    capture_t whole = {{0}}, parts = {{0}};
    ig_usage_t u1, u2;
    run(data[0], body, len, 0, &whole, &u1);
    run(data[0], body, len, split, &parts, &u2);
    if (whole.len != parts.len || (whole.len && memcmp(whole.data, parts.data, whole.len) != 0))
        abort();
    if (memcmp(&u1, &u2, sizeof(u1)) != 0)
        abort();
    /* a complete 2xx answer that parsed as an object was rewritten (or passed whole): still JSON */
    ig_json_value_t v;
    if (!(data[0] & 8) && !(data[0] & 16) && ig_json_validate_value(body, len, NULL, &v) == 0 && v.type == IG_JSON_OBJECT &&
        ig_json_validate(whole.data ? whole.data : "", whole.len, NULL) != 0)
        abort();
    free(whole.data);
    free(parts.data);
    free(body);
    return 0;
}
