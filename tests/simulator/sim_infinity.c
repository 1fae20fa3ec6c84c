#include "sim_infinity.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sim_config.h"
#include "sim_control.h"
#include "sim_http.h"
#include "sim_openai.h"
#include "sim_rerank.h"
#include "sim_server.h"
#include "sim_stats.h"

/* Infinity's pydantic limits (fastapi_schemas/pydantic_v2.py): 1..2048 items of at most 122,880 characters. */
#define INF_MAX_ITEMS 2048
#define INF_MAX_CHARS (8192 * 15)

/* ---- answers in Infinity's shapes -------------------------------------------------------------- */

/* errors.OpenAIException: {"error":{"message","type":null,"param":null,"code":<status>}}. */
static void send_error(h2o_req_t *req, int status, const char *message)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"error\":{\"message\":");
    ig_json_write_str(b, message, strlen(message));
    ig_buf_lit(b, ",\"type\":null,\"param\":null,\"code\":");
    ig_buf_put_u64(b, (uint64_t)status);
    ig_buf_lit(b, "}}");
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}

static void send_500(h2o_req_t *req) { send_error(req, 500, "InternalServerError: ig-sim: injected fault (500)"); }

static void put_id_created(ig_buf_t *b, sim_worker_t *w)
{
    /* infinity-<uuid4> */
    ig_buf_lit(b, ",\"id\":\"infinity-");
    sim_buf_put_hex_rand(b, &w->rng, 8);
    ig_buf_putc(b, '-');
    sim_buf_put_hex_rand(b, &w->rng, 4);
    ig_buf_lit(b, "-4");
    sim_buf_put_hex_rand(b, &w->rng, 3);
    ig_buf_lit(b, "-a");
    sim_buf_put_hex_rand(b, &w->rng, 3);
    ig_buf_putc(b, '-');
    sim_buf_put_hex_rand(b, &w->rng, 12);
    ig_buf_lit(b, "\",\"created\":");
    ig_buf_put_u64(b, (uint64_t)time(NULL));
}

static void put_usage(ig_buf_t *b, uint64_t tokens)
{
    ig_buf_lit(b, ",\"usage\":{\"prompt_tokens\":");
    ig_buf_put_u64(b, tokens);
    ig_buf_lit(b, ",\"total_tokens\":");
    ig_buf_put_u64(b, tokens);
    ig_buf_putc(b, '}');
}

/* ---- request pieces ---------------------------------------------------------------------------- */

/* Infinity's default usage (lengths_via_tokenize=false) is len(text) in characters, after pydantic
 * strips surrounding whitespace. */
static uint64_t text_chars(h2o_req_t *req, const sj_doc_t *d, uint32_t node)
{
    char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[node].len + 1);
    size_t n = sj_str_decode(d, node, s), a = 0;
    while (a < n && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
        a++;
    while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        n--;
    uint64_t chars = 0;
    for (size_t i = a; i < n; i++)
        chars += ((unsigned char)s[i] & 0xC0) != 0x80; /* code points, as Python's len() */
    return chars;
}

/* The served model named by "model" (absent: "default/not-specified", which picks the first);
 * NULL after answering 400 (unknown model) or 422 (not a string). */
static const char *resolve_model(h2o_req_t *req, const sj_doc_t *d)
{
    int64_t m = sj_obj_get(d, 0, "model");
    if (m < 0)
        return sim_config_primary_model();
    if (sj_type(d, (uint32_t)m) != SJ_STRING) {
        sim_http_send_422(req, "string_type", "model", "Input should be a valid string");
        return NULL;
    }
    char *name = h2o_mem_alloc_pool(&req->pool, d->nodes[m].len + 1);
    size_t len = sj_str_decode(d, (uint32_t)m, name);
    name[len] = '\0';
    if (strcmp(name, "default/not-specified") == 0)
        return sim_config_primary_model();
    if (sim_config_model_known(name, len)) /* any name without --served-model-name */
        return name;
    char msg[512];
    snprintf(msg, sizeof(msg), "Invalid model: Engine for model name `%.200s` not found. Available model names are [%s]",
             name, sim_config_primary_model());
    send_error(req, 400, msg);
    return NULL;
}

/* Parses the body; -1 after answering. */
static int parse_body(h2o_req_t *req, sj_doc_t *d)
{
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0) {
        sim_http_send_422(req, "json_invalid", NULL, "JSON decode error");
        return -1;
    }
    if (sj_type(d, 0) != SJ_OBJECT) {
        sim_http_send_422(req, "model_attributes_type", NULL, "Input should be a valid dictionary or object to extract fields from");
        return -1;
    }
    return 0;
}

/* A string within Infinity's length limit; -1 after answering 422. */
static int check_string(h2o_req_t *req, const sj_doc_t *d, uint32_t node, const char *field)
{
    if (sj_type(d, node) != SJ_STRING) {
        sim_http_send_422(req, "string_type", field, "Input should be a valid string");
        return -1;
    }
    if (d->nodes[node].len > INF_MAX_CHARS * 4 || text_chars(req, d, node) > INF_MAX_CHARS) {
        sim_http_send_422(req, "string_too_long", field, "String should have at most 122880 characters");
        return -1;
    }
    return 0;
}

