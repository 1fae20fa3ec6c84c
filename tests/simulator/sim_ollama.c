#include "sim_ollama.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include "util/hash.h"
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "sim_config.h"
#include "sim_control.h"
#include "sim_http.h"
#include "sim_json.h"
#include "sim_openai.h"
#include "sim_server.h"
#include "sim_stats.h"
#include "sim_ollama_tag.h"

#define SIM_OLLAMA_VERSION "0.6.5"
#define SIM_CT_NDJSON "application/x-ndjson"
#define SIM_CT_TEXT "text/plain; charset=utf-8"

typedef enum { OL_CHAT, OL_GENERATE, OL_V1_CHAT, OL_V1_COMPLETION } ol_kind_t;

/* What a generation request asked for. */
typedef struct {
    ol_kind_t kind;
    char *model; /* decoded, in the request pool */
    size_t model_len;
    uint64_t prompt_tokens;
    uint32_t tokens;   /* completion length */
    int finish_length; /* done_reason "length" (else "stop") */
    int stream;
    int include_usage; /* OpenAI layer: stream_options.include_usage */
    uint64_t reported_prompt; /* prompt_eval_count as answered: prompt_tokens, less the cached share
                                 with --cached-prompt-uncounted */
} ol_request_t;

static int is_v1(ol_kind_t k) { return k == OL_V1_CHAT || k == OL_V1_COMPLETION; }

/* ---- errors: the native API's {"error":"..."} and the OpenAI layer's {"error":{...}} ----------------- */

static void native_error(h2o_req_t *req, int status, const char *msg)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"error\":");
    ig_json_write_str(b, msg, strlen(msg));
    ig_buf_putc(b, '}');
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}

/* Ollama's openai.NewError: 400 invalid_request_error, 404 not_found_error, else api_error. Errors the
 * native handler wrote (a model not found) are re-wrapped as api_error with the native status. */
static void v1_error(h2o_req_t *req, int status, const char *type, const char *msg)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"error\":{\"message\":");
    ig_json_write_str(b, msg, strlen(msg));
    ig_buf_lit(b, ",\"type\":");
    ig_json_write_str(b, type, strlen(type));
    ig_buf_lit(b, ",\"param\":null,\"code\":null}}");
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}

static void error_for(h2o_req_t *req, ol_kind_t kind, int status, const char *msg)
{
    if (is_v1(kind))
        v1_error(req, status, status == 400 ? "invalid_request_error" : "api_error", msg);
    else
        native_error(req, status, msg);
}

static void native_500(h2o_req_t *req) { native_error(req, 500, "ig-sim: injected fault (500)"); }
static void v1_500(h2o_req_t *req) { v1_error(req, 500, "api_error", "ig-sim: injected fault (500)"); }

/* ---- tags -------------------------------------------------------------------------------------------- */

/* DELETE /api/delete removes a served tag, POST /api/pull brings it back: one flag per served name
 * (the first SIM_OLLAMA_MAX_TAGS), shared by every worker. */
#define SIM_OLLAMA_MAX_TAGS 64
static atomic_int deleted[SIM_OLLAMA_MAX_TAGS];

static int is_deleted(size_t i) { return i < SIM_OLLAMA_MAX_TAGS && atomic_load(&deleted[i]); }

/* Index of the served name that is this tag, or -1. */
static int served_index(const char *name, size_t len)
{
    for (size_t i = 0; i < sim_cfg.n_models; i++)
        if (sim_ollama_tag_eq(sim_cfg.models[i], strlen(sim_cfg.models[i]), name, len))
            return (int)i;
    return -1;
}

/* Pulled: one of --served-model-name not deleted since (any name when none is given). */
static int tag_pulled(const char *name, size_t len)
{
    if (sim_cfg.n_models == 0)
        return len > 0;
    int i = served_index(name, len);
    return i >= 0 && !is_deleted((size_t)i);
}

/* A served name as Ollama lists it: with its version. */
static void put_full_tag(ig_buf_t *b, const char *name)
{
    size_t n = strlen(name), nl, vl;
    const char *v;
    sim_ollama_split_tag(name, n, &nl, &v, &vl);
    char full[512];
    int k = snprintf(full, sizeof(full), "%.*s:%.*s", (int)nl, name, (int)vl, v);
    ig_json_write_str(b, full, k < 0 ? 0 : (size_t)k >= sizeof(full) ? sizeof(full) - 1 : (size_t)k);
}

static void put_rfc3339(ig_buf_t *b, time_t t)
{
    char s[40];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(s, sizeof(s), "\"%Y-%m-%dT%H:%M:%S.000000000Z\"", &tm);
    ig_buf_puts(b, s);
}

