#include "sim_rerank.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim_config.h"
#include "sim_http.h"
#include "sim_openai.h"
#include "sim_server.h"
#include "sim_stats.h"

/* ---- scores ---------------------------------------------------------------------------------- */

#define MAX_QUERY_WORDS 256 /* distinct query words considered; later ones are ignored */

typedef struct overlap {
    uint64_t words[MAX_QUERY_WORDS];
    unsigned char seen[MAX_QUERY_WORDS];
    unsigned n, hits;
} overlap_t;

static void add_query_word(void *ctx, uint64_t h)
{
    overlap_t *o = ctx;
    for (unsigned i = 0; i < o->n; i++)
        if (o->words[i] == h)
            return;
    if (o->n < MAX_QUERY_WORDS)
        o->words[o->n++] = h;
}

static void match_doc_word(void *ctx, uint64_t h)
{
    overlap_t *o = ctx;
    for (unsigned i = 0; i < o->n; i++) {
        if (o->words[i] == h && !o->seen[i]) {
            o->seen[i] = 1;
            o->hits++;
        }
    }
}

double sim_rerank_score(const sj_doc_t *d, uint32_t query, uint32_t doc)
{
    overlap_t o;
    o.n = o.hits = 0;
    sj_str_words(d, query, add_query_word, &o);
    memset(o.seen, 0, o.n);
    sj_str_words(d, doc, match_doc_word, &o);
    return (1.0 + 2.0 * o.hits) / (2.0 + 2.0 * o.n);
}

int64_t sim_rerank_doc_text(const sj_doc_t *d, uint32_t node)
{
    if (sj_type(d, node) == SJ_STRING)
        return node;
    if (sj_type(d, node) != SJ_OBJECT)
        return -1;
    int64_t t = sj_obj_get(d, node, "text");
    return t >= 0 && sj_type(d, (uint32_t)t) == SJ_STRING ? t : -1;
}

static int by_score(const void *a, const void *b)
{
    const sim_rank_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void sim_rerank_rank(const sj_doc_t *d, uint32_t query, uint32_t docs, sim_rank_t *ranks)
{
    uint32_t n = d->nodes[docs].count;
    for (uint32_t e = docs + 1, k = 0; k < n; k++, e = d->nodes[e].end) {
        uint32_t text = (uint32_t)sim_rerank_doc_text(d, e);
        ranks[k] = (sim_rank_t){k, text, sim_rerank_score(d, query, text)};
    }
    qsort(ranks, n, sizeof(*ranks), by_score);
}

void sim_rerank_put_raw_str(ig_buf_t *b, const sj_doc_t *d, uint32_t i)
{
    ig_buf_put(b, d->src + d->nodes[i].start - 1, d->nodes[i].len + 2);
}

/* ---- vLLM's /rerank and /score --------------------------------------------------------------- */

/* pydantic's complaint about one field, as vLLM returns it: 400 BadRequestError. */
static void invalid_field(h2o_req_t *req, const char *type, const char *field, const char *msg)
{
    char m[300];
    snprintf(m, sizeof(m), "[{'type': '%s', 'loc': ('body', '%s'), 'msg': '%s', 'input': None}]", type, field, msg);
    sim_http_send_vllm_error(req, 400, "BadRequestError", m);
}

/* Parses the body and the model (defaulting to the first served name); -1 when answered. */
static int parse_body(h2o_req_t *req, sj_doc_t *d, const char **model, size_t *model_len)
{
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0) {
        char m[300];
        snprintf(m, sizeof(m), "[{'type': 'json_invalid', 'loc': ('body', %zu), 'msg': 'JSON decode error'}]", d->err_pos);
        sim_http_send_vllm_error(req, 400, "BadRequestError", m);
        return -1;
    }
    if (sj_type(d, 0) != SJ_OBJECT) {
        sim_http_send_vllm_error(req, 400, "BadRequestError",
                                 "[{'type': 'model_attributes_type', 'loc': ('body',), 'msg': 'Input should be a valid dictionary'}]");
        return -1;
    }
    int64_t m = sj_obj_get(d, 0, "model");
    if (m < 0 || sj_type(d, (uint32_t)m) == SJ_NULL) {
        *model = sim_config_primary_model();
        *model_len = strlen(*model);
        return 0;
    }
    if (sj_type(d, (uint32_t)m) != SJ_STRING) {
        invalid_field(req, "string_type", "model", "Input should be a valid string");
        return -1;
    }
    char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[m].len + 1);
    *model_len = sj_str_decode(d, (uint32_t)m, s);
    s[*model_len] = '\0';
    *model = s;
    return 0;
}

