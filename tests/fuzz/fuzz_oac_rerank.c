/*
 * Fuzz target: rerank answers as engine plugins rewrite them (plugins/common/oac_rerank.c).
 * Input: a flags byte (return_documents absent/false/true, top_n, engine status), a split
 * point, then the engine's answer. Fed whole and in two pieces, both must give the client the
 * same bytes and usage; a 2xx rerank answer the writer rewrote must come out as valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "oac_rerank.h"
#include "oac_test_host.h"

static const char *const client_bodies[] = {
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"]}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"],\"return_documents\":false}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\",{\"text\":\"b\\\"\"},\"c\"],\"return_documents\":true,\"top_n\":2}",
    "{\"model\":\"client-model\",\"query\":\"q\",\"documents\":[\"a\"],\"top_n\":1,\"return_documents\":true}",
};

static void run(uint8_t flags, const char *body, size_t len, size_t split, oac_test_sink_t *out, ig_usage_t *usage)
{
    test_pool_t pool;
    pool.n = 0;
    ig_model_t model = {.name = "client-model", .served_name = (flags & 4) ? "served" : "client-model"};
    const char *cb = client_bodies[flags & 3];
    ig_engine_req_t r = {.host = &oac_test_host, .pool = &pool, .api = IG_API_RERANK, .model = &model};
    if (ig_json_validate_value(cb, strlen(cb), NULL, &r.body) != 0 || ig_json_object_get(&r.body, "model", 5, &r.model_field) != 1)
        abort();
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    ig_error_t err;
    if (oac_rerank_prepare(&r, "/rerank", oac_upstream_model(&r), &err) != 0)
        abort();
    oac_test_answer(&r, (flags & 8) ? 400 : 200, body, len, split, !(flags & 16), out);
    *usage = r.usage;
    test_pool_free(&pool);
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
    run(data[0], body, len, 0, &whole, &u1);
    run(data[0], body, len, split, &parts, &u2);
    if (whole.out.len != parts.out.len || (whole.out.len && memcmp(whole.out.p, parts.out.p, whole.out.len) != 0))
        abort();
    if (memcmp(&u1, &u2, sizeof(u1)) != 0)
        abort();
    /* a complete 2xx answer that parsed as an object was rewritten (or passed whole): still JSON */
    ig_json_value_t v;
    if (!(data[0] & 8) && !(data[0] & 16) && ig_json_validate_value(body, len, NULL, &v) == 0 && v.type == IG_JSON_OBJECT &&
        ig_json_validate(whole.out.p ? whole.out.p : "", whole.out.len, NULL) != 0)
        abort();
    ig_buf_free(&whole.out);
    ig_buf_free(&parts.out);
    free(body);
    return 0;
}
