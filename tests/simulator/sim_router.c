#include "sim_router.h"

#include <time.h>

#include "sim_config.h"
#include "sim_control.h"
#include "sim_usage.h"
#include "sim_http.h"
#include "sim_infinity.h"
#include "sim_whisper.h"
#include "sim_ollama.h"
#include "sim_lora.h"
#include "sim_openai.h"
#include "sim_rerank.h"
#include "sim_server.h"
#include "sim_stats.h"

static void handle_health(h2o_req_t *req) { sim_http_send(req, 200, NULL, NULL, 0); }

/* the first release with the error envelope --error-format picks */
static void handle_version(h2o_req_t *req)
{
    static const char current[] = "{\"version\":\"0.10.1\"}", old[] = "{\"version\":\"0.6.6\"}";
    if (sim_cfg.error_format == SIM_ERRORS_VLLM_0_6)
        sim_http_send(req, 200, SIM_CT_JSON, old, sizeof(old) - 1);
    else
        sim_http_send(req, 200, SIM_CT_JSON, current, sizeof(current) - 1);
}

static void put_permission(ig_buf_t *b, sim_worker_t *w, uint64_t created)
{
    ig_buf_lit(b, "[{\"id\":\"modelperm-");
    sim_buf_put_hex_rand(b, &w->rng, 32);
    ig_buf_lit(b, "\",\"object\":\"model_permission\",\"created\":");
    ig_buf_put_u64(b, created);
    ig_buf_lit(b, ",\"allow_create_engine\":false,\"allow_sampling\":true,\"allow_logprobs\":true,"
                  "\"allow_search_indices\":false,\"allow_view\":true,\"allow_fine_tuning\":false,"
                  "\"organization\":\"*\",\"group\":null,\"is_blocking\":false}]");
}

static void put_card(ig_buf_t *b, sim_worker_t *w, uint64_t created, const char *id, const char *root, const char *parent,
                     int with_len)
{
    ig_buf_lit(b, "{\"id\":");
    ig_json_write_str(b, id, strlen(id));
    ig_buf_lit(b, ",\"object\":\"model\",\"created\":");
    ig_buf_put_u64(b, created);
    ig_buf_lit(b, ",\"owned_by\":\"vllm\",\"root\":");
    ig_json_write_str(b, root, strlen(root));
    ig_buf_lit(b, ",\"parent\":");
    if (parent != NULL)
        ig_json_write_str(b, parent, strlen(parent));
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"max_model_len\":");
    if (with_len)
        ig_buf_put_u64(b, sim_cfg.max_model_len);
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"permission\":");
    put_permission(b, w, created);
    ig_buf_putc(b, '}');
}

typedef struct {
    ig_buf_t *b;
    sim_worker_t *w;
    uint64_t created;
    const char *primary;
} card_ctx_t;

static void put_runtime_card(void *ctx, const char *name, const char *path)
{
    card_ctx_t *c = ctx;
    ig_buf_putc(c->b, ',');
    put_card(c->b, c->w, c->created, name, path, c->primary, 0);
}

static void handle_models(h2o_req_t *req)
{
    sim_worker_t *w = sim_worker_of(req);
    ig_buf_t *b = &w->scratch;
    uint64_t created = (uint64_t)time(NULL);
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"object\":\"list\",\"data\":[");
    const char *primary = sim_config_primary_model();
    if (sim_cfg.n_models == 0) {
        put_card(b, w, created, primary, primary, NULL, 1);
    } else {
        for (size_t i = 0; i < sim_cfg.n_models; i++) {
            if (i > 0)
                ig_buf_putc(b, ',');
            put_card(b, w, created, sim_cfg.models[i], primary, NULL, 1);
        }
    }
    for (size_t i = 0; i < sim_cfg.n_loras; i++) {
        ig_buf_putc(b, ',');
        put_card(b, w, created, sim_cfg.loras[i].name, sim_cfg.loras[i].root, primary, 0);
    }
    card_ctx_t cc = {b, w, created, primary};
    sim_lora_each(put_runtime_card, &cc); /* adapters loaded through /v1/load_lora_adapter */
    ig_buf_lit(b, "]}");
    sim_http_send_buf(req, 200, b);
}