static int check_model(h2o_req_t *req, const char *model, size_t len)
{
    if (sim_config_model_known(model, len))
        return 0;
    char m[300];
    snprintf(m, sizeof(m), "The model `%.*s` does not exist.", (int)(len > 200 ? 200 : len), model);
    sim_http_send_vllm_error(req, 404, "NotFoundError", m);
    return -1;
}

/* A list whose every element has a text (string, or {"text": string}); -1 when answered. */
static int check_text_list(h2o_req_t *req, const sj_doc_t *d, uint32_t arr, const char *field)
{
    for (uint32_t e = arr + 1, k = 0; k < d->nodes[arr].count; k++, e = d->nodes[e].end) {
        if (sim_rerank_doc_text(d, e) < 0) {
            invalid_field(req, "string_type", field, "Input should be a valid string");
            return -1;
        }
    }
    return 0;
}

void sim_rerank_send_answer(h2o_req_t *req, ig_buf_t *b, sim_fault_mode_t fault, uint64_t tokens)
{
    SIM_STAT_ADD(prompt_tokens, tokens);
    if (fault == SIM_FAULT_DIE_MID_STREAM)
        sim_openai_send_half_then_die(req, b);
    else
        sim_http_send_buf(req, 200, b);
}

void sim_rerank_handle_vllm_rerank(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, NULL, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    const char *model;
    size_t model_len;
    if (parse_body(req, d, &model, &model_len) != 0)
        return;
    int64_t q = sj_obj_get(d, 0, "query"), docs = sj_obj_get(d, 0, "documents"), top = sj_obj_get(d, 0, "top_n");
    if (q < 0 || sj_type(d, (uint32_t)q) != SJ_STRING) {
        invalid_field(req, q < 0 ? "missing" : "string_type", "query", q < 0 ? "Field required" : "Input should be a valid string");
        return;
    }
    if (docs < 0 || sj_type(d, (uint32_t)docs) != SJ_ARRAY) {
        invalid_field(req, docs < 0 ? "missing" : "list_type", "documents", docs < 0 ? "Field required" : "Input should be a valid list");
        return;
    }
    if (check_text_list(req, d, (uint32_t)docs, "documents") != 0)
        return;
    int64_t top_n = 0; /* vLLM: 0 = every document */
    if (top >= 0 && sj_type(d, (uint32_t)top) != SJ_NULL && sj_get_int(d, (uint32_t)top, &top_n) != 0) {
        invalid_field(req, "int_parsing", "top_n", "Input should be a valid integer");
        return;
    }
    if (check_model(req, model, model_len) != 0)
        return;
    uint32_t n = d->nodes[docs].count;
    sim_rank_t *ranks = h2o_mem_alloc_pool(&req->pool, sizeof(*ranks) * (n ? n : 1));
    sim_rerank_rank(d, (uint32_t)q, (uint32_t)docs, ranks);
    uint32_t keep = top_n > 0 && (uint64_t)top_n < n ? (uint32_t)top_n : n;
    /* tokens: the query and the document of every pair the model ran on */
    uint64_t qwords = sj_str_count_words(d, (uint32_t)q), tokens = 0;
    for (uint32_t i = 0; i < n; i++)
        tokens += qwords + sj_str_count_words(d, ranks[i].node);

    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"id\":\"rerank-");
    sim_buf_put_hex_rand(b, &w->rng, 32);
    ig_buf_lit(b, "\",\"model\":");
    ig_json_write_str(b, model, model_len);
    ig_buf_lit(b, ",\"usage\":{\"prompt_tokens\":");
    ig_buf_put_u64(b, tokens);
    ig_buf_lit(b, ",\"total_tokens\":");
    ig_buf_put_u64(b, tokens);
    ig_buf_lit(b, "},\"results\":[");
    for (uint32_t i = 0; i < keep; i++) {
        if (i > 0)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"index\":");
        ig_buf_put_u64(b, ranks[i].index);
        ig_buf_lit(b, ",\"document\":{\"text\":");
        sim_rerank_put_raw_str(b, d, ranks[i].node);
        ig_buf_lit(b, ",\"multi_modal\":null},\"relevance_score\":");
        sim_buf_put_double(b, ranks[i].score);
        ig_buf_putc(b, '}');
    }
    ig_buf_lit(b, "]}");
    sim_rerank_send_answer(req, b, fault, tokens);
}

