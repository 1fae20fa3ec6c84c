#include "sim_openai.h"

#include <inttypes.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include "util/hash.h"
#include <time.h>

#include "sim_config.h"
#include "sim_fault.h"
#include "sim_http.h"
#include "sim_json.h"
#include "sim_prefix.h"
#include "sim_pump.h"
#include "sim_sched.h"
#include "sim_server.h"
#include "sim_stats.h"
#include "sim_stream.h"
#include "sim_usage.h"

/* Everything the endpoints need from a request body. */
typedef struct sim_request {
    sim_api_t api;
    char *model; /* decoded, NUL-terminated, in the request pool */
    size_t model_len;
    uint64_t prompt_tokens;
    int has_max_tokens;
    int64_t max_tokens;
    int stream;
    int include_usage;
    int continuous_usage; /* stream_options.continuous_usage_stats */
    const char *user;     /* "user", decoded, or NULL */
    size_t user_len;
    sim_cut_t cut;        /* "sim_fault": "die-mid-stream" and co. (test extension, this request only) */
    int64_t drip_after, drip_ms; /* "sim_drip_after", "sim_drip_ms" (test extension, streams) */
    int base64; /* embeddings: encoding_format "base64" */
    sim_prefix_hasher_t *prefix; /* the prompt's block hashes, when the prefix cache is on */
    int64_t cached_tokens;       /* -1 when the prefix cache is off */
} sim_request_t;

void sim_openai_put_usage(ig_buf_t *b, uint64_t prompt, uint64_t completion, int with_details, int64_t cached)
{
    ig_buf_lit(b, "{\"prompt_tokens\":");
    ig_buf_put_u64(b, prompt);
    ig_buf_lit(b, ",\"total_tokens\":");
    ig_buf_put_u64(b, prompt + completion);
    ig_buf_lit(b, ",\"completion_tokens\":");
    ig_buf_put_u64(b, completion);
    if (cached >= 0) {
        ig_buf_lit(b, ",\"prompt_tokens_details\":{\"cached_tokens\":");
        ig_buf_put_u64(b, (uint64_t)cached);
        ig_buf_putc(b, '}');
    } else if (with_details) {
        ig_buf_lit(b, ",\"prompt_tokens_details\":null");
    }
    ig_buf_putc(b, '}');
}

/* ---- errors ---------------------------------------------------------------------------------- */

static void bad_request(h2o_req_t *req, const char *msg) { sim_http_send_vllm_error(req, 400, "BadRequestError", msg); }

/* FastAPI/pydantic report body validation failures as a list of error dicts, which vLLM turns into
 * the message of a 400 BadRequestError. */
static void validation_error(h2o_req_t *req, const char *type, const char *loc, const char *msg)
{
    char m[512];
    if (loc[0] == '\0')
        snprintf(m, sizeof(m), "[{'type': '%s', 'loc': ('body',), 'msg': '%s', 'input': None}]", type, msg);
    else
        snprintf(m, sizeof(m), "[{'type': '%s', 'loc': ('body', %s), 'msg': '%s', 'input': None}]", type, loc, msg);
    bad_request(req, m);
}

static void json_invalid(h2o_req_t *req, const sj_doc_t *d)
{
    char m[512];
    const char *err = d->err != NULL ? d->err : "Expecting value";
    char q = strchr(err, '\'') != NULL ? '"' : '\''; /* quoted like Python's repr() */
    snprintf(m, sizeof(m),
             "[{'type': 'json_invalid', 'loc': ('body', %zu), 'msg': 'JSON decode error', 'input': {}, 'ctx': {'error': %c%s%c}}]",
             d->err_pos, q, err, q);
    bad_request(req, m);
}

/* ---- field helpers --------------------------------------------------------------------------- */

/* Optional field: returns its node, or -1 when absent or null. */
static int64_t opt_field(const sj_doc_t *d, uint32_t obj, const char *key)
{
    int64_t i = sj_obj_get(d, obj, key);
    if (i >= 0 && sj_type(d, (uint32_t)i) == SJ_NULL)
        return -1;
    return i;
}