/* Ollama's model card in /api/tags and /api/ps. */
static void put_model_card(ig_buf_t *b, const char *name, int ps)
{
    uint64_t h = ig_fnv1a64(SIM_HASH_SEED, name, strlen(name));
    ig_buf_lit(b, "{\"name\":");
    put_full_tag(b, name);
    ig_buf_lit(b, ",\"model\":");
    put_full_tag(b, name);
    if (!ps) {
        ig_buf_lit(b, ",\"modified_at\":");
        put_rfc3339(b, 1735689600);
    }
    ig_buf_lit(b, ",\"size\":1321098329,\"digest\":\"");
    for (int i = 0; i < 4; i++) {
        char hex[17];
        snprintf(hex, sizeof(hex), "%016" PRIx64, sim_rand_next(&h));
        ig_buf_put(b, hex, 16);
    }
    ig_buf_lit(b, "\",\"details\":{\"parent_model\":\"\",\"format\":\"gguf\",\"family\":\"llama\",\"families\":[\"llama\"],"
                  "\"parameter_size\":\"1.2B\",\"quantization_level\":\"Q8_0\"}");
    if (ps) {
        ig_buf_lit(b, ",\"expires_at\":");
        put_rfc3339(b, time(NULL) + 300);
        ig_buf_lit(b, ",\"size_vram\":1321098329");
    }
    ig_buf_putc(b, '}');
}

static const char *const *listed_models(size_t *n)
{
    static const char *const fallback[] = {SIM_DEFAULT_MODEL};
    if (sim_cfg.n_models == 0) {
        *n = 1;
        return fallback;
    }
    *n = sim_cfg.n_models;
    return (const char *const *)sim_cfg.models;
}

static void handle_tags(h2o_req_t *req, int ps)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    size_t n;
    const char *const *models = listed_models(&n);
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"models\":[");
    for (size_t i = 0, k = 0; i < n; i++) {
        if (sim_cfg.n_models > 0 && is_deleted(i))
            continue;
        if (k++ > 0)
            ig_buf_putc(b, ',');
        put_model_card(b, models[i], ps);
    }
    ig_buf_lit(b, "]}");
    sim_http_send_buf(req, 200, b);
}

static void handle_api_tags(h2o_req_t *req) { handle_tags(req, 0); }
static void handle_api_ps(h2o_req_t *req) { handle_tags(req, 1); }

static void handle_root(h2o_req_t *req)
{
    static const char body[] = "Ollama is running";
    sim_http_send(req, 200, SIM_CT_TEXT, body, sizeof(body) - 1);
}

static void handle_version(h2o_req_t *req)
{
    static const char body[] = "{\"version\":\"" SIM_OLLAMA_VERSION "\"}";
    sim_http_send(req, 200, SIM_CT_JSON, body, sizeof(body) - 1);
}

/* /api/pull with "stream":false: the model is "pulled" at once (the scheduler's warmup of an Ollama replica).
 * Counted in /sim/stats as nothing; the body is not checked beyond being a request. */
static void undelete_from_body(h2o_req_t *req);

static void handle_api_pull(h2o_req_t *req)
{
    undelete_from_body(req); /* a tag removed by /api/delete is pulled again */
    static const char body[] = "{\"status\":\"success\"}";
    sim_http_send(req, 200, SIM_CT_JSON, body, sizeof(body) - 1);
}

/* /v1/models: {"object":"list","data":[{"id","object":"model","created","owned_by":"library"}]} */
static void handle_v1_models(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    size_t n;
    const char *const *models = listed_models(&n);
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"id\":");
        put_full_tag(b, models[i]);
        ig_buf_lit(b, ",\"object\":\"model\",\"created\":1735689600,\"owned_by\":\"library\"}");
    }
    ig_buf_lit(b, "]}");
    sim_http_send_buf(req, 200, b);
}

/* ---- request parsing ---------------------------------------------------------------------------------- */

static char *decode(h2o_req_t *req, const sj_doc_t *d, uint32_t i, size_t *len)
{
    char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[i].len + 1);
    *len = sj_str_decode(d, i, s);
    s[*len] = '\0';
    return s;
}

static int64_t field(const sj_doc_t *d, uint32_t obj, const char *key)
{
    int64_t i = sj_obj_get(d, obj, key);
    return i >= 0 && sj_type(d, (uint32_t)i) == SJ_NULL ? -1 : i;
}

/* Go's encoding/json wording for a field of the wrong type. */
static void type_error(h2o_req_t *req, ol_kind_t kind, const char *go_type, const char *field_name, const char *want)
{
    char m[256];
    snprintf(m, sizeof(m), "json: cannot unmarshal %s into Go struct field %s of type %s", go_type, field_name, want);
    error_for(req, kind, 400, m);
}

/* Parses the body; 0, or -1 after answering. */
static int parse_body(h2o_req_t *req, ol_kind_t kind, sj_doc_t *d)
{
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0) {
        error_for(req, kind, 400, req->entity.len == 0 ? "EOF" : "invalid character in request body");
        return -1;
    }
    if (sj_type(d, 0) != SJ_OBJECT) {
        error_for(req, kind, 400, "json: cannot unmarshal value into Go value of type request");
        return -1;
    }
    return 0;
}

