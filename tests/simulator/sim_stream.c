#include "sim_stream.h"

#include <stdlib.h>

#include "sim_buf.h"
#include "sim_config.h"
#include "sim_http.h"
#include "sim_openai.h"

typedef struct sim_stream {
    sim_pump_t pump; /* first: the pump frees the stream */
    uint64_t prompt_tokens;
    int64_t cached_tokens;
    unsigned chat : 1, include_usage : 1, finish_length : 1, continuous_usage : 1;
    size_t prefix_len;
    char prefix[]; /* `data: {"id":"...","object":"...","created":N,"model":"...","choices":[` */
} sim_stream_t;

static void chunk_end(sim_stream_t *s, uint32_t completed)
{
    ig_buf_t *b = &s->pump.out;
    /* continuous_usage_stats: vLLM puts the usage so far on every chunk (the role chunk: 0 completed) */
    if (s->continuous_usage) {
        ig_buf_lit(b, "],\"usage\":");
        sim_openai_put_usage(b, s->prompt_tokens, completed, 0, -1);
        ig_buf_lit(b, "}\n\n");
        return;
    }
    /* vLLM sets usage=None on every chunk when include_usage is on (chat), and always dumps all
     * fields of completion chunks */
    if (!s->chat || s->include_usage)
        ig_buf_lit(b, "],\"usage\":null}\n\n");
    else
        ig_buf_lit(b, "]}\n\n");
}

static void put_role_chunk(sim_pump_t *p)
{
    sim_stream_t *s = (sim_stream_t *)p;
    ig_buf_put(&p->out, s->prefix, s->prefix_len);
    ig_buf_lit(&p->out, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}");
    chunk_end(s, 0);
}

/* One chunk; with merged deltas (vLLM V1 behind a slow reader) its text holds several tokens. */
static void put_token_chunk(sim_pump_t *p, uint32_t first, uint32_t last)
{
    sim_stream_t *s = (sim_stream_t *)p;
    ig_buf_t *b = &p->out;
    ig_buf_put(b, s->prefix, s->prefix_len);
    if (s->chat)
        ig_buf_lit(b, "{\"index\":0,\"delta\":{\"content\":\"");
    else
        ig_buf_lit(b, "{\"index\":0,\"text\":\"");
    for (uint32_t k = first; k <= last; k++)
        sim_openai_put_token(b, k);
    ig_buf_puts(b, s->chat ? "\"},\"logprobs\":null,\"finish_reason\":" : "\",\"logprobs\":null,\"finish_reason\":");
    if (last < p->total) {
        if (s->chat)
            ig_buf_lit(b, "null}");
        else
            ig_buf_lit(b, "null,\"stop_reason\":null}");
    } else {
        ig_buf_puts(b, s->finish_length ? "\"length\"" : "\"stop\"");
        ig_buf_lit(b, ",\"stop_reason\":null}");
    }
    chunk_end(s, last);
}

static void put_end(sim_pump_t *p)
{
    sim_stream_t *s = (sim_stream_t *)p;
    if (s->include_usage) {
        ig_buf_put(&p->out, s->prefix, s->prefix_len);
        ig_buf_lit(&p->out, "],\"usage\":");
        sim_openai_put_usage(&p->out, s->prompt_tokens, p->total, 0, s->cached_tokens);
        ig_buf_lit(&p->out, "}\n\n");
    }
    ig_buf_lit(&p->out, "data: [DONE]\n\n");
}

void sim_stream_put_error_json(ig_buf_t *b, const char *message)
{
    /* the generator's except clause: create_streaming_error_response(e), then [DONE]. vLLM 0.6 called
     * it with the defaults (BadRequestError, 400) whatever went wrong; current vLLM classifies the
     * exception, and an engine failure is an InternalServerError, 500 */
    if (sim_cfg.error_format == SIM_ERRORS_VLLM_0_6)
        ig_buf_lit(b, "{\"error\": {\"object\": \"error\", \"message\": ");
    else
        ig_buf_lit(b, "{\"error\": {\"message\": ");
    ig_json_write_str(b, message, strlen(message));
    if (sim_cfg.error_format == SIM_ERRORS_VLLM_0_6)
        ig_buf_lit(b, ", \"type\": \"BadRequestError\", \"param\": null, \"code\": 400}}");
    else
        ig_buf_lit(b, ", \"type\": \"InternalServerError\", \"param\": null, \"code\": 500}}");
}

static void put_error(sim_pump_t *p)
{
    ig_buf_lit(&p->out, "data: ");
    sim_stream_put_error_json(&p->out, "ig-sim: injected fault (error-mid-stream)");
    ig_buf_lit(&p->out, "\n\ndata: [DONE]\n\n");
}

static const sim_pump_ops_t chat_ops = {put_role_chunk, put_token_chunk, put_end, put_error};
static const sim_pump_ops_t completion_ops = {NULL, put_token_chunk, put_end, put_error};

void sim_stream_start(h2o_req_t *req, const sim_stream_params_t *p)
{
    ig_buf_t pre = {0};
    ig_buf_lit(&pre, "data: {\"id\":\"");
    ig_buf_put(&pre, p->id, p->id_len);
    ig_buf_puts(&pre, p->chat ? "\",\"object\":\"chat.completion.chunk\",\"created\":" : "\",\"object\":\"text_completion\",\"created\":");
    ig_buf_put_u64(&pre, p->created);
    ig_buf_lit(&pre, ",\"model\":");
    ig_json_write_str(&pre, p->model, p->model_len);
    ig_buf_lit(&pre, ",\"choices\":[");

    sim_stream_t *s = calloc(1, sizeof(*s) + pre.len);
    if (s == NULL) {
        ig_buf_free(&pre);
        sim_http_send_vllm_error(req, 500, "InternalServerError", "out of memory");
        return;
    }
    memcpy(s->prefix, pre.p, pre.len);
    s->prefix_len = pre.len;
    ig_buf_free(&pre);
    s->prompt_tokens = p->prompt_tokens;
    s->cached_tokens = p->cached_tokens;
    s->chat = p->chat != 0;
    s->include_usage = p->include_usage != 0;
    s->continuous_usage = p->continuous_usage != 0;
    s->finish_length = p->finish_length != 0;

    sim_pump_params_t pp = {
        .content_type = SIM_CT_SSE,
        .tokens = p->completion_tokens,
        .ttft_ms = p->ttft_ms,
        .cut = p->cut,
        .per_chunk = sim_cfg.tokens_per_chunk,
        .merge = sim_cfg.merge_deltas,
        .drip_after = p->drip_after,
        .drip_ms = p->drip_ms,
        .user = p->user,
        .user_len = p->user_len,
        .count_usage = 1,
    };
    sim_pump_start(&s->pump, req, s->chat ? &chat_ops : &completion_ops, &pp);
}