static int opt_bool(h2o_req_t *req, const sj_doc_t *d, uint32_t obj, const char *key, const char *loc, int *out)
{
    int64_t i = opt_field(d, obj, key);
    if (i < 0)
        return 0;
    sj_type_t t = sj_type(d, (uint32_t)i);
    if (t != SJ_TRUE && t != SJ_FALSE) {
        validation_error(req, "bool_parsing", loc, "Input should be a valid boolean");
        return -1;
    }
    *out = t == SJ_TRUE;
    return 0;
}

static int opt_int(h2o_req_t *req, const sj_doc_t *d, uint32_t obj, const char *key, const char *loc, int *has, int64_t *out)
{
    int64_t i = opt_field(d, obj, key);
    if (i < 0)
        return 0;
    if (sj_get_int(d, (uint32_t)i, out) != 0) {
        validation_error(req, "int_parsing", loc, "Input should be a valid integer");
        return -1;
    }
    *has = 1;
    return 0;
}

static char *decode_str(h2o_req_t *req, const sj_doc_t *d, uint32_t i, size_t *len)
{
    char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[i].len + 1);
    *len = sj_str_decode(d, i, s);
    s[*len] = '\0';
    return s;
}

/* ---- request parsing ------------------------------------------------------------------------- */

/* "user" (OpenAI's end-user id, counted per user in sim_usage) and the test extensions "sim_fault"
 * ("die-mid-stream", "error-mid-stream" or "stall-mid-stream": this request only), "sim_drip_after"
 * and "sim_drip_ms" (streams: after N
 * tokens, one token per M ms, default 500). vLLM ignores fields it does not know. */
static int parse_test_extensions(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    int64_t i = opt_field(d, 0, "user");
    if (i >= 0 && sj_type(d, (uint32_t)i) == SJ_STRING)
        r->user = decode_str(req, d, (uint32_t)i, &r->user_len);
    i = opt_field(d, 0, "sim_fault");
    if (i >= 0 && sj_type(d, (uint32_t)i) == SJ_STRING) {
        size_t n;
        const char *f = decode_str(req, d, (uint32_t)i, &n);
        sim_fault_mode_t mode;
        if (sim_fault_from_name(f, n, &mode) == 0)
            r->cut = sim_openai_cut_of(mode);
    }
    int has = 0;
    r->drip_ms = 500;
    if (opt_int(req, d, 0, "sim_drip_after", "'sim_drip_after'", &has, &r->drip_after) != 0 ||
        opt_int(req, d, 0, "sim_drip_ms", "'sim_drip_ms'", &has, &r->drip_ms) != 0)
        return -1;
    if (r->drip_after < 0 || r->drip_after > UINT32_MAX || r->drip_ms < 1 || r->drip_ms > 600000) {
        bad_request(req, "sim_drip_after must be >= 0 and sim_drip_ms within 1..600000");
        return -1;
    }
    return 0;
}

static int parse_model(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    int64_t i = opt_field(d, 0, "model");
    if (i < 0) { /* newer vLLM: the model is optional and defaults to the served one */
        const char *m = sim_config_primary_model();
        r->model_len = strlen(m);
        r->model = h2o_mem_alloc_pool(&req->pool, r->model_len + 1);
        memcpy(r->model, m, r->model_len + 1);
        return 0;
    }
    if (sj_type(d, (uint32_t)i) != SJ_STRING) {
        validation_error(req, "string_type", "'model'", "Input should be a valid string");
        return -1;
    }
    r->model = decode_str(req, d, (uint32_t)i, &r->model_len);
    return 0;
}

static int parse_stream(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    if (opt_bool(req, d, 0, "stream", "'stream'", &r->stream) != 0)
        return -1;
    int64_t so = opt_field(d, 0, "stream_options");
    if (so < 0)
        return 0;
    if (sj_type(d, (uint32_t)so) != SJ_OBJECT) {
        validation_error(req, "model_type", "'stream_options'", "Input should be a valid dictionary or instance of StreamOptions");
        return -1;
    }
    if (opt_bool(req, d, (uint32_t)so, "include_usage", "'stream_options', 'include_usage'", &r->include_usage) != 0 ||
        opt_bool(req, d, (uint32_t)so, "continuous_usage_stats", "'stream_options', 'continuous_usage_stats'",
                 &r->continuous_usage) != 0)
        return -1;
    if (!r->stream) {
        validation_error(req, "value_error", "", "Value error, Stream options can only be defined when `stream=True`.");
        return -1;
    }
    /* an engine that does not know the options (or this one of them) streams as if they were absent */
    if (sim_cfg.ignore_stream_options)
        r->include_usage = 0;
    if (sim_cfg.ignore_stream_options || sim_cfg.ignore_continuous_usage)
        r->continuous_usage = 0;
    return 0;
}