/* The model, which must be pulled. 0, or -1 after answering Ollama's 400/404. */
static int parse_model(h2o_req_t *req, ol_kind_t kind, const sj_doc_t *d, char **model, size_t *len)
{
    int64_t m = field(d, 0, "model");
    if (m >= 0 && sj_type(d, (uint32_t)m) != SJ_STRING) {
        type_error(req, kind, "number", "model", "string");
        return -1;
    }
    *model = m >= 0 ? decode(req, d, (uint32_t)m, len) : "";
    if (m < 0 || *len == 0) {
        *len = 0;
        error_for(req, kind, 400, "model is required");
        return -1;
    }
    if (!tag_pulled(*model, *len)) {
        char msg[400];
        snprintf(msg, sizeof(msg), "model \"%.*s\" not found, try pulling it first", (int)(*len > 300 ? 300 : *len), *model);
        error_for(req, kind, 404, msg);
        return -1;
    }
    return 0;
}

/* Words of a string, or of the text parts of a content array (images count nothing here); cb (if not
 * NULL) gets each word's hash. */
static uint64_t content_words(const sj_doc_t *d, int64_t c, sj_word_cb cb, void *ctx)
{
    if (c < 0)
        return 0;
    if (sj_type(d, (uint32_t)c) == SJ_STRING)
        return sj_str_words(d, (uint32_t)c, cb, ctx);
    uint64_t n = 0;
    if (sj_type(d, (uint32_t)c) == SJ_ARRAY)
        for (uint32_t p = (uint32_t)c + 1, k = 0; k < d->nodes[c].count; k++, p = d->nodes[p].end)
            if (sj_type(d, p) == SJ_OBJECT) {
                int64_t t = sj_obj_get(d, p, "text");
                if (t >= 0 && sj_type(d, (uint32_t)t) == SJ_STRING)
                    n += sj_str_words(d, (uint32_t)t, cb, ctx);
            }
    return n;
}

/* Prompt tokens as the simulator counts them: words, plus 4 per chat message for the template. */
static int count_prompt(h2o_req_t *req, ol_request_t *r, const sj_doc_t *d)
{
    if (r->kind == OL_CHAT || r->kind == OL_V1_CHAT) {
        int64_t msgs = field(d, 0, "messages");
        if (msgs < 0 || sj_type(d, (uint32_t)msgs) != SJ_ARRAY) {
            if (msgs >= 0) {
                type_error(req, r->kind, "object", "messages", "[]api.Message");
                return -1;
            }
            if (r->kind == OL_V1_CHAT) { /* the OpenAI layer needs messages; /api/chat loads the model */
                error_for(req, r->kind, 400, "[] is too short - 'messages'");
                return -1;
            }
            return 0;
        }
        for (uint32_t m = (uint32_t)msgs + 1, k = 0; k < d->nodes[msgs].count; k++, m = d->nodes[m].end)
            if (sj_type(d, m) == SJ_OBJECT)
                r->prompt_tokens += 4 + content_words(d, field(d, m, "content"), NULL, NULL);
        return 0;
    }
    int64_t p = field(d, 0, "prompt");
    if (p >= 0 && sj_type(d, (uint32_t)p) != SJ_STRING) {
        type_error(req, r->kind, "array", "prompt", "string"); /* Ollama takes one string prompt */
        return -1;
    }
    r->prompt_tokens = p >= 0 ? sj_str_count_words(d, (uint32_t)p) : 0;
    return 0;
}

/* ---- old Ollama's uncounted cached prompt (--cached-prompt-uncounted) ---------------------------------
 * The runner keeps the previous request's KV cache: the tokens a prompt shares with the previous one,
 * from its start, are not evaluated again, and Ollama before ollama/ollama#5371 (mid 2024) reported
 * only the evaluated ones: prompt_eval_count omitted when that is none, usage.prompt_tokens 0. */

typedef struct {
    uint64_t *h;
    size_t n, cap;
} ol_tokens_t;

static pthread_mutex_t kv_lock = PTHREAD_MUTEX_INITIALIZER;
static ol_tokens_t kv_prompt; /* the previous prompt's tokens (one runner, one slot) */

static void push_token(void *ctx, uint64_t h)
{
    ol_tokens_t *t = ctx;
    if (t->n < t->cap)
        t->h[t->n++] = h;
}

/* The prompt as token hashes (4 template tokens per chat message, then its words), the model first. */
static void prompt_token_hashes(const ol_request_t *r, const sj_doc_t *d, ol_tokens_t *t)
{
    push_token(t, ig_fnv1a64(SIM_HASH_SEED, r->model, r->model_len)); /* another model has its own cache */
    if (r->kind == OL_CHAT || r->kind == OL_V1_CHAT) {
        int64_t msgs = field(d, 0, "messages");
        if (msgs < 0)
            return;
        for (uint32_t m = (uint32_t)msgs + 1, k = 0; k < d->nodes[msgs].count; k++, m = d->nodes[m].end) {
            if (sj_type(d, m) != SJ_OBJECT)
                continue;
            int64_t role = field(d, m, "role");
            uint64_t rh = role >= 0 ? ig_fnv1a64(SIM_HASH_SEED, d->src + d->nodes[role].start, d->nodes[role].len) : 0;
            for (uint64_t j = 1; j <= 4; j++)
                push_token(t, (rh << 8 | j) * UINT64_C(0x9E3779B97F4A7C15));
            content_words(d, field(d, m, "content"), push_token, t);
        }
        return;
    }
    int64_t p = field(d, 0, "prompt");
    if (p >= 0)
        sj_str_words(d, (uint32_t)p, push_token, t);
}

