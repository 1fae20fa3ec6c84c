/* sim_stream: vLLM's server-sent-event streams of chat.completion.chunk / text_completion chunks,
 * in the shapes vLLM writes them; pacing, backpressure and faults are sim_pump's. */
#ifndef SIM_STREAM_H
#define SIM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "sim_pump.h"

typedef struct sim_stream_params {
    int chat;             /* chat.completion.chunk (else text_completion) */
    const char *id;       /* "chatcmpl-..." / "cmpl-..." (copied) */
    size_t id_len;
    const char *model;    /* echoed model name, decoded (copied) */
    size_t model_len;
    uint64_t created;
    uint64_t prompt_tokens;
    uint32_t completion_tokens; /* >= 1 */
    int finish_length;    /* finish_reason "length" (else "stop") */
    int include_usage;    /* stream_options.include_usage */
    sim_cut_t cut;        /* die-, error- or stall-mid-stream */
    unsigned ttft_ms;     /* delay before the role chunk and the first token, once running */
    int64_t cached_tokens; /* reported in the usage chunk when >= 0 (prefix cache on) */
    int continuous_usage; /* stream_options.continuous_usage_stats: usage so far on every chunk */
    const char *user;     /* the request's "user" (copied; may be NULL), for sim_usage */
    size_t user_len;
    uint32_t drip_after;  /* "sim_drip_after": after this many tokens, one chunk per drip_ms (0: off) */
    unsigned drip_ms;
} sim_stream_params_t;

void sim_stream_start(h2o_req_t *req, const sim_stream_params_t *p);

/* The body of vLLM's error for a stream that fails midway, in --error-format's envelope, as
 * json.dumps writes it (", " and ": " separators): {"error": {...}}. */
void sim_stream_put_error_json(ig_buf_t *b, const char *message);

#endif