static int parse_max_tokens(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    if (r->api == SIM_API_CHAT) {
        /* max_completion_tokens wins over the deprecated max_tokens */
        if (opt_int(req, d, 0, "max_completion_tokens", "'max_completion_tokens'", &r->has_max_tokens, &r->max_tokens) != 0)
            return -1;
        if (r->has_max_tokens)
            return 0;
    }
    return opt_int(req, d, 0, "max_tokens", "'max_tokens'", &r->has_max_tokens, &r->max_tokens);
}

static void prefix_word(void *ctx, uint64_t word_hash) { sim_prefix_token(ctx, word_hash); }

/* Chat prompt tokens: words of every text content, plus 4 per message for the chat template. */
static int parse_messages(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    int64_t msgs = sj_obj_get(d, 0, "messages");
    if (msgs < 0) {
        validation_error(req, "missing", "'messages'", "Field required");
        return -1;
    }
    if (sj_type(d, (uint32_t)msgs) != SJ_ARRAY) {
        validation_error(req, "list_type", "'messages'", "Input should be a valid list");
        return -1;
    }
    if (d->nodes[msgs].count == 0) {
        bad_request(req, "messages must contain at least one message");
        return -1;
    }
    uint64_t tokens = 0;
    for (uint32_t m = (uint32_t)msgs + 1, k = 0; k < d->nodes[msgs].count; k++, m = d->nodes[m].end) {
        if (sj_type(d, m) != SJ_OBJECT) {
            validation_error(req, "model_type", "'messages', 0", "Input should be a valid dictionary");
            return -1;
        }
        int64_t role = sj_obj_get(d, m, "role");
        if (role < 0 || sj_type(d, (uint32_t)role) != SJ_STRING) {
            validation_error(req, "missing", "'messages', 0, 'role'", "Field required");
            return -1;
        }
        tokens += 4;
        if (r->prefix != NULL)
            sim_prefix_message(r->prefix, d->src + d->nodes[role].start, d->nodes[role].len);
        int64_t content = opt_field(d, m, "content");
        if (content < 0)
            continue;
        sj_type_t t = sj_type(d, (uint32_t)content);
        if (t == SJ_STRING) {
            tokens += sj_str_words(d, (uint32_t)content, r->prefix ? prefix_word : NULL, r->prefix);
        } else if (t == SJ_ARRAY) {
            for (uint32_t p = (uint32_t)content + 1, j = 0; j < d->nodes[content].count; j++, p = d->nodes[p].end) {
                if (sj_type(d, p) != SJ_OBJECT) {
                    validation_error(req, "model_type", "'messages', 0, 'content', 0", "Input should be a valid dictionary");
                    return -1;
                }
                int64_t type = sj_obj_get(d, p, "type");
                if (type < 0 || sj_type(d, (uint32_t)type) != SJ_STRING) {
                    validation_error(req, "missing", "'messages', 0, 'content', 0, 'type'", "Field required");
                    return -1;
                }
                if (!sj_str_eq(d, (uint32_t)type, "text"))
                    continue; /* images, audio...: no text tokens in this model */
                int64_t text = sj_obj_get(d, p, "text");
                if (text < 0 || sj_type(d, (uint32_t)text) != SJ_STRING) {
                    validation_error(req, "missing", "'messages', 0, 'content', 0, 'text'", "Field required");
                    return -1;
                }
                tokens += sj_str_words(d, (uint32_t)text, r->prefix ? prefix_word : NULL, r->prefix);
            }
        } else {
            validation_error(req, "string_type", "'messages', 0, 'content'", "Input should be a valid string");
            return -1;
        }
    }
    r->prompt_tokens = tokens;
    return 0;
}

/* Token-id list: every element must be an integer. */
static int count_token_ids(const sj_doc_t *d, uint32_t arr, uint64_t *n)
{
    for (uint32_t e = arr + 1, k = 0; k < d->nodes[arr].count; k++, e = d->nodes[e].end) {
        int64_t v;
        if (sj_get_int(d, e, &v) != 0)
            return -1;
    }
    *n = d->nodes[arr].count;
    return 0;
}