/* prompt_eval_count as this Ollama answers it (counts the cache lookup in the prefix-cache stats). */
static uint64_t reported_prompt_tokens(h2o_req_t *req, const ol_request_t *r, const sj_doc_t *d)
{
    if (!sim_cfg.cached_prompt_uncounted)
        return r->prompt_tokens;
    ol_tokens_t t = {h2o_mem_alloc_pool(&req->pool, sizeof(uint64_t) * (r->prompt_tokens + 1)), 0, r->prompt_tokens + 1};
    prompt_token_hashes(r, d, &t);
    uint64_t *copy = malloc(sizeof(uint64_t) * t.n);
    if (copy == NULL)
        return r->prompt_tokens;
    memcpy(copy, t.h, sizeof(uint64_t) * t.n);
    pthread_mutex_lock(&kv_lock);
    size_t same = 0;
    while (same < t.n && same < kv_prompt.n && t.h[same] == kv_prompt.h[same])
        same++;
    free(kv_prompt.h);
    kv_prompt = (ol_tokens_t){copy, t.n, t.n};
    pthread_mutex_unlock(&kv_lock);
    uint64_t cached = same > 1 ? same - 1 : 0; /* the model's entry is no token */
    SIM_STAT_ADD(prefix_cache_queries, r->prompt_tokens);
    SIM_STAT_ADD(prefix_cache_hits, cached);
    return r->prompt_tokens - cached;
}

/* max_tokens (OpenAI layer) or options.num_predict (native); default --default-tokens, "stop". */
static int completion_length(h2o_req_t *req, ol_request_t *r, const sj_doc_t *d)
{
    int64_t n = -1, v;
    int64_t mt = is_v1(r->kind) ? field(d, 0, "max_tokens") : -1;
    if (!is_v1(r->kind)) {
        int64_t opts = field(d, 0, "options");
        if (opts >= 0 && sj_type(d, (uint32_t)opts) == SJ_OBJECT)
            mt = field(d, (uint32_t)opts, "num_predict");
    }
    if (mt >= 0) {
        if (sj_get_int(d, (uint32_t)mt, &v) != 0) {
            type_error(req, r->kind, "string", is_v1(r->kind) ? "max_tokens" : "num_predict", "int");
            return -1;
        }
        n = v;
    }
    if (n > 0) { /* Ollama: num_predict <= 0 means no limit */
        r->tokens = n > (int64_t)(1u << 24) ? 1u << 24 : (uint32_t)n;
        r->finish_length = 1;
    } else {
        r->tokens = sim_cfg.default_tokens;
        r->finish_length = 0;
    }
    return 0;
}

static int parse_stream(h2o_req_t *req, ol_request_t *r, const sj_doc_t *d)
{
    int64_t s = field(d, 0, "stream");
    r->stream = !is_v1(r->kind); /* native streams unless told not to; the OpenAI layer does not */
    if (s >= 0) {
        if (sj_type(d, (uint32_t)s) != SJ_TRUE && sj_type(d, (uint32_t)s) != SJ_FALSE) {
            type_error(req, r->kind, "string", "stream", "bool");
            return -1;
        }
        r->stream = sj_type(d, (uint32_t)s) == SJ_TRUE;
    }
    int64_t so = is_v1(r->kind) ? field(d, 0, "stream_options") : -1;
    if (so >= 0 && sj_type(d, (uint32_t)so) == SJ_OBJECT) {
        int64_t iu = field(d, (uint32_t)so, "include_usage");
        /* Ollama before 0.5.2 did not know stream_options (Go's decoder drops unknown fields) */
        r->include_usage = iu >= 0 && sj_type(d, (uint32_t)iu) == SJ_TRUE && !sim_cfg.ignore_stream_options;
    }
    return 0;
}

/* ---- answers ---------------------------------------------------------------------------------------- */

static void put_id(ig_buf_t *b, sim_worker_t *w, const char *prefix)
{
    /* Ollama's ids: "chatcmpl-" or "cmpl-" and rand.Intn(999) */
    ig_buf_puts(b, prefix);
    ig_buf_put_u64(b, sim_rand_next(&w->rng) % 999);
}

static void put_text(ig_buf_t *b, uint32_t from, uint32_t to)
{
    ig_buf_putc(b, '"');
    for (uint32_t k = from; k <= to; k++)
        sim_openai_put_token(b, k);
    ig_buf_putc(b, '"');
}

