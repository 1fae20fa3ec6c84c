/*
 * rerank_request.h — the checks on a rerank (/v1/rerank, /rerank) or score (/v1/score) body,
 * on the members openai_request.c's one pass over the body found. Spans only, nothing copied.
 */
#ifndef IG_RERANK_REQUEST_H
#define IG_RERANK_REQUEST_H

#include "infergate/json.h"
#include "infergate/plugin.h"

/* The members a rerank or score body may carry; type INVALID where absent. */
typedef struct {
    ig_json_value_t query, documents, top_n, return_documents; /* rerank (Cohere, Jina, vLLM, Infinity) */
    ig_json_value_t text_1, text_2;                            /* score (vLLM) */
} ig_rerank_fields_t;

/*
 * For IG_API_RERANK and IG_API_SCORE: 0, with *prefix set to the routing prefix (the query, or
 * text_1's first text), or -1 with *param naming the offending parameter and msg (cap bytes) saying
 * what is wrong. Other APIs: 0, nothing touched.
 */
int ig_rerank_request_check(ig_api_t api, const ig_rerank_fields_t *f, ig_str_t *prefix, const char **param,
                            char *msg, size_t cap);

/* The text of a rerank document: a string, or an object's string "text" (Cohere/Jina); 1, or 0 if neither. */
int ig_rerank_document_text(const ig_json_value_t *doc, ig_json_value_t *text);

#endif