/* text_1 / text_2: a string or a non-empty list of strings.  Sets *list (-1: a single string). */
static int score_side(h2o_req_t *req, const sj_doc_t *d, const char *field, int64_t *node)
{
    *node = sj_obj_get(d, 0, field);
    if (*node < 0) {
        invalid_field(req, "missing", field, "Field required");
        return -1;
    }
    sj_type_t t = sj_type(d, (uint32_t)*node);
    if (t == SJ_STRING)
        return 0;
    if (t != SJ_ARRAY) {
        invalid_field(req, "string_type", field, "Input should be a valid string");
        return -1;
    }
    for (uint32_t e = (uint32_t)*node + 1, k = 0; k < d->nodes[*node].count; k++, e = d->nodes[e].end) {
        if (sj_type(d, e) != SJ_STRING) {
            invalid_field(req, "string_type", field, "Input should be a valid string");
            return -1;
        }
    }
    return 0;
}

/* Element k of a side: the string itself, or the k-th (or only) element of the list. */
static uint32_t side_at(const sj_doc_t *d, uint32_t side, uint32_t k)
{
    if (sj_type(d, side) == SJ_STRING)
        return side;
    uint32_t e = side + 1;
    if (d->nodes[side].count == 1)
        return e;
    for (uint32_t i = 0; i < k; i++)
        e = d->nodes[e].end;
    return e;
}

static uint32_t side_len(const sj_doc_t *d, uint32_t side)
{
    return sj_type(d, side) == SJ_STRING ? 1 : d->nodes[side].count;
}

void sim_rerank_handle_vllm_score(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, NULL, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    const char *model;
    size_t model_len;
    int64_t t1, t2;
    if (parse_body(req, d, &model, &model_len) != 0 || score_side(req, d, "text_1", &t1) != 0 ||
        score_side(req, d, "text_2", &t2) != 0)
        return;
    uint32_t n1 = side_len(d, (uint32_t)t1), n2 = side_len(d, (uint32_t)t2);
    /* vLLM: 1 to 1, 1 to N, or N to N pairs */
    if (n1 == 0 || n2 == 0 || (n1 > 1 && n1 != n2)) {
        sim_http_send_vllm_error(req, 400, "BadRequestError",
                                 n1 == 0 || n2 == 0 ? "At least one text element must be given"
                                                    : "text_1 and text_2 lists must have the same length");
        return;
    }
    if (check_model(req, model, model_len) != 0)
        return;
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"id\":\"score-");
    sim_buf_put_hex_rand(b, &w->rng, 32);
    ig_buf_lit(b, "\",\"object\":\"list\",\"created\":");
    ig_buf_put_u64(b, (uint64_t)time(NULL));
    ig_buf_lit(b, ",\"model\":");
    ig_json_write_str(b, model, model_len);
    ig_buf_lit(b, ",\"data\":[");
    uint64_t tokens = 0;
    for (uint32_t k = 0; k < n2; k++) {
        uint32_t a = side_at(d, (uint32_t)t1, k), c = side_at(d, (uint32_t)t2, k);
        tokens += sj_str_count_words(d, a) + sj_str_count_words(d, c);
        if (k > 0)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"index\":");
        ig_buf_put_u64(b, k);
        ig_buf_lit(b, ",\"object\":\"score\",\"score\":");
        sim_buf_put_double(b, sim_rerank_score(d, a, c));
        ig_buf_putc(b, '}');
    }
    ig_buf_lit(b, "],\"usage\":");
    sim_openai_put_usage(b, tokens, 0, 1, -1);
    ig_buf_putc(b, '}');
    sim_rerank_send_answer(req, b, fault, tokens);
}