static void put_v1_usage(ig_buf_t *b, uint64_t p, uint64_t c)
{
    ig_buf_lit(b, "{\"prompt_tokens\":");
    ig_buf_put_u64(b, p);
    ig_buf_lit(b, ",\"completion_tokens\":");
    ig_buf_put_u64(b, c);
    ig_buf_lit(b, ",\"total_tokens\":");
    ig_buf_put_u64(b, p + c);
    ig_buf_putc(b, '}');
}

/* The native answer's metrics (durations in ns, made up but plausible). */
static void put_native_done(ig_buf_t *b, const ol_request_t *r)
{
    ig_buf_puts(b, r->finish_length ? ",\"done_reason\":\"length\"" : ",\"done_reason\":\"stop\"");
    ig_buf_lit(b, ",\"done\":true,\"total_duration\":");
    ig_buf_put_u64(b, 1000000 + (uint64_t)r->tokens * 20000000);
    ig_buf_lit(b, ",\"load_duration\":1000000");
    if (r->reported_prompt > 0) { /* both omitempty in Ollama's Metrics */
        ig_buf_lit(b, ",\"prompt_eval_count\":");
        ig_buf_put_u64(b, r->reported_prompt);
        ig_buf_lit(b, ",\"prompt_eval_duration\":1000000");
    }
    ig_buf_lit(b, ",\"eval_count\":");
    ig_buf_put_u64(b, r->tokens);
    ig_buf_lit(b, ",\"eval_duration\":");
    ig_buf_put_u64(b, (uint64_t)r->tokens * 20000000);
}

static void native_head(ig_buf_t *b, const ol_request_t *r)
{
    ig_buf_lit(b, "{\"model\":");
    ig_json_write_str(b, r->model, r->model_len);
    ig_buf_lit(b, ",\"created_at\":");
    put_rfc3339(b, time(NULL));
}