/* "prompt" or "input": a string, a list of strings, a list of token ids or a list of lists of
 * token ids.  Calls `each` (if not NULL) per item; returns total tokens via *tokens. */
typedef int (*item_cb)(void *ctx, const sj_doc_t *d, uint32_t node, uint64_t tokens);

static int walk_text_input(h2o_req_t *req, const sj_doc_t *d, const char *field, uint64_t *tokens, item_cb each, void *ctx)
{
    int64_t in = sj_obj_get(d, 0, field);
    char loc[64];
    snprintf(loc, sizeof(loc), "'%s'", field);
    if (in < 0) {
        validation_error(req, "missing", loc, "Field required");
        return -1;
    }
    uint64_t total = 0;
    sj_type_t t = sj_type(d, (uint32_t)in);
    if (t == SJ_STRING) {
        total = sj_str_count_words(d, (uint32_t)in);
        if (each != NULL && each(ctx, d, (uint32_t)in, total) != 0)
            return -1;
    } else if (t == SJ_ARRAY) {
        uint32_t count = d->nodes[in].count;
        if (count == 0) {
            char m[96];
            snprintf(m, sizeof(m), "%s must not be empty", field);
            bad_request(req, m);
            return -1;
        }
        sj_type_t first = sj_type(d, (uint32_t)in + 1);
        if (first == SJ_NUMBER) { /* one prompt given as token ids */
            if (count_token_ids(d, (uint32_t)in, &total) != 0) {
                validation_error(req, "int_type", loc, "Input should be a valid integer");
                return -1;
            }
            if (each != NULL && each(ctx, d, (uint32_t)in, total) != 0)
                return -1;
        } else {
            for (uint32_t e = (uint32_t)in + 1, k = 0; k < count; k++, e = d->nodes[e].end) {
                uint64_t n;
                if (sj_type(d, e) == SJ_STRING) {
                    n = sj_str_count_words(d, e);
                } else if (sj_type(d, e) == SJ_ARRAY && count_token_ids(d, e, &n) == 0) {
                    /* list of token-id lists */
                } else {
                    validation_error(req, "string_type", loc, "Input should be a valid string");
                    return -1;
                }
                total += n;
                if (each != NULL && each(ctx, d, e, n) != 0)
                    return -1;
            }
        }
    } else {
        validation_error(req, "string_type", loc, "Input should be a valid string");
        return -1;
    }
    *tokens = total;
    return 0;
}

/* ---- context-length rules (vLLM's _validate_input) -------------------------------------------- */

/* Resolves the completion length; sends a 400 and returns -1 when vLLM would refuse. */
static int resolve_completion_tokens(h2o_req_t *req, const sim_request_t *r, uint32_t *tokens, int *finish_length)
{
    char m[400];
    uint64_t limit = sim_cfg.max_model_len;
    if (r->has_max_tokens && r->max_tokens < 1) {
        snprintf(m, sizeof(m), "max_tokens must be at least 1, got %" PRId64 ".", r->max_tokens);
        bad_request(req, m);
        return -1;
    }
    if (r->prompt_tokens >= limit) {
        snprintf(m, sizeof(m),
                 "This model's maximum context length is %" PRIu64 " tokens. However, you requested %" PRIu64
                 " tokens in the messages, Please reduce the length of the messages.",
                 limit, r->prompt_tokens);
        bad_request(req, m);
        return -1;
    }
    uint64_t room = limit - r->prompt_tokens;
    if (r->has_max_tokens) {
        if ((uint64_t)r->max_tokens > room) {
            snprintf(m, sizeof(m),
                     "This model's maximum context length is %" PRIu64 " tokens. However, you requested %" PRIu64
                     " tokens (%" PRIu64 " in the messages, %" PRId64
                     " in the completion). Please reduce the length of the messages or completion.",
                     limit, (uint64_t)r->max_tokens + r->prompt_tokens, r->prompt_tokens, r->max_tokens);
            bad_request(req, m);
            return -1;
        }
        *tokens = (uint32_t)r->max_tokens;
        *finish_length = 1; /* the simulated model never stops before max_tokens */
    } else if (sim_cfg.default_tokens > room) {
        *tokens = (uint32_t)room;
        *finish_length = 1;
    } else {
        *tokens = sim_cfg.default_tokens;
        *finish_length = 0; /* as if the model emitted EOS */
    }
    return 0;
}