/* A list of 1..2048 strings; -1 after answering 422. */
static int check_string_list(h2o_req_t *req, const sj_doc_t *d, uint32_t arr, const char *field)
{
    uint32_t n = d->nodes[arr].count;
    if (n < 1 || n > INF_MAX_ITEMS) {
        sim_http_send_422(req, n < 1 ? "too_short" : "too_long", field,
                 n < 1 ? "List should have at least 1 item after validation, not 0"
                       : "List should have at most 2048 items after validation");
        return -1;
    }
    for (uint32_t e = arr + 1, k = 0; k < n; k++, e = d->nodes[e].end)
        if (check_string(req, d, e, field) != 0)
            return -1;
    return 0;
}

static int opt_bool(h2o_req_t *req, const sj_doc_t *d, const char *field, int *out)
{
    int64_t i = sj_obj_get(d, 0, field);
    if (i < 0)
        return 0;
    sj_type_t t = sj_type(d, (uint32_t)i);
    if (t != SJ_TRUE && t != SJ_FALSE) {
        sim_http_send_422(req, "bool_parsing", field, "Input should be a valid boolean");
        return -1;
    }
    *out = t == SJ_TRUE;
    return 0;
}

/* ---- POST /embeddings -------------------------------------------------------------------------- */

static void handle_embeddings(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, send_500, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    if (parse_body(req, d) != 0)
        return;
    int base64 = 0;
    int64_t fmt = sj_obj_get(d, 0, "encoding_format");
    if (fmt >= 0) {
        if (sj_str_eq(d, (uint32_t)fmt, "base64")) {
            base64 = 1;
        } else if (!sj_str_eq(d, (uint32_t)fmt, "float")) {
            sim_http_send_422(req, "enum", "encoding_format", "Input should be 'float' or 'base64'");
            return;
        }
    }
    int64_t modality = sj_obj_get(d, 0, "modality");
    if (modality >= 0 && !sj_str_eq(d, (uint32_t)modality, "text")) {
        sim_http_send_422(req, "union_tag_invalid", NULL, "ig-sim simulates text embeddings only: 'modality' must be 'text'");
        return;
    }
    int64_t in = sj_obj_get(d, 0, "input");
    if (in < 0) {
        sim_http_send_422(req, "missing", "input", "Field required");
        return;
    }
    if (sj_type(d, (uint32_t)in) == SJ_ARRAY ? check_string_list(req, d, (uint32_t)in, "input") != 0
                                              : check_string(req, d, (uint32_t)in, "input") != 0)
        return;
    const char *model = resolve_model(req, d);
    if (model == NULL)
        return;

    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"object\":\"list\",\"data\":[");
    float *vec = h2o_mem_alloc_pool(&req->pool, sizeof(float) * sim_cfg.embedding_dim);
    int single = sj_type(d, (uint32_t)in) == SJ_STRING;
    uint32_t n = single ? 1 : d->nodes[in].count;
    uint64_t tokens = 0;
    for (uint32_t e = single ? (uint32_t)in : (uint32_t)in + 1, k = 0; k < n; k++, e = d->nodes[e].end) {
        if (k > 0)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"object\":\"embedding\",\"embedding\":");
        sim_openai_put_embedding(b, req, d, e, base64, vec);
        ig_buf_lit(b, ",\"index\":");
        ig_buf_put_u64(b, k);
        ig_buf_putc(b, '}');
        tokens += text_chars(req, d, e);
    }
    ig_buf_lit(b, "],\"model\":");
    ig_json_write_str(b, model, strlen(model));
    put_usage(b, tokens);
    put_id_created(b, w);
    ig_buf_putc(b, '}');
    sim_rerank_send_answer(req, b, fault, tokens);
}

/* ---- POST /rerank ------------------------------------------------------------------------------ */