/* One whole answer (stream: false). */
static void respond_plain(h2o_req_t *req, const ol_request_t *r, sim_cut_t cut)
{
    if (cut == SIM_CUT_ERROR) {
        error_for(req, r->kind, 500, "ig-sim: injected fault (error-mid-stream)");
        return;
    }
    if (cut == SIM_CUT_STALL) {
        sim_http_hang(req);
        return;
    }
    sim_worker_t *w = sim_worker_of(req);
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    if (r->kind == OL_CHAT || r->kind == OL_GENERATE) {
        native_head(b, r);
        if (r->kind == OL_CHAT) {
            ig_buf_lit(b, ",\"message\":{\"role\":\"assistant\",\"content\":");
            put_text(b, 1, r->tokens);
            ig_buf_putc(b, '}');
        } else {
            ig_buf_lit(b, ",\"response\":");
            put_text(b, 1, r->tokens);
        }
        put_native_done(b, r);
        ig_buf_putc(b, '}');
    } else {
        int chat = r->kind == OL_V1_CHAT;
        ig_buf_lit(b, "{\"id\":\"");
        put_id(b, w, chat ? "chatcmpl-" : "cmpl-");
        ig_buf_puts(b, chat ? "\",\"object\":\"chat.completion\",\"created\":" : "\",\"object\":\"text_completion\",\"created\":");
        ig_buf_put_u64(b, (uint64_t)time(NULL));
        ig_buf_lit(b, ",\"model\":");
        ig_json_write_str(b, r->model, r->model_len);
        ig_buf_lit(b, ",\"system_fingerprint\":\"fp_ollama\",\"choices\":[{");
        if (chat) {
            ig_buf_lit(b, "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":");
            put_text(b, 1, r->tokens);
            ig_buf_lit(b, "},\"finish_reason\":");
        } else {
            ig_buf_lit(b, "\"text\":");
            put_text(b, 1, r->tokens);
            ig_buf_lit(b, ",\"index\":0,\"finish_reason\":");
        }
        ig_buf_puts(b, r->finish_length ? "\"length\"}]" : "\"stop\"}]");
        ig_buf_lit(b, ",\"usage\":");
        put_v1_usage(b, r->reported_prompt, r->tokens);
        ig_buf_putc(b, '}');
    }
    if (cut == SIM_CUT_DIE) {
        SIM_STAT_ADD(completion_tokens, r->tokens / 2);
        sim_openai_send_half_then_die(req, b);
        return;
    }
    SIM_STAT_ADD(completion_tokens, r->tokens);
    sim_http_send_buf(req, 200, b);
}

/* ---- streams: NDJSON (native) and SSE (OpenAI layer), paced by sim_pump ------------------------------ */

typedef struct ol_stream {
    sim_pump_t pump; /* first: the pump frees the stream */
    ol_request_t r;
    char id[32];
    uint64_t created;
    char model[];    /* r.model points here */
} ol_stream_t;

static void sse_head(ol_stream_t *s)
{
    ig_buf_t *b = &s->pump.out;
    ig_buf_lit(b, "data: {\"id\":\"");
    ig_buf_puts(b, s->id);
    ig_buf_puts(b, s->r.kind == OL_V1_CHAT ? "\",\"object\":\"chat.completion.chunk\",\"created\":"
                                           : "\",\"object\":\"text_completion\",\"created\":");
    ig_buf_put_u64(b, s->created);
    if (s->r.kind == OL_V1_CHAT) {
        ig_buf_lit(b, ",\"model\":");
        ig_json_write_str(b, s->r.model, s->r.model_len);
        ig_buf_lit(b, ",\"system_fingerprint\":\"fp_ollama\",\"choices\":[");
    } else {
        ig_buf_lit(b, ",\"choices\":[");
    }
}

/* completion chunks name the model after the choices (Ollama's CompletionChunk field order) */
static void sse_tail(ol_stream_t *s, int usage)
{
    ig_buf_t *b = &s->pump.out;
    ig_buf_putc(b, ']');
    if (s->r.kind == OL_V1_COMPLETION) {
        ig_buf_lit(b, ",\"model\":");
        ig_json_write_str(b, s->r.model, s->r.model_len);
        ig_buf_lit(b, ",\"system_fingerprint\":\"fp_ollama\"");
    }
    if (usage) {
        ig_buf_lit(b, ",\"usage\":");
        put_v1_usage(b, s->r.reported_prompt, s->r.tokens);
    }
    ig_buf_lit(b, "}\n\n");
}

/* Event k (1..tokens) carries token k; event tokens+1 is Ollama's last one: empty text, the reason. */
static void put_event(ol_stream_t *s, uint32_t k)
{
    ig_buf_t *b = &s->pump.out;
    int last = k > s->r.tokens;
    const char *reason = s->r.finish_length ? "\"length\"" : "\"stop\"";
    switch (s->r.kind) {
    case OL_CHAT:
    case OL_GENERATE:
        native_head(b, &s->r);
        ig_buf_puts(b, s->r.kind == OL_CHAT ? ",\"message\":{\"role\":\"assistant\",\"content\":" : ",\"response\":");
        if (last)
            ig_buf_lit(b, "\"\"");
        else
            put_text(b, k, k);
        if (s->r.kind == OL_CHAT)
            ig_buf_putc(b, '}');
        if (last)
            put_native_done(b, &s->r);
        else
            ig_buf_lit(b, ",\"done\":false");
        ig_buf_lit(b, "}\n");
        return;
    case OL_V1_CHAT:
        sse_head(s);
        ig_buf_lit(b, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":");
        if (last)
            ig_buf_lit(b, "\"\"");
        else
            put_text(b, k, k);
        ig_buf_lit(b, "},\"finish_reason\":");
        ig_buf_puts(b, last ? reason : "null");
        ig_buf_putc(b, '}');
        sse_tail(s, 0);
        return;
    case OL_V1_COMPLETION:
        sse_head(s);
        ig_buf_lit(b, "{\"text\":");
        if (last)
            ig_buf_lit(b, "\"\"");
        else
            put_text(b, k, k);
        ig_buf_lit(b, ",\"index\":0,\"finish_reason\":");
        ig_buf_puts(b, last ? reason : "null");
        ig_buf_putc(b, '}');
        sse_tail(s, 0);
        return;
    }
}

/* Ollama streams one token per event */
static void put_tokens(sim_pump_t *p, uint32_t first, uint32_t last)
{
    for (uint32_t k = first; k <= last; k++)
        put_event((ol_stream_t *)p, k);
}

/* right after the last token: the done event (with the metrics), then for the OpenAI layer the usage
 * chunk (only with stream_options.include_usage, from Ollama 0.5.2 on) and [DONE] */
static void put_end(sim_pump_t *p)
{
    ol_stream_t *s = (ol_stream_t *)p;
    put_event(s, s->r.tokens + 1);
    if (!is_v1(s->r.kind))
        return;
    if (s->r.include_usage) { /* Ollama's usage chunk: no choices */
        sse_head(s);
        sse_tail(s, 1);
    }
    ig_buf_lit(&p->out, "data: [DONE]\n\n");
}

/* no error event: Ollama's OpenAI layer has none mid-stream, so error-mid-stream cuts the stream */
static const sim_pump_ops_t ol_ops = {NULL, put_tokens, put_end, NULL};

static void stream_start(h2o_req_t *req, const ol_request_t *r, sim_cut_t cut)
{
    sim_worker_t *w = sim_worker_of(req);
    ol_stream_t *s = calloc(1, sizeof(*s) + r->model_len + 1);
    if (s == NULL) {
        error_for(req, r->kind, 500, "out of memory");
        return;
    }
    s->r = *r;
    memcpy(s->model, r->model, r->model_len);
    s->r.model = s->model;
    ig_buf_t idb = {0};
    put_id(&idb, w, r->kind == OL_V1_CHAT ? "chatcmpl-" : "cmpl-");
    snprintf(s->id, sizeof(s->id), "%.*s", (int)idb.len, idb.p);
    ig_buf_free(&idb);
    s->created = (uint64_t)time(NULL);
    sim_pump_params_t pp = {
        .content_type = is_v1(r->kind) ? "text/event-stream" : SIM_CT_NDJSON,
        .tokens = r->tokens,
        .ttft_ms = sim_cfg.ttft_ms,
        .cut = cut,
        .per_chunk = 1,
    };
    sim_pump_start(&s->pump, req, &ol_ops, &pp);
}

/* ---- generation endpoints ------------------------------------------------------------------------------ */

static void handle_generation(h2o_req_t *req, ol_kind_t kind)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, is_v1(kind) ? v1_500 : native_500, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    ol_request_t r = {.kind = kind};
    if (parse_body(req, kind, d) != 0 || parse_model(req, kind, d, &r.model, &r.model_len) != 0 ||
        parse_stream(req, &r, d) != 0 || count_prompt(req, &r, d) != 0 || completion_length(req, &r, d) != 0)
        return;
    SIM_STAT_ADD(prompt_tokens, r.prompt_tokens);
    r.reported_prompt = reported_prompt_tokens(req, &r, d);
    sim_cut_t cut = sim_openai_cut_of(fault);
    if (r.stream)
        stream_start(req, &r, cut);
    else
        respond_plain(req, &r, cut);
}