/* ---- responses ------------------------------------------------------------------------------- */

static void put_id(ig_buf_t *b, sim_worker_t *w, const char *prefix)
{
    ig_buf_puts(b, prefix);
    sim_buf_put_hex_rand(b, &w->rng, 32);
}

static void on_half_body_sent(h2o_generator_t *g, h2o_req_t *req)
{
    (void)g;
    sim_http_abort(req, 1);
}

static h2o_generator_t half_body_generator = {on_half_body_sent, NULL};

/* die-mid-stream for a non-streamed answer: announce the full length, send half, then cut. */
void sim_openai_send_half_then_die(h2o_req_t *req, const ig_buf_t *b)
{
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(SIM_CT_JSON));
    req->res.content_length = b->len;
    h2o_iovec_t half = h2o_iovec_init(h2o_mem_alloc_pool(&req->pool, b->len / 2 + 1), b->len / 2);
    memcpy(half.base, b->p, half.len);
    h2o_start_response(req, &half_body_generator);
    h2o_send(req, &half, 1, H2O_SEND_STATE_IN_PROGRESS);
}

static void respond_generation(h2o_req_t *req, const sim_request_t *r, uint32_t tokens, int finish_length, sim_cut_t cut)
{
    sim_worker_t *w = sim_worker_of(req);
    ig_buf_t *b = &w->scratch;
    int chat = r->api == SIM_API_CHAT;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"id\":");
    ig_buf_putc(b, '"');
    put_id(b, w, chat ? "chatcmpl-" : "cmpl-");
    ig_buf_putc(b, '"');
    ig_buf_puts(b, chat ? ",\"object\":\"chat.completion\",\"created\":" : ",\"object\":\"text_completion\",\"created\":");
    ig_buf_put_u64(b, (uint64_t)time(NULL));
    ig_buf_lit(b, ",\"model\":");
    ig_json_write_str(b, r->model, r->model_len);
    ig_buf_puts(b, chat ? ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\""
                        : ",\"choices\":[{\"index\":0,\"text\":\"");
    for (uint32_t k = 1; k <= tokens; k++)
        sim_openai_put_token(b, k);
    ig_buf_puts(b, chat ? "\",\"tool_calls\":[]},\"logprobs\":null,\"finish_reason\":" : "\",\"logprobs\":null,\"finish_reason\":");
    ig_buf_puts(b, finish_length ? "\"length\"" : "\"stop\"");
    ig_buf_puts(b, chat ? ",\"stop_reason\":null}],\"usage\":" : ",\"stop_reason\":null,\"prompt_logprobs\":null}],\"usage\":");
    sim_openai_put_usage(b, r->prompt_tokens, tokens, 1, r->cached_tokens);
    ig_buf_puts(b, chat ? ",\"prompt_logprobs\":null}" : "}");

    if (cut == SIM_CUT_ERROR) { /* the full generator failed: an error answer instead */
        sim_http_send_vllm_error(req, 500, "InternalServerError", "ig-sim: injected fault (error-mid-stream)");
        return;
    }
    if (cut == SIM_CUT_STALL) {
        sim_http_hang(req);
        return;
    }
    if (cut == SIM_CUT_DIE) {
        SIM_STAT_ADD(completion_tokens, tokens / 2);
        sim_usage_add(r->user, r->user_len, 0, 0, tokens / 2);
        sim_openai_send_half_then_die(req, b);
        return;
    }
    SIM_STAT_ADD(completion_tokens, tokens);
    sim_usage_add(r->user, r->user_len, 0, 0, tokens);
    sim_http_send_buf(req, 200, b);
}

/* A non-streamed answer runs (and ends) as soon as it has a running slot; until then it waits. */
typedef struct plain_wait {
    sim_seq_t seq;
    h2o_req_t *req;
    sim_request_t r; /* its strings live in the request's pool */
    uint32_t tokens;
    int finish_length;
} plain_wait_t;

static void on_plain_dispose(void *p) { sim_sched_release(&((plain_wait_t *)p)->seq); }

static void answer_when_running(plain_wait_t *pw)
{
    pw->seq.plain = NULL;
    sim_sched_release(&pw->seq); /* answered at once: the slot is free again */
    respond_generation(pw->req, &pw->r, pw->tokens, pw->finish_length, pw->r.cut);
}