static void handle_metrics(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    sim_stats_prometheus(b, sim_config_primary_model(), sim_cfg.max_num_seqs);
    sim_http_send(req, 200, SIM_CT_PROM, b->p, b->len);
}

static void handle_chat(h2o_req_t *req) { sim_openai_handle(req, SIM_API_CHAT); }
static void handle_completions(h2o_req_t *req) { sim_openai_handle(req, SIM_API_COMPLETION); }
static void handle_embeddings(h2o_req_t *req) { sim_openai_handle(req, SIM_API_EMBEDDING); }

static const sim_route_t routes[] = {
    {"/v1/chat/completions", "POST", handle_chat},
    {"/v1/completions", "POST", handle_completions},
    {"/v1/embeddings", "POST", handle_embeddings},
    {"/v1/audio/transcriptions", "POST", sim_whisper_vllm_transcriptions},
    {"/v1/audio/translations", "POST", sim_whisper_vllm_translations},
    {"/sim/audio", "GET", sim_whisper_audio_stats},
    {"/rerank", "POST", sim_rerank_handle_vllm_rerank},
    {"/v1/rerank", "POST", sim_rerank_handle_vllm_rerank},
    {"/v2/rerank", "POST", sim_rerank_handle_vllm_rerank},
    {"/score", "POST", sim_rerank_handle_vllm_score},
    {"/v1/score", "POST", sim_rerank_handle_vllm_score},
    {"/health", "GET", handle_health},
    {"/v1/models", "GET", handle_models},
    {"/metrics", "GET", handle_metrics},
    {"/version", "GET", handle_version},
    {"/sim/fault", "POST", sim_control_set_fault},
    {"/sim/fault", "GET", sim_control_get_fault},
    {"/sim/stats", "GET", sim_control_stats},
    {"/sim/usage", "GET", sim_usage_get},
    {"/sim/reset-usage", "POST", sim_usage_reset},
    {"/sim/reset-stats", "POST", sim_control_reset_stats},
    {"/v1/load_lora_adapter", "POST", sim_lora_handle_load},
    {"/v1/unload_lora_adapter", "POST", sim_lora_handle_unload},
    {"/sim/lora", "GET", sim_lora_handle_stats},
    {"/sim/reset-prefix-cache", "POST", sim_control_reset_prefix_cache},
};

static int iov_eq(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && memcmp(v.base, s, n) == 0;
}

int sim_router_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (sim_cfg.api == SIM_MODE_OLLAMA) {
        sim_ollama_on_req(req);
        return 0; /* its own routing: Ollama is not FastAPI */
    }
    if (sim_cfg.api == SIM_MODE_FASTERWHISPER) {
        size_t n;
        const sim_route_t *t = sim_whisper_routes(&n);
        sim_router_dispatch(req, t, n);
    } else if (sim_cfg.api == SIM_MODE_INFINITY) {
        size_t n;
        const sim_route_t *t = sim_infinity_routes(&n);
        sim_router_dispatch(req, t, n);
    } else {
        sim_router_dispatch(req, routes, sizeof(routes) / sizeof(routes[0]));
    }
    return 0;
}

void sim_router_dispatch(h2o_req_t *req, const sim_route_t *table, size_t n)
{
    int path_found = 0;
    /* HEAD is served like GET (h2o drops the body) */
    h2o_iovec_t method = iov_eq(req->method, "HEAD") ? h2o_iovec_init(H2O_STRLIT("GET")) : req->method;
    for (size_t i = 0; i < n; i++) {
        if (!iov_eq(req->path_normalized, table[i].path))
            continue;
        path_found = 1;
        if (iov_eq(method, table[i].method)) {
            table[i].fn(req);
            return;
        }
    }
    if (path_found)
        sim_http_send_detail(req, 405, "Method Not Allowed");
    else
        sim_http_send_detail(req, 404, "Not Found");
}
