/*
 * oac_rerank.h — rerank requests (IG_API_RERANK) for engines with a Cohere-like /rerank
 * (Infinity, vLLM): one shape for every engine's answer.
 *
 * Request: the client's body with "model" set to the served name and, when the client sent
 * documents as {"text": ...} objects (Cohere v1, Jina), "documents" flattened to the strings the
 * engines take; top_n and return_documents go through as sent.
 *
 * Answer, whatever the engine wrote:
 *   {"id","object":"rerank","model":<client's>,"results":[{"index","relevance_score"[,"document":{"text"}]}],
 *    "usage":{"prompt_tokens","total_tokens"}}
 * results best first, at most top_n; "document" when return_documents is true (taken from the
 * client's own documents when the engine left it out), or, when return_documents is absent, when the
 * engine gave one. Usage: prompt_tokens, or total_tokens where the engine reports only that.
 */
#ifndef IG_OAC_RERANK_H
#define IG_OAC_RERANK_H

#include "openai_compat.h"

/* Sets up r for a rerank request sent to path. 0 or -1 with err. */
int oac_rerank_prepare(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err);

#endif
