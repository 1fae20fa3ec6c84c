/*
 * test_oac_errors.c — plugins/common/openai_compat.c against the engines as they are today, with a
 * fake host: every engine's error envelope (vLLM >= 0.10.1, vLLM 0.6, OpenAI-shaped layers with
 * other types, Infinity's null type, Ollama's native string, FastAPI's detail) becomes OpenAI's
 * shape with OpenAI's type and code for its status and the engine's message; an error event inside
 * a stream (vLLM's `data: {"error": ...}` then [DONE], either envelope, split anywhere) reaches the
 * client OpenAI-shaped, ends the stream and sets stream_error_status; streams without usage are
 * billed the chunks that carried text (a lower bound when deltas merge), exactly with usage so far.
 */
#include <stdlib.h>
#include <string.h>

#include "ig_test.h"
#include "oac_test_host.h"

static test_pool_t pool; /* freed after each answer */
static oac_test_sink_t sink = OAC_TEST_SINK; /* what the client gets, emptied for each answer */

static const char client_body[] = "{\"model\":\"m\",\"messages\":[],\"stream\":true}";

/* Runs one answer through prepare (vLLM's flags), the data hook (cut at split) and the end hook. */
static ig_engine_req_t run(int stream, unsigned flags, int status, const char *answer, size_t split, int complete,
                           oac_test_sink_t *out)
{
    static ig_model_t model = {.name = "m", .served_name = "m"};
    ig_engine_req_t r = {.host = &oac_test_host, .pool = &pool, .api = IG_API_CHAT_COMPLETIONS, .model = &model};
    r.body = (ig_json_value_t){IG_JSON_OBJECT, client_body, sizeof(client_body) - 1};
    r.model_field = (ig_json_value_t){IG_JSON_STRING, client_body + 9, 3};
    r.stream = stream;
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    ig_error_t err;
    CHECK(oac_prepare_flags(&r, "/v1/chat/completions", oac_upstream_model(&r), flags, &err) == 0);
    ig_buf_reset(&out->out);
    size_t n = strlen(answer);
    oac_test_answer(&r, status, answer, n, split < n ? split : n, complete, out);
    return r;
}

/* What the client got. */
static const char *got(const oac_test_sink_t *out)
{
    return out->out.p ? out->out.p : "";
}

/* ---- error bodies ------------------------------------------------------------------------------- */

