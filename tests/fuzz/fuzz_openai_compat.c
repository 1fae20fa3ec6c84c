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
#include "oac_test_host.h"

static int run(const uint8_t *flags, const char *body, size_t len, size_t split, oac_test_sink_t *out, ig_usage_t *usage,
               int *stream_error)
{
    test_pool_t pool;
    pool.n = 0;
    ig_model_t model = {.name = "client-model", .served_name = (flags[0] & 1) ? "served" : "client-model"};
    static const char client_body[] = "{\"model\":\"client-model\",\"stream\":true}";
    ig_engine_req_t r = {.host = &oac_test_host, .pool = &pool, .api = IG_API_CHAT_COMPLETIONS, .model = &model};
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
    oac_test_answer(&r, (flags[0] & 8) ? 400 : 200, body, len, split, !(flags[0] & 16), out);
    *usage = r.usage;
    *stream_error = r.stream_error_status;
    test_pool_free(&pool);
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
    oac_test_sink_t whole = OAC_TEST_SINK, parts = OAC_TEST_SINK;
    ig_usage_t u1, u2;
    int e1, e2;
    run(data, body, len, 0, &whole, &u1, &e1);
    run(data, body, len, split, &parts, &u2, &e2);
    if (e1 != e2 || (e1 != 0 && (e1 < 400 || e1 > 599)))
        abort();
    if (whole.out.len != parts.out.len || (whole.out.len && memcmp(whole.out.p, parts.out.p, whole.out.len) != 0))
        abort();
    if (memcmp(&u1, &u2, sizeof(u1)) != 0)
        abort();
    ig_buf_free(&whole.out);
    ig_buf_free(&parts.out);
    free(body);
    return 0;
}