static void on_plain_admit(sim_seq_t *s) { answer_when_running(H2O_STRUCT_FROM_MEMBER(plain_wait_t, seq, s)); }

static void respond_plain(h2o_req_t *req, const sim_request_t *r, uint32_t tokens, int finish_length)
{
    plain_wait_t *pw = h2o_mem_alloc_shared(&req->pool, sizeof(*pw), on_plain_dispose);
    memset(pw, 0, sizeof(*pw));
    pw->req = req;
    pw->r = *r;
    pw->r.prefix = NULL; /* the hasher was the caller's */
    pw->tokens = tokens;
    pw->finish_length = finish_length;
    pw->seq.plain = req;
    pw->seq.on_admit = on_plain_admit;
    if (sim_sched_submit(sim_worker_of(req), &pw->seq))
        answer_when_running(pw);
}

/* ---- embeddings ------------------------------------------------------------------------------ */

typedef struct embed_ctx {
    h2o_req_t *req;
    ig_buf_t *b;
    const sim_request_t *r;
    uint32_t index;
    float *vec;
} embed_ctx_t;

static void base64_put(ig_buf_t *b, const unsigned char *p, size_t n)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ig_buf_reserve(b, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63]};
        ig_buf_put(b, q, 4);
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], i + 1 < n ? tbl[(v >> 6) & 63] : '=', '='};
        ig_buf_put(b, q, 4);
    }
}

void sim_openai_put_embedding(ig_buf_t *b, h2o_req_t *req, const sj_doc_t *d, uint32_t node, int base64, float *vec)
{
    uint64_t h = SIM_HASH_SEED;
    if (sj_type(d, node) == SJ_STRING) {
        char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[node].len + 1);
        size_t n = sj_str_decode(d, node, s);
        h = ig_fnv1a64(h, s, n);
    } else { /* token ids */
        for (uint32_t e = node + 1, k = 0; k < d->nodes[node].count; k++, e = d->nodes[e].end) {
            int64_t v = 0;
            sj_get_int(d, e, &v);
            for (int byte = 0; byte < 8; byte++)
                h = ig_fnv1a64_step(h, ((uint64_t)v >> (8 * byte)) & 0xFF);
        }
    }
    unsigned dim = sim_cfg.embedding_dim;
    double norm = 0;
    for (unsigned j = 0; j < dim; j++) {
        double x = (double)(sim_rand_next(&h) >> 11) * 0x1.0p-53 * 2.0 - 1.0;
        vec[j] = (float)x;
        norm += x * x;
    }
    norm = norm > 0 ? sqrt(norm) : 1;
    for (unsigned j = 0; j < dim; j++)
        vec[j] = (float)(vec[j] / norm);
    if (base64) {
        unsigned char *bytes = h2o_mem_alloc_pool(&req->pool, (size_t)dim * 4);
        for (unsigned j = 0; j < dim; j++) { /* little-endian float32, as numpy's tobytes() */
            uint32_t u;
            memcpy(&u, &vec[j], 4);
            for (int k = 0; k < 4; k++)
                bytes[j * 4 + k] = (unsigned char)(u >> (8 * k));
        }
        ig_buf_putc(b, '"');
        base64_put(b, bytes, (size_t)dim * 4);
        ig_buf_putc(b, '"');
    } else {
        ig_buf_putc(b, '[');
        for (unsigned j = 0; j < dim; j++) {
            if (j > 0)
                ig_buf_putc(b, ',');
            sim_buf_put_double(b, vec[j]);
        }
        ig_buf_putc(b, ']');
    }
}

/* One item of "input": checks its length, then writes {"index","object","embedding"}. */
static int embed_item(void *vctx, const sj_doc_t *d, uint32_t node, uint64_t tokens)
{
    embed_ctx_t *c = vctx;
    char m[256];
    if (tokens > sim_cfg.max_model_len) {
        snprintf(m, sizeof(m),
                 "This model's maximum context length is %u tokens. However, you requested %" PRIu64
                 " tokens in the input for embedding generation. Please reduce the length of the input.",
                 sim_cfg.max_model_len, tokens);
        bad_request(c->req, m);
        return -1;
    }
    ig_buf_t *b = c->b;
    if (c->index > 0)
        ig_buf_putc(b, ',');
    ig_buf_lit(b, "{\"index\":");
    ig_buf_put_u64(b, c->index++);
    ig_buf_lit(b, ",\"object\":\"embedding\",\"embedding\":");
    sim_openai_put_embedding(b, c->req, d, node, c->r->base64, c->vec);
    ig_buf_putc(b, '}');
    return 0;
}

