/* sim_stream: server-sent-event streams of chat.completion.chunk / text_completion chunks, paced by
 * a per-stream uv timer, with h2o's proceed callback as backpressure (at most one send in flight,
 * never more than one batch of chunks buffered per stream). */
#ifndef SIM_STREAM_H
#define SIM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

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
    int die_mid_stream;   /* cut the connection after half the tokens */
    unsigned ttft_ms;     /* delay before the role chunk and the first token */
    int64_t cached_tokens; /* reported in the usage chunk when >= 0 (prefix cache on) */
    int continuous_usage; /* stream_options.continuous_usage_stats: usage so far on every chunk */
    const char *user;     /* the request's "user" (copied; may be NULL), for sim_usage */
    size_t user_len;
    uint32_t drip_after;  /* "sim_drip_after": after this many tokens, one token per drip_ms (0: off) */
    unsigned drip_ms;
} sim_stream_params_t;

void sim_stream_start(h2o_req_t *req, const sim_stream_params_t *p);

struct sim_worker;
/* Ends (as cancelled) the worker's streams whose client has gone away while they wait for their
 * next token: with HTTP/1, h2o would only notice at the next write, which may be far off. */
void sim_stream_check_clients(struct sim_worker *w);

#endif
