/*
 * test_oac_rerank.c — plugins/common/oac_rerank.c with a fake host: the request splice (model
 * replaced, {"text"} documents flattened to strings, nothing else touched) and the one answer shape
 * made from Infinity's (current "results" and old "data", bare-string documents), vLLM's ({"text"}
 * documents, total_tokens-only usage) and error answers, with top_n and return_documents honoured.
 */
#include <stdlib.h>
#include <string.h>

#include "ig_test.h"
#include "oac_rerank.h"
#include "oac_test_host.h"

static test_pool_t pool; /* freed at the end */

static ig_model_t model = {.name = "rr", .served_name = "org/reranker"};

/* A request for body (client model "rr"), prepared for /rerank; the upstream body joined into up. */
static ig_engine_req_t prepare(const char *body, char *up, size_t cap)
{
    ig_engine_req_t r;
    memset(&r, 0, sizeof(r));
    r.host = &oac_test_host;
    r.pool = &pool;
    r.api = IG_API_RERANK;
    r.model = &model;
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    CHECK(ig_json_validate_value(body, strlen(body), NULL, &r.body) == 0);
    CHECK(ig_json_object_get(&r.body, "model", 5, &r.model_field) == 1);
    ig_error_t err = {{0}};
    CHECKF(oac_rerank_prepare(&r, "/rerank", (ig_str_t){"org/reranker", 12}, &err) == 0, "%s", err.msg);
    size_t len = 0;
    for (size_t i = 0; i < r.nupstream_body; i++) {
        CHECK(len + r.upstream_body[i].len < cap);
        memcpy(up + len, r.upstream_body[i].ptr, r.upstream_body[i].len);
        len += r.upstream_body[i].len;
    }
    up[len] = '\0';
    return r;
}

/* Feeds the engine's answer (status) through the response hooks; returns what the client gets. */
static const char *answer(ig_engine_req_t *r, int status, const char *engine, oac_test_sink_t *out)
{
    ig_buf_reset(&out->out);
    size_t n = strlen(engine);
    oac_test_answer(r, status, engine, n, n / 2, 1, out); /* in two reads, as it may arrive */
    return out->out.p ? out->out.p : "";
}

static void test_request(void)
{
    char up[1024];
    ig_engine_req_t r = prepare("{\"model\":\"rr\",\"query\":\"q\",\"documents\":[\"a\",\"b\\\"c\"],\"top_n\":1}", up, sizeof(up));
    CHECK(r.upstream_path.len == 7 && memcmp(r.upstream_path.ptr, "/rerank", 7) == 0);
    CHECKF(strcmp(up, "{\"model\":\"org/reranker\",\"query\":\"q\",\"documents\":[\"a\",\"b\\\"c\"],\"top_n\":1}") == 0, "%s", up);
    oac_discard(&r);

    r = prepare("{\"documents\":[{\"text\":\"x y\",\"id\":1}, \"z\" ,{\"title\":\"t\",\"text\":\"\\u00e9\"}],\"model\":\"rr\",\"query\":\"q\","
                "\"return_documents\":true}",
                up, sizeof(up));
    CHECKF(strcmp(up, "{\"documents\":[\"x y\",\"z\",\"\\u00e9\"],\"model\":\"org/reranker\",\"query\":\"q\",\"return_documents\":true}") == 0,
           "%s", up);
    CHECK(ig_json_validate(up, strlen(up), NULL) == 0);
    oac_discard(&r);
}