static void handle_embeddings(h2o_req_t *req, const sj_doc_t *d, sim_request_t *r)
{
    sim_worker_t *w = sim_worker_of(req);
    int64_t fmt = opt_field(d, 0, "encoding_format");
    if (fmt >= 0) {
        if (sj_str_eq(d, (uint32_t)fmt, "base64")) {
            r->base64 = 1;
        } else if (!sj_str_eq(d, (uint32_t)fmt, "float")) {
            validation_error(req, "literal_error", "'encoding_format'", "Input should be 'float' or 'base64'");
            return;
        }
    }
    /* validate everything (and count tokens) before the model check, like pydantic would */
    uint64_t tokens;
    if (walk_text_input(req, d, "input", &tokens, NULL, NULL) != 0)
        return;
    if (!sim_config_model_known(r->model, r->model_len)) {
        char m[300];
        snprintf(m, sizeof(m), "The model `%.*s` does not exist.", (int)(r->model_len > 200 ? 200 : r->model_len), r->model);
        sim_http_send_vllm_error(req, 404, "NotFoundError", m);
        return;
    }
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"id\":\"");
    put_id(b, w, "embd-");
    ig_buf_lit(b, "\",\"object\":\"list\",\"created\":");
    ig_buf_put_u64(b, (uint64_t)time(NULL));
    ig_buf_lit(b, ",\"model\":");
    ig_json_write_str(b, r->model, r->model_len);
    ig_buf_lit(b, ",\"data\":[");
    embed_ctx_t ctx = {req, b, r, 0, h2o_mem_alloc_pool(&req->pool, sizeof(float) * sim_cfg.embedding_dim)};
    if (walk_text_input(req, d, "input", &tokens, embed_item, &ctx) != 0)
        return; /* embed_item already answered */
    ig_buf_lit(b, "],\"usage\":");
    sim_openai_put_usage(b, tokens, 0, 1, -1);
    ig_buf_putc(b, '}');
    SIM_STAT_ADD(prompt_tokens, tokens);
    sim_http_send_buf(req, 200, b);
}

/* A completion prompt item into the prefix hasher: its words, or its token ids. */
static int prefix_item(void *ctx, const sj_doc_t *d, uint32_t node, uint64_t tokens)
{
    (void)tokens;
    sim_prefix_hasher_t *h = ctx;
    if (sj_type(d, node) == SJ_STRING) {
        sj_str_words(d, node, prefix_word, h);
        return 0;
    }
    for (uint32_t e = node + 1, k = 0; k < d->nodes[node].count; k++, e = d->nodes[e].end) {
        int64_t v = 0;
        sj_get_int(d, e, &v);
        sim_prefix_token(h, (uint64_t)v * UINT64_C(0x9e3779b97f4a7c15) + UINT64_C(0x632be59bd9b4e019));
    }
    return 0;
}

/* Time to first token: --ttft-ms for a prompt computed from scratch, scaled down by the share of
 * its tokens found in the prefix cache (prefill work is proportional to the uncached tokens). */
static unsigned ttft_for(const sim_request_t *r)
{
    if (r->cached_tokens <= 0 || r->prompt_tokens == 0)
        return sim_cfg.ttft_ms;
    uint64_t uncached = r->prompt_tokens - (uint64_t)r->cached_tokens;
    return (unsigned)(((uint64_t)sim_cfg.ttft_ms * uncached + r->prompt_tokens / 2) / r->prompt_tokens);
}

/* ---- entry point ----------------------------------------------------------------------------- */

sim_cut_t sim_openai_cut_of(sim_fault_mode_t fault)
{
    switch (fault) {
    case SIM_FAULT_DIE_MID_STREAM: return SIM_CUT_DIE;
    case SIM_FAULT_ERROR_MID_STREAM: return SIM_CUT_ERROR;
    case SIM_FAULT_STALL_MID_STREAM: return SIM_CUT_STALL;
    default: return SIM_CUT_NONE;
    }
}