static void handle_api_chat(h2o_req_t *req) { handle_generation(req, OL_CHAT); }
static void handle_api_generate(h2o_req_t *req) { handle_generation(req, OL_GENERATE); }
static void handle_v1_chat(h2o_req_t *req) { handle_generation(req, OL_V1_CHAT); }
static void handle_v1_completions(h2o_req_t *req) { handle_generation(req, OL_V1_COMPLETION); }

/* ---- embeddings: /api/embed, /api/embeddings (legacy), /v1/embeddings ------------------------------------ */

typedef enum { EMB_EMBED, EMB_LEGACY, EMB_V1 } emb_kind_t;

static void handle_embedding(h2o_req_t *req, emb_kind_t kind)
{
    sim_worker_t *w = sim_worker_of(req);
    ol_kind_t ek = kind == EMB_V1 ? OL_V1_CHAT : OL_CHAT; /* which error shape */
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, kind == EMB_V1 ? v1_500 : native_500, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    char *model;
    size_t mlen;
    if (parse_body(req, ek, d) != 0 || parse_model(req, ek, d, &model, &mlen) != 0)
        return;
    int64_t in = field(d, 0, kind == EMB_LEGACY ? "prompt" : "input");
    /* the items: one string, or an array of strings */
    uint32_t first = 0, count = 0;
    if (in >= 0 && sj_type(d, (uint32_t)in) == SJ_STRING) {
        first = (uint32_t)in;
        count = 1;
    } else if (in >= 0 && kind != EMB_LEGACY && sj_type(d, (uint32_t)in) == SJ_ARRAY) {
        first = (uint32_t)in + 1;
        count = d->nodes[in].count;
        for (uint32_t e = first, k = 0; k < count; k++, e = d->nodes[e].end)
            if (sj_type(d, e) != SJ_STRING) {
                error_for(req, ek, 400, "invalid input type");
                return;
            }
    } else if (in >= 0 || kind == EMB_V1) {
        error_for(req, ek, 400, "invalid input type");
        return;
    }
    int base64 = 0;
    int64_t fmt = kind == EMB_V1 ? field(d, 0, "encoding_format") : -1;
    if (fmt >= 0 && sj_type(d, (uint32_t)fmt) == SJ_STRING && sj_str_eq(d, (uint32_t)fmt, "base64"))
        base64 = 1;
    float *vec = h2o_mem_alloc_pool(&req->pool, sizeof(float) * sim_cfg.embedding_dim);
    uint64_t tokens = 0;
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    if (kind == EMB_LEGACY) {
        ig_buf_lit(b, "{\"embedding\":");
        if (count == 1)
            sim_openai_put_embedding(b, req, d, first, 0, vec);
        else
            ig_buf_lit(b, "[]"); /* no prompt: Ollama answers an empty embedding */
        ig_buf_putc(b, '}');
        tokens = count ? sj_str_count_words(d, first) : 0;
    } else {
        ig_buf_puts(b, kind == EMB_V1 ? "{\"object\":\"list\",\"data\":[" : "{\"model\":");
        if (kind == EMB_EMBED) {
            ig_json_write_str(b, model, mlen);
            ig_buf_lit(b, ",\"embeddings\":[");
        }
        for (uint32_t e = first, k = 0; k < count; k++, e = d->nodes[e].end) {
            if (k > 0)
                ig_buf_putc(b, ',');
            if (kind == EMB_V1)
                ig_buf_lit(b, "{\"object\":\"embedding\",\"embedding\":");
            sim_openai_put_embedding(b, req, d, e, base64, vec);
            if (kind == EMB_V1) {
                ig_buf_lit(b, ",\"index\":");
                ig_buf_put_u64(b, k);
                ig_buf_putc(b, '}');
            }
            tokens += sj_str_count_words(d, e);
        }
        if (kind == EMB_V1) {
            ig_buf_lit(b, "],\"model\":");
            ig_json_write_str(b, model, mlen);
            ig_buf_lit(b, ",\"usage\":{\"prompt_tokens\":");
            ig_buf_put_u64(b, tokens);
            ig_buf_lit(b, ",\"total_tokens\":");
            ig_buf_put_u64(b, tokens);
            ig_buf_lit(b, "}}");
        } else {
            ig_buf_lit(b, "],\"total_duration\":14143917,\"load_duration\":1019500,\"prompt_eval_count\":");
            ig_buf_put_u64(b, tokens);
            ig_buf_putc(b, '}');
        }
    }
    SIM_STAT_ADD(prompt_tokens, tokens);
    if (fault == SIM_FAULT_DIE_MID_STREAM) {
        sim_openai_send_half_then_die(req, b);
        return;
    }
    sim_http_send_buf(req, 200, b);
}