static void test_answers(void)
{
    char up[1024];
    oac_test_sink_t out = OAC_TEST_SINK;
    const char *docs = "{\"model\":\"rr\",\"query\":\"q\",\"documents\":[\"d0\",{\"text\":\"d1\"},\"d2\"]";
    char body[512];

    /* Infinity, return_documents: bare-string documents become {"text"}; usage is the engine's */
    snprintf(body, sizeof(body), "%s,\"return_documents\":true}", docs);
    ig_engine_req_t r = prepare(body, up, sizeof(up));
    const char *got = answer(&r, 200,
                             "{\"object\":\"rerank\",\"results\":[{\"relevance_score\":0.9,\"index\":1,\"document\":\"d1\"},"
                             "{\"relevance_score\":0.5,\"index\":0,\"document\":\"d0\"}],\"model\":\"org/reranker\","
                             "\"usage\":{\"prompt_tokens\":12,\"total_tokens\":12},\"id\":\"infinity-1\",\"created\":1}",
                             &out);
    CHECKF(strcmp(got, "{\"id\":\"infinity-1\",\"object\":\"rerank\",\"model\":\"rr\",\"results\":[{\"index\":1,\"relevance_score\":0.9,"
                       "\"document\":{\"text\":\"d1\"}},{\"index\":0,\"relevance_score\":0.5,\"document\":{\"text\":\"d0\"}}],"
                       "\"usage\":{\"prompt_tokens\":12,\"total_tokens\":12}}") == 0,
           "%s", got);
    CHECK(r.usage.prompt_tokens == 12 && r.usage.completion_tokens == 0);

    /* old Infinity ("data"), documents left out by the engine: taken from the request; top_n cuts */
    snprintf(body, sizeof(body), "%s,\"return_documents\":true,\"top_n\":1}", docs);
    r = prepare(body, up, sizeof(up));
    got = answer(&r, 200,
                 "{\"object\":\"rerank\",\"data\":[{\"relevance_score\":0.7,\"index\":2,\"document\":null},"
                 "{\"relevance_score\":0.1,\"index\":1}],\"model\":\"m\",\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}",
                 &out);
    CHECKF(strcmp(got, "{\"object\":\"rerank\",\"model\":\"rr\",\"results\":[{\"index\":2,\"relevance_score\":0.7,"
                       "\"document\":{\"text\":\"d2\"}}],\"usage\":{\"prompt_tokens\":3,\"total_tokens\":3}}") == 0,
           "%s", got);

    /* vLLM before 0.8.5: usage has total_tokens only; return_documents false drops its documents */
    snprintf(body, sizeof(body), "%s,\"return_documents\":false}", docs);
    r = prepare(body, up, sizeof(up));
    got = answer(&r, 200,
                 "{\"id\":\"rerank-7\",\"model\":\"org/reranker\",\"usage\":{\"total_tokens\":40},\"results\":["
                 "{\"index\":0,\"document\":{\"text\":\"d0\"},\"relevance_score\":0.25}]}",
                 &out);
    CHECKF(strcmp(got, "{\"id\":\"rerank-7\",\"object\":\"rerank\",\"model\":\"rr\",\"results\":[{\"index\":0,\"relevance_score\":0.25}],"
                       "\"usage\":{\"prompt_tokens\":40,\"total_tokens\":40}}") == 0,
           "%s", got);
    CHECK(r.usage.prompt_tokens == 40);

    /* return_documents absent: the engine's documents are kept (as {"text"}) */
    snprintf(body, sizeof(body), "%s}", docs);
    r = prepare(body, up, sizeof(up));
    got = answer(&r, 200, "{\"results\":[{\"index\":0,\"document\":{\"text\":\"d0\"},\"relevance_score\":1}]}", &out);
    CHECKF(strstr(got, "\"results\":[{\"index\":0,\"relevance_score\":1,\"document\":{\"text\":\"d0\"}}]") != NULL, "%s", got);
    CHECK(strstr(got, "usage") == NULL); /* none reported, none invented */

    /* something that is not a rerank answer goes through untouched */
    r = prepare(body, up, sizeof(up));
    got = answer(&r, 200, "{\"unexpected\":true}", &out);
    CHECK(strcmp(got, "{\"unexpected\":true}") == 0);

    /* Infinity's error: OpenAI's shape with a type */
    r = prepare(body, up, sizeof(up));
    got = answer(&r, 400, "{\"error\":{\"message\":\"Invalid model: x\",\"type\":null,\"param\":null,\"code\":400}}", &out);
    CHECKF(strstr(got, "\"message\":\"Invalid model: x\"") != NULL && strstr(got, "\"type\":\"invalid_request_error\"") != NULL, "%s", got);
    ig_buf_free(&out.out);
}

int main(void)
{
    test_request();
    test_answers();
    test_pool_free(&pool);
    return ig_test_summary();
}