static void send_vllm_500(h2o_req_t *req)
{
    sim_http_send_vllm_error(req, 500, "InternalServerError", "ig-sim: injected fault (500)");
}

int sim_openai_admit(h2o_req_t *req, void (*send_500)(h2o_req_t *req), sim_fault_mode_t *fault_out)
{
    SIM_STAT_ADD(requests, 1);
    sim_http_track_active(req);
    sim_fault_mode_t fault = sim_fault_draw_request();
    *fault_out = fault;
    switch (fault) {
    case SIM_FAULT_500:
        (send_500 != NULL ? send_500 : send_vllm_500)(req);
        return -1;
    case SIM_FAULT_HANG:
        sim_http_hang(req);
        return -1;
    case SIM_FAULT_CLOSE:
    case SIM_FAULT_REFUSE:
        sim_http_abort(req, 0);
        return -1;
    default:
        return 0;
    }
}

void sim_openai_handle(h2o_req_t *req, sim_api_t api)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, NULL, &fault) != 0)
        return;

    sj_doc_t *d = &w->json;
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0) {
        json_invalid(req, d);
        return;
    }
    if (sj_type(d, 0) != SJ_OBJECT) {
        validation_error(req, "model_attributes_type", "", "Input should be a valid dictionary or object to extract fields from");
        return;
    }
    sim_request_t r = {.api = api, .cached_tokens = -1};
    if (parse_model(req, d, &r) != 0)
        return;
    if (api == SIM_API_EMBEDDING) {
        handle_embeddings(req, d, &r);
        return;
    }
    sim_prefix_hasher_t hasher;
    if (sim_prefix_enabled()) {
        sim_prefix_begin(&hasher, r.model, r.model_len, w->prefix_blocks, w->prefix_cap);
        r.prefix = &hasher;
    }
    int parsed = api == SIM_API_CHAT ? parse_messages(req, d, &r)
                                     : walk_text_input(req, d, "prompt", &r.prompt_tokens,
                                                       r.prefix ? prefix_item : NULL, r.prefix);
    if (r.prefix != NULL) { /* keep the (possibly grown) block array for the next request */
        w->prefix_blocks = hasher.blocks;
        w->prefix_cap = hasher.cap;
    }
    if (parsed != 0)
        return;
    if (parse_max_tokens(req, d, &r) != 0 || parse_stream(req, d, &r) != 0)
        return;
    if (!sim_config_model_known(r.model, r.model_len)) {
        char m[300];
        snprintf(m, sizeof(m), "The model `%.*s` does not exist.", (int)(r.model_len > 200 ? 200 : r.model_len), r.model);
        sim_http_send_vllm_error(req, 404, "NotFoundError", m);
        return;
    }
    uint32_t tokens;
    int finish_length;
    if (resolve_completion_tokens(req, &r, &tokens, &finish_length) != 0)
        return;
    SIM_STAT_ADD(prompt_tokens, r.prompt_tokens);
    if (parse_test_extensions(req, d, &r) != 0)
        return;
    sim_usage_add(r.user, r.user_len, 1, r.prompt_tokens, 0);
    if (r.prefix != NULL)
        r.cached_tokens = (int64_t)sim_prefix_lookup(r.prefix, r.prompt_tokens);
    if (r.cut == SIM_CUT_NONE)
        r.cut = sim_openai_cut_of(fault);

    if (!r.stream) {
        respond_plain(req, &r, tokens, finish_length);
        return;
    }
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    put_id(b, w, api == SIM_API_CHAT ? "chatcmpl-" : "cmpl-");
    sim_stream_params_t p = {
        .chat = api == SIM_API_CHAT,
        .id = b->p,
        .id_len = b->len,
        .model = r.model,
        .model_len = r.model_len,
        .created = (uint64_t)time(NULL),
        .prompt_tokens = r.prompt_tokens,
        .completion_tokens = tokens,
        .finish_length = finish_length,
        .include_usage = r.include_usage,
        .cut = r.cut,
        .ttft_ms = ttft_for(&r),
        .cached_tokens = r.cached_tokens,
        .continuous_usage = r.continuous_usage,
        .user = r.user,
        .user_len = r.user_len,
        .drip_after = (uint32_t)r.drip_after,
        .drip_ms = (unsigned)r.drip_ms,
    };
    sim_stream_start(req, &p);
}
