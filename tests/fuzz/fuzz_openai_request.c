/*
 * Fuzz target: the gateway's one pass over a client's request body
 * (ig_openai_request_parse) for every API, with invariants on what it returns.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/openai_request.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ig_api_t apis[] = {IG_API_CHAT_COMPLETIONS, IG_API_COMPLETIONS, IG_API_EMBEDDINGS, IG_API_RERANK,
                                    IG_API_SCORE};
    /* a private copy, so reads past the end are caught */
    char *body = malloc(size ? size : 1);
    memcpy(body, data, size);
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++) {
        ig_openai_request_t req;
        ig_request_error_t err;
        if (ig_openai_request_parse(apis[i], body, size, &req, &err) != 0) {
            check(err.status == 400 && err.message[0] != '\0');
            continue;
        }
        /* a parsed request has a string model with a name, inside the body */
        check(req.model.type == IG_JSON_STRING && req.model_name_len > 0 && req.model_name_len < sizeof(req.model_name));
        check(req.model.ptr >= body && req.model.ptr + req.model.len <= body + size);
        check(req.body.ptr >= body && req.body.ptr + req.body.len <= body + size && req.body.ptr[0] == '{');
        check(req.prefix.len == 0 || (req.prefix.ptr >= body && req.prefix.ptr + req.prefix.len <= body + size));
        check(req.stream == 0 || req.stream == 1);
        /* rerank and score never stream, and always have a routing text (query / text_1) */
        check(!(apis[i] == IG_API_RERANK || apis[i] == IG_API_SCORE) || (req.stream == 0 && req.prefix.ptr != NULL));
    }
    free(body);
    return 0;
}
