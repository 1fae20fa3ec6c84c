/* sim_openai: vLLM's OpenAI-compatible inference endpoints (/v1/chat/completions,
 * /v1/completions, /v1/embeddings): request validation, usage accounting and non-streamed
 * responses.  Streams are handed to sim_stream. */
#ifndef SIM_OPENAI_H
#define SIM_OPENAI_H

#include <stdint.h>

#include <h2o.h>

#include "sim_buf.h"

typedef enum sim_api { SIM_API_CHAT, SIM_API_COMPLETION, SIM_API_EMBEDDING } sim_api_t;

void sim_openai_handle(h2o_req_t *req, sim_api_t api);

/* The text of generated token k (1-based): "tok<k> ". */
static inline void sim_openai_put_token(sim_buf_t *b, uint32_t k)
{
    sim_buf_lit(b, "tok");
    sim_buf_put_u64(b, k);
    sim_buf_putc(b, ' ');
}

/* {"prompt_tokens":P,"total_tokens":P+C,"completion_tokens":C[,"prompt_tokens_details":...]}.  The
 * details are null with with_details and cached < 0, {"cached_tokens":N} with cached >= 0 (vLLM
 * with prefix caching and --enable-prompt-tokens-details), absent otherwise. */
void sim_openai_put_usage(sim_buf_t *b, uint64_t prompt, uint64_t completion, int with_details, int64_t cached);

#endif