static const struct {
    const char *engine;
    int status;
    const char *body;
    const char *want;
} bodies[] = {
    {"vLLM >= 0.10.1", 400,
     "{\"error\":{\"message\":\"max_tokens must be at least 1, got 0.\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}}",
     "{\"error\":{\"message\":\"max_tokens must be at least 1, got 0.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
    {"vLLM >= 0.10.1 with a param", 400,
     "{\"error\":{\"message\":\"bad format\",\"type\":\"BadRequestError\",\"param\":\"response_format\",\"code\":400}}",
     "{\"error\":{\"message\":\"bad format\",\"type\":\"invalid_request_error\",\"param\":\"response_format\",\"code\":null}}"},
    {"vLLM >= 0.10.1", 404,
     "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\",\"param\":null,\"code\":404}}",
     "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"},
    {"vLLM >= 0.10.1", 500,
     "{\"error\":{\"message\":\"boom\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}}",
     "{\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"},
    {"vLLM 0.6", 400,
     "{\"object\":\"error\",\"message\":\"too long\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}",
     "{\"error\":{\"message\":\"too long\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
    {"vLLM 0.6", 404,
     "{\"object\":\"error\",\"message\":\"The model `x` does not exist.\",\"type\":\"NotFoundError\",\"param\":null,\"code\":404}",
     "{\"error\":{\"message\":\"The model `x` does not exist.\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"},
    {"an OpenAI-shaped layer", 401,
     "{\"error\":{\"message\":\"no key\",\"type\":\"authentication_error\",\"param\":null,\"code\":\"unauthorized\"}}",
     "{\"error\":{\"message\":\"no key\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"invalid_api_key\"}}"},
    {"an OpenAI-shaped layer", 429,
     "{\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"param\":null,\"code\":\"too_many\"}}",
     "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_exceeded\",\"param\":null,\"code\":\"rate_limit_exceeded\"}}"},
    {"Ollama's OpenAI layer", 500,
     "{\"error\":{\"message\":\"llama runner process has terminated\",\"type\":\"api_error\",\"param\":null,\"code\":null}}",
     "{\"error\":{\"message\":\"llama runner process has terminated\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"},
    {"Ollama native", 400, "{\"error\":\"model is required\"}",
     "{\"error\":{\"message\":\"model is required\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
    {"Infinity", 400, "{\"error\":{\"message\":\"Invalid model: x\",\"type\":null,\"param\":null,\"code\":400}}",
     "{\"error\":{\"message\":\"Invalid model: x\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
    {"FastAPI", 404, "{\"detail\":\"Model 'x' not found\"}",
     "{\"error\":{\"message\":\"Model 'x' not found\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"model_not_found\"}}"},
    {"FastAPI validation", 422, "{\"detail\":[{\"type\":\"missing\",\"loc\":[\"body\",\"file\"]}]}",
     "{\"error\":{\"message\":\"[{\\\"type\\\":\\\"missing\\\",\\\"loc\\\":[\\\"body\\\",\\\"file\\\"]}]\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
};

static void test_error_bodies(void)
{
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        for (int stream = 0; stream <= 1; stream++) {
            run(stream, OAC_USAGE_PER_CHUNK, bodies[i].status, bodies[i].body, 7, 1, &sink);
            CHECKF(strcmp(got(&sink), bodies[i].want) == 0, "%s %d (stream %d):\n got  %s\n want %s", bodies[i].engine,
                   bodies[i].status, stream, got(&sink), bodies[i].want);
            test_pool_free(&pool);
        }
    }
    /* a body that is no JSON: the core answers with its own message */
    run(0, 0, 404, "404 page not found", 3, 1, &sink);
    CHECK(sink.out.len == 0);
    test_pool_free(&pool);
}

/* ---- errors inside a stream ---------------------------------------------------------------------- */

#define ROLE "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
#define TOK(t) "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}]}\n\n"

static void test_stream_errors(void)
{
    static const struct {
        const char *event;
        int status;
        const char *client;
    } cases[] = {
        {"{\"error\": {\"message\": \"Internal server error\", \"type\": \"InternalServerError\", \"param\": null, \"code\": 500}}", 500,
         "{\"error\":{\"message\":\"Internal server error\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"},
        {"{\"error\": {\"object\": \"error\", \"message\": \"bad\", \"type\": \"BadRequestError\", \"param\": null, \"code\": 400}}", 400,
         "{\"error\":{\"message\":\"bad\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}"},
        {"{\"error\":\"oops\"}", 500, "{\"error\":{\"message\":\"oops\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"},
        {"{\"error\":{\"message\":\"busy\",\"code\":\"overloaded\"}}", 500,
         "{\"error\":{\"message\":\"busy\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char answer[1024], want[1024];
        snprintf(answer, sizeof(answer), ROLE TOK("tok1 tok2 ") TOK("tok3 ") "data: %s\n\ndata: [DONE]\n\n", cases[i].event);
        snprintf(want, sizeof(want), ROLE TOK("tok1 tok2 ") TOK("tok3 ") "data: %s\n\n", cases[i].client);
        for (size_t split = 0; split <= strlen(answer); split += 13) {
            ig_engine_req_t r = run(1, 0, 200, answer, split, 1, &sink);
            CHECKF(r.stream_error_status == cases[i].status, "case %zu split %zu: status %d", i, split, r.stream_error_status);
            CHECKF(strcmp(got(&sink), want) == 0, "case %zu split %zu: the client gets\n%s", i, split, got(&sink));
            CHECKF(r.usage.completion_tokens == 2, "case %zu: billed the 2 chunks that carried text, got %lld", i,
                   (long long)r.usage.completion_tokens);
            test_pool_free(&pool);
        }
    }
    /* no error: nothing set, [DONE] passed on */
    ig_engine_req_t r = run(1, 0, 200, ROLE TOK("tok1 ") "data: [DONE]\n\n", 5, 1, &sink);
    CHECK(r.stream_error_status == 0 && strstr(got(&sink), "data: [DONE]\n\n") != NULL);
    test_pool_free(&pool);
}

/* ---- billing a stream without usage ---------------------------------------------------------------- */

#define USAGE_CHUNK(c) "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"total_tokens\":" #c ",\"completion_tokens\":" #c "}}\n\n"
#define TOK_SO_FAR(t, c) "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"" t "\"}}],\"usage\":{\"prompt_tokens\":5,\"total_tokens\":0,\"completion_tokens\":" #c "}}\n\n"

static void test_stream_usage(void)
{
    /* merged deltas (3 tokens a chunk), no usage at all (the engine ignores stream_options), cut: the
     * two chunks that arrived, a lower bound of the 6 tokens */
    ig_engine_req_t r = run(1, OAC_USAGE_PER_CHUNK, 200, ROLE TOK("tok1 tok2 tok3 ") TOK("tok4 tok5 tok6 "), 40, 0, &sink);
    CHECK(r.usage.completion_tokens == 2 && r.usage.prompt_tokens == -1);
    test_pool_free(&pool);
    /* the same stream reaching its usage chunk: exact */
    r = run(1, OAC_USAGE_PER_CHUNK, 200, ROLE TOK("tok1 tok2 tok3 ") TOK("tok4 tok5 tok6 ") USAGE_CHUNK(6) "data: [DONE]\n\n", 40,
            1, &sink);
    CHECK(r.usage.completion_tokens == 6 && r.usage.prompt_tokens == 5);
    CHECK(strstr(got(&sink), "\"choices\":[]") == NULL); /* the client did not ask for usage */
    test_pool_free(&pool);
    /* usage so far on every chunk (continuous_usage_stats honoured), cut: exact, however merged */
    r = run(1, OAC_USAGE_PER_CHUNK, 200, TOK_SO_FAR("tok1 tok2 tok3 ", 3) TOK_SO_FAR("tok4 tok5 tok6 ", 6), 40, 0, &sink);
    CHECK(r.usage.completion_tokens == 6);
    test_pool_free(&pool);
    /* Ollama (oac_prepare without the flag), too old for stream_options: one token per chunk, exact */
    r = run(1, 0, 200, TOK("tok1 ") TOK("tok2 ") TOK("tok3 ") TOK("") "data: [DONE]\n\n", 11, 1, &sink);
    CHECK(r.usage.completion_tokens == 3);
    test_pool_free(&pool);
}

int main(void)
{
    test_error_bodies();
    test_stream_errors();
    test_stream_usage();
    ig_buf_free(&sink.out);
    return ig_test_summary();
}