static void handle_rerank(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, send_500, &fault) != 0)
        return;
    sj_doc_t *d = &w->json;
    if (parse_body(req, d) != 0)
        return;
    int64_t q = sj_obj_get(d, 0, "query"), docs = sj_obj_get(d, 0, "documents"), top = sj_obj_get(d, 0, "top_n");
    if (q < 0) {
        sim_http_send_422(req, "missing", "query", "Field required");
        return;
    }
    if (check_string(req, d, (uint32_t)q, "query") != 0)
        return;
    if (docs < 0 || sj_type(d, (uint32_t)docs) != SJ_ARRAY) {
        sim_http_send_422(req, docs < 0 ? "missing" : "list_type", "documents", docs < 0 ? "Field required" : "Input should be a valid list");
        return;
    }
    if (check_string_list(req, d, (uint32_t)docs, "documents") != 0)
        return;
    int return_documents = 0, raw_scores = 0;
    if (opt_bool(req, d, "return_documents", &return_documents) != 0 || opt_bool(req, d, "raw_scores", &raw_scores) != 0)
        return;
    int64_t top_n = 0;
    if (top >= 0 && sj_type(d, (uint32_t)top) != SJ_NULL) {
        if (sj_get_int(d, (uint32_t)top, &top_n) != 0) {
            sim_http_send_422(req, "int_parsing", "top_n", "Input should be a valid integer");
            return;
        }
        if (top_n <= 0) {
            sim_http_send_422(req, "greater_than", "top_n", "Input should be greater than 0");
            return;
        }
    }
    const char *model = resolve_model(req, d);
    if (model == NULL)
        return;
    uint32_t n = d->nodes[docs].count;
    sim_rank_t *ranks = h2o_mem_alloc_pool(&req->pool, sizeof(*ranks) * n);
    sim_rerank_rank(d, (uint32_t)q, (uint32_t)docs, ranks);
    uint32_t keep = top_n > 0 && (uint64_t)top_n < n ? (uint32_t)top_n : n;
    /* usage: every (query, document) pair the model ran on, in characters */
    uint64_t qchars = text_chars(req, d, (uint32_t)q), tokens = 0;
    for (uint32_t i = 0; i < n; i++)
        tokens += qchars + text_chars(req, d, ranks[i].node);

    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"object\":\"rerank\",\"results\":[");
    for (uint32_t i = 0; i < keep; i++) {
        if (i > 0)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"relevance_score\":");
        sim_buf_put_double(b, ranks[i].score);
        ig_buf_lit(b, ",\"index\":");
        ig_buf_put_u64(b, ranks[i].index);
        ig_buf_lit(b, ",\"document\":");
        if (return_documents)
            sim_rerank_put_raw_str(b, d, ranks[i].node);
        else
            ig_buf_lit(b, "null");
        ig_buf_putc(b, '}');
    }
    ig_buf_lit(b, "],\"model\":");
    ig_json_write_str(b, model, strlen(model));
    put_usage(b, tokens);
    put_id_created(b, w);
    ig_buf_putc(b, '}');
    sim_rerank_send_answer(req, b, fault, tokens);
}

/* ---- GET /models, GET /health ------------------------------------------------------------------- */

static void put_model_info(ig_buf_t *b, const char *id, uint64_t created)
{
    ig_buf_lit(b, "{\"id\":");
    ig_json_write_str(b, id, strlen(id));
    ig_buf_lit(b, ",\"stats\":{\"queue_fraction\":0.0,\"queue_absolute\":0,\"results_pending\":");
    ig_buf_put_u64(b, (uint64_t)atomic_load_explicit(&sim_stats.active_requests, memory_order_relaxed));
    ig_buf_lit(b, ",\"batch_size\":32},\"object\":\"model\",\"owned_by\":\"infinity\",\"created\":");
    ig_buf_put_u64(b, created);
    ig_buf_lit(b, ",\"backend\":\"torch\",\"capabilities\":[\"embed\",\"rerank\"]}");
}

static void handle_models(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    uint64_t created = (uint64_t)time(NULL);
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"data\":[");
    if (sim_cfg.n_models == 0)
        put_model_info(b, sim_config_primary_model(), created);
    for (size_t i = 0; i < sim_cfg.n_models; i++) {
        if (i > 0)
            ig_buf_putc(b, ',');
        put_model_info(b, sim_cfg.models[i], created);
    }
    ig_buf_lit(b, "],\"object\":\"list\"}");
    sim_http_send_buf(req, 200, b);
}

static void handle_health(h2o_req_t *req)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"unix\":");
    sim_buf_put_double(b, (double)ts.tv_sec + ts.tv_nsec / 1e9);
    ig_buf_putc(b, '}');
    sim_http_send_buf(req, 200, b);
}

/* ---- the route table ---------------------------------------------------------------------------- */

static sim_route_t routes[9];
static size_t nroutes;
static pthread_once_t routes_once = PTHREAD_ONCE_INIT;

static const char *prefixed(const char *path)
{
    size_t a = strlen(sim_cfg.url_prefix), b = strlen(path);
    char *s = malloc(a + b + 1); /* lives as long as the process, like sim_cfg */
    if (s == NULL)
        abort();
    memcpy(s, sim_cfg.url_prefix, a);
    memcpy(s + a, path, b + 1);
    return s;
}

static void build_routes(void)
{
    routes[nroutes++] = (sim_route_t){prefixed("/embeddings"), "POST", handle_embeddings};
    routes[nroutes++] = (sim_route_t){prefixed("/rerank"), "POST", handle_rerank};
    routes[nroutes++] = (sim_route_t){prefixed("/models"), "GET", handle_models};
    routes[nroutes++] = (sim_route_t){"/health", "GET", handle_health};
    routes[nroutes++] = (sim_route_t){"/sim/fault", "POST", sim_control_set_fault};
    routes[nroutes++] = (sim_route_t){"/sim/fault", "GET", sim_control_get_fault};
    routes[nroutes++] = (sim_route_t){"/sim/stats", "GET", sim_control_stats};
    routes[nroutes++] = (sim_route_t){"/sim/reset-stats", "POST", sim_control_reset_stats};
}

const sim_route_t *sim_infinity_routes(size_t *n)
{
    pthread_once(&routes_once, build_routes);
    *n = nroutes;
    return routes;
}
