/*
 * Fuzz target: what engine plugins do with an engine's answer
 * (plugins/common/openai_compat.c). Input: a flags byte (1 served name, 2 stream, 4 client wants
 * usage, 8 engine error, 16 cut short, 32 usage per chunk), a split point, then
 * the response body. The body is fed whole and in two pieces; both must give
 * the client the same bytes, the same usage and the same stream_error_status (an error event inside
 * a stream).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/json.h"
#include "openai_compat.h"

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

static int run(const uint8_t *flags, const char *body, size_t len, size_t split, capture_t *out, ig_usage_t *usage,
               int *stream_error)
{
    static ig_host_t host;
    host.palloc = fuzz_palloc;
    host.json = &ig_json_api;
    pool_t pool = {{0}, 0};
    ig_model_t model = {.name = "client-model", .served_name = (flags[0] & 1) ? "served" : "client-model"};
    static const char client_body[] = "{\"model\":\"client-model\",\"stream\":true}";
    ig_engine_req_t r = {.host = &host, .pool = &pool, .api = IG_API_CHAT_COMPLETIONS, .model = &model};
    r.body = (ig_json_value_t){IG_JSON_OBJECT, client_body, sizeof(client_body) - 1};
    r.model_field = (ig_json_value_t){IG_JSON_STRING, client_body + 9, 14};
    r.stream = (flags[0] >> 1) & 1;
    r.client_wants_usage = (flags[0] >> 2) & 1;
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    ig_error_t err;
    /* flag 32: usage on every chunk (vLLM's continuous_usage_stats), set back to null for the client */
    unsigned oflags = (flags[0] & 32) ? OAC_USAGE_PER_CHUNK : 0;
    if (oac_prepare_flags(&r, "/v1/chat/completions", oac_upstream_model(&r), oflags, &err) != 0)
        abort();
    r.upstream_status = (flags[0] & 8) ? 400 : 200;
    out->sink.write = capture_write;
    oac_on_response_data(&r, body, split, &out->sink);
    oac_on_response_data(&r, body + split, len - split, &out->sink);
    oac_on_response_end(&r, !(flags[0] & 16), &out->sink);
    *usage = r.usage;
    *stream_error = r.stream_error_status;
    for (size_t i = 0; i < pool.n; i++)
        free(pool.blocks[i]);
    return 0;
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
    int e1, e2;
    run(data, body, len, 0, &whole, &u1, &e1);
    run(data, body, len, split, &parts, &u2, &e2);
    if (e1 != e2 || (e1 != 0 && (e1 < 400 || e1 > 599)))
        abort();
    if (whole.len != parts.len || (whole.len && memcmp(whole.data, parts.data, whole.len) != 0))
        abort();
    if (memcmp(&u1, &u2, sizeof(u1)) != 0)
        abort();
    free(whole.data);
    free(parts.data);
    free(body);
    return 0;
}
