/* sim_openai: vLLM's OpenAI-compatible inference endpoints (/v1/chat/completions,
 * /v1/completions, /v1/embeddings): request validation, usage accounting and non-streamed
 * responses.  Streams are handed to sim_stream. */
#ifndef SIM_OPENAI_H
#define SIM_OPENAI_H

#include <stdint.h>

#include <h2o.h>

#include "sim_buf.h"
#include "sim_fault.h"
#include "sim_json.h"
#include "sim_pump.h"

typedef enum sim_api { SIM_API_CHAT, SIM_API_COMPLETION, SIM_API_EMBEDDING } sim_api_t;

void sim_openai_handle(h2o_req_t *req, sim_api_t api);

/* Start of every inference request, whatever the engine API: counts it in /sim/stats, tracks it as
 * active and draws the fault mode.  Returns 0 with *fault (NONE or one of the *_MID_STREAM modes, for
 * the caller to apply), or -1 when the fault took the request: answered by send_500 (NULL: vLLM's error), hung,
 * or its connection closed. */
int sim_openai_admit(h2o_req_t *req, void (*send_500)(h2o_req_t *req), sim_fault_mode_t *fault);

/* The embedding of input item `node` (a string or a token-id array) as a JSON value: a
 * deterministic unit vector of --embedding-dim floats from the item's content (FNV-1a seeds
 * splitmix64), as a float array or, with base64, little-endian float32 in base64.  vec holds
 * --embedding-dim floats of scratch space. */
void sim_openai_put_embedding(ig_buf_t *b, h2o_req_t *req, const sj_doc_t *d, uint32_t node, int base64, float *vec);

/* The stream fault a fault mode stands for (SIM_CUT_NONE for the others). */
sim_cut_t sim_openai_cut_of(sim_fault_mode_t fault);

/* die-mid-stream for a non-streamed answer: announces the full length, sends half, then cuts. */
void sim_openai_send_half_then_die(h2o_req_t *req, const ig_buf_t *b);

/* The text of generated token k (1-based): "tok<k> ". */
static inline void sim_openai_put_token(ig_buf_t *b, uint32_t k)
{
    ig_buf_lit(b, "tok");
    ig_buf_put_u64(b, k);
    ig_buf_putc(b, ' ');
}

/* {"prompt_tokens":P,"total_tokens":P+C,"completion_tokens":C[,"prompt_tokens_details":...]}.  The
 * details are null with with_details and cached < 0, {"cached_tokens":N} with cached >= 0 (vLLM
 * with prefix caching and --enable-prompt-tokens-details), absent otherwise. */
void sim_openai_put_usage(ig_buf_t *b, uint64_t prompt, uint64_t completion, int with_details, int64_t cached);

#endif