static void handle_api_embed(h2o_req_t *req) { handle_embedding(req, EMB_EMBED); }
static void handle_api_embeddings(h2o_req_t *req) { handle_embedding(req, EMB_LEGACY); }
static void handle_v1_embeddings(h2o_req_t *req) { handle_embedding(req, EMB_V1); }

/* ---- DELETE /api/delete {"model"}: the tag is no longer pulled (until /api/pull) ------------------------------- */

static void set_deleted(h2o_req_t *req, int del)
{
    sj_doc_t *d = &sim_worker_of(req)->json;
    char *model;
    size_t len;
    if (parse_body(req, OL_CHAT, d) != 0)
        return;
    int64_t m = field(d, 0, "model");
    if (m < 0)
        m = field(d, 0, "name"); /* the older spelling */
    if (m < 0 || sj_type(d, (uint32_t)m) != SJ_STRING) {
        native_error(req, 400, "model is required");
        return;
    }
    model = decode(req, d, (uint32_t)m, &len);
    int i = served_index(model, len);
    if (i < 0 || i >= SIM_OLLAMA_MAX_TAGS || (del && is_deleted((size_t)i))) {
        char msg[400];
        if (del)
            snprintf(msg, sizeof(msg), "model '%.*s' not found", (int)(len > 300 ? 300 : len), model);
        else
            snprintf(msg, sizeof(msg), "pull model manifest: file does not exist");
        native_error(req, del ? 404 : 500, msg);
        return;
    }
    atomic_store(&deleted[i], del);
    if (del) {
        sim_http_send(req, 200, NULL, NULL, 0);
    } else {
        static const char ok[] = "{\"status\":\"success\"}";
        sim_http_send(req, 200, SIM_CT_JSON, ok, sizeof(ok) - 1);
    }
}

static void handle_api_delete(h2o_req_t *req) { set_deleted(req, 1); }

static void undelete_from_body(h2o_req_t *req)
{
    sj_doc_t *d = &sim_worker_of(req)->json;
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0 || sj_type(d, 0) != SJ_OBJECT)
        return;
    int64_t m = field(d, 0, "model");
    if (m < 0)
        m = field(d, 0, "name");
    if (m < 0 || sj_type(d, (uint32_t)m) != SJ_STRING)
        return;
    size_t len;
    char *model = decode(req, d, (uint32_t)m, &len);
    int i = served_index(model, len);
    if (i >= 0 && i < SIM_OLLAMA_MAX_TAGS)
        atomic_store(&deleted[i], 0);
}

/* ---- routing (gin's: an unknown route or method is 404 "404 page not found") ------------------------------ */

static const struct {
    const char *path, *method;
    void (*fn)(h2o_req_t *req);
} routes[] = {
    {"/", "GET", handle_root},
    {"/api/version", "GET", handle_version},
    {"/api/pull", "POST", handle_api_pull},
    {"/api/tags", "GET", handle_api_tags},
    {"/api/ps", "GET", handle_api_ps},
    {"/api/chat", "POST", handle_api_chat},
    {"/api/generate", "POST", handle_api_generate},
    {"/api/embed", "POST", handle_api_embed},
    {"/api/embeddings", "POST", handle_api_embeddings},
    {"/api/delete", "DELETE", handle_api_delete},
    {"/v1/chat/completions", "POST", handle_v1_chat},
    {"/v1/completions", "POST", handle_v1_completions},
    {"/v1/embeddings", "POST", handle_v1_embeddings},
    {"/v1/models", "GET", handle_v1_models},
    {"/sim/fault", "POST", sim_control_set_fault},
    {"/sim/fault", "GET", sim_control_get_fault},
    {"/sim/stats", "GET", sim_control_stats},
    {"/sim/reset-stats", "POST", sim_control_reset_stats},
};

static int iov_is(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

void sim_ollama_on_req(h2o_req_t *req)
{
    h2o_iovec_t method = iov_is(req->method, "HEAD") ? h2o_iovec_init(H2O_STRLIT("GET")) : req->method;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (iov_is(req->path_normalized, routes[i].path) && iov_is(method, routes[i].method)) {
            routes[i].fn(req);
            return;
        }
    static const char nf[] = "404 page not found";
    sim_http_send(req, 404, SIM_CT_TEXT, nf, sizeof(nf) - 1);
}
