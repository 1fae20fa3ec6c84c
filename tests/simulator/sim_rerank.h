/* sim_rerank: deterministic relevance scores for reranking and scoring, and vLLM's /rerank,
 * /v1/rerank, /v2/rerank, /score and /v1/score endpoints.
 *
 * A score is the share of the query's distinct words found in the document:
 * (1 + 2·hits) / (2 + 2·query_words), always in (0, 1), higher for more overlap, so tests can
 * predict the ordering.  Words are compared after JSON unescaping, case-sensitively. */
#ifndef SIM_RERANK_H
#define SIM_RERANK_H

#include <stdint.h>

#include <h2o.h>

#include "sim_buf.h"
#include "sim_fault.h"
#include "sim_json.h"

typedef struct sim_rank {
    uint32_t index;   /* position in the request's documents */
    uint32_t node;    /* the document's text (a string node) */
    double score;
} sim_rank_t;

/* Relevance of string node `doc` to string node `query`. */
double sim_rerank_score(const sj_doc_t *d, uint32_t query, uint32_t doc);

/* The text of a document: the node itself if it is a string, its "text" member if it is an object
 * with a string "text" (Cohere/Jina style), else -1. */
int64_t sim_rerank_doc_text(const sj_doc_t *d, uint32_t node);

/* Scores every element of array node `docs` (each must have a text; checked by the caller) against
 * `query` into ranks (count elements), sorted by score, highest first, ties by index. */
void sim_rerank_rank(const sj_doc_t *d, uint32_t query, uint32_t docs, sim_rank_t *ranks);

/* Appends string node i as it was written, quotes included (already valid JSON). */
void sim_rerank_put_raw_str(ig_buf_t *b, const sj_doc_t *d, uint32_t i);

/* Sends the answer in b (200), counting its prompt tokens; die-mid-stream sends half and cuts. */
void sim_rerank_send_answer(h2o_req_t *req, ig_buf_t *b, sim_fault_mode_t fault, uint64_t tokens);

void sim_rerank_handle_vllm_rerank(h2o_req_t *req);
void sim_rerank_handle_vllm_score(h2o_req_t *req);

#endif
