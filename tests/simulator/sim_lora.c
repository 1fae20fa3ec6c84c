#include "sim_lora.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_config.h"
#include "sim_http.h"
#include "sim_json.h"
#include "sim_server.h"

#define SIM_LORA_MAX 256 /* vLLM's --max-loras bounds the batch, not the registry; this bounds the simulator */

typedef struct {
    char *name, *path;
} sim_lora_entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sim_lora_entry_t loaded[SIM_LORA_MAX];
static size_t nloaded;
static atomic_uint_fast64_t load_requests, loads, unload_requests, unloads;

static int find_locked(const char *name, size_t len)
{
    for (size_t i = 0; i < nloaded; i++)
        if (strlen(loaded[i].name) == len && memcmp(loaded[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

int sim_lora_dynamic_known(const char *name, size_t len)
{
    pthread_mutex_lock(&lock);
    int found = find_locked(name, len) >= 0;
    pthread_mutex_unlock(&lock);
    return found;
}

void sim_lora_each(void (*fn)(void *ctx, const char *name, const char *path), void *ctx)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < nloaded; i++)
        fn(ctx, loaded[i].name, loaded[i].path);
    pthread_mutex_unlock(&lock);
}

static int static_lora(const char *name, size_t len)
{
    for (size_t i = 0; i < sim_cfg.n_loras; i++)
        if (strlen(sim_cfg.loras[i].name) == len && memcmp(sim_cfg.loras[i].name, name, len) == 0)
            return 1;
    return 0;
}

/* A string member, decoded into the request pool; NULL when absent or empty. */
static char *str_member(h2o_req_t *req, const sj_doc_t *d, const char *key)
{
    int64_t i = sj_obj_get(d, 0, key);
    if (i < 0 || sj_type(d, (uint32_t)i) != SJ_STRING)
        return NULL;
    char *s = h2o_mem_alloc_pool(&req->pool, d->nodes[i].len + 1);
    size_t n = sj_str_decode(d, (uint32_t)i, s);
    s[n] = '\0';
    return n ? s : NULL;
}

/* Parses {"lora_name": ..., "lora_path": ...}; -1 after answering as vLLM's pydantic would (400). */
static int parse(h2o_req_t *req, char **name, char **path, int need_path)
{
    sj_doc_t *d = &sim_worker_of(req)->json;
    if (sj_parse(d, req->entity.base != NULL ? req->entity.base : "", req->entity.len) != 0 || sj_type(d, 0) != SJ_OBJECT) {
        sim_http_send_vllm_error(req, 400, "BadRequestError", "[{'type': 'json_invalid', 'loc': ('body', 0), 'msg': 'JSON decode error'}]");
        return -1;
    }
    *name = str_member(req, d, "lora_name");
    *path = need_path ? str_member(req, d, "lora_path") : NULL;
    return 0;
}

static void plain(h2o_req_t *req, const char *fmt, const char *name)
{
    char msg[400];
    int n = snprintf(msg, sizeof(msg), fmt, name);
    /* vLLM answers with a bare Response(content=...): no media type */
    sim_http_send(req, 200, NULL, msg, n < 0 ? 0 : (size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
}

/* --lora-load-ms: a load's answer comes that much later (a real one downloads and loads weights). The
 * timer is malloc'd and closed before it is freed; a request disposed of meanwhile is not answered. */
typedef struct {
    uv_timer_t timer;
    h2o_req_t *req; /* NULL once h2o disposed of the request */
    char *name;
} slow_load_t;

static void slow_closed(uv_handle_t *h)
{
    slow_load_t *sl = h->data;
    free(sl->name);
    free(sl);
}

static void slow_fire(uv_timer_t *t)
{
    slow_load_t *sl = t->data;
    if (sl->req != NULL) {
        h2o_req_t *req = sl->req;
        sl->req = NULL;
        plain(req, "Success: LoRA adapter '%s' added successfully.", sl->name);
    }
    uv_close((uv_handle_t *)&sl->timer, slow_closed);
}

static void slow_dispose(void *p)
{
    slow_load_t *sl = *(slow_load_t **)p;
    sl->req = NULL;
}

static void answer_loaded(h2o_req_t *req, const char *name)
{
    slow_load_t *sl = sim_cfg.lora_load_ms ? calloc(1, sizeof(*sl)) : NULL;
    if (sl == NULL || (sl->name = strdup(name)) == NULL) {
        free(sl);
        plain(req, "Success: LoRA adapter '%s' added successfully.", name);
        return;
    }
    sl->req = req;
    slow_load_t **slot = h2o_mem_alloc_shared(&req->pool, sizeof(*slot), slow_dispose);
    *slot = sl;
    uv_timer_init(&sim_worker_of(req)->loop, &sl->timer);
    sl->timer.data = sl;
    uv_timer_start(&sl->timer, slow_fire, sim_cfg.lora_load_ms, 0);
}

static void user_error(h2o_req_t *req, int status, const char *type, const char *fmt, const char *name)
{
    char msg[400];
    snprintf(msg, sizeof(msg), fmt, name);
    sim_http_send_vllm_error(req, status, type, msg);
}

void sim_lora_handle_load(h2o_req_t *req)
{
    if (!sim_cfg.allow_runtime_lora) {
        sim_http_send_detail(req, 404, "Not Found"); /* the route does not exist in vLLM then */
        return;
    }
    atomic_fetch_add(&load_requests, 1);
    char *name, *path;
    if (parse(req, &name, &path, 1) != 0)
        return;
    if (name == NULL || path == NULL) {
        sim_http_send_vllm_error(req, 400, "InvalidUserInput", "Both 'lora_name' and 'lora_path' must be provided.");
        return;
    }
    pthread_mutex_lock(&lock);
    int dup = find_locked(name, strlen(name)) >= 0 || static_lora(name, strlen(name));
    int full = !dup && nloaded == SIM_LORA_MAX;
    if (!dup && !full) {
        loaded[nloaded].name = strdup(name);
        loaded[nloaded].path = strdup(path);
        if (loaded[nloaded].name != NULL && loaded[nloaded].path != NULL) {
            nloaded++;
            atomic_fetch_add(&loads, 1);
        } else {
            free(loaded[nloaded].name);
            free(loaded[nloaded].path);
            full = 1;
        }
    }
    pthread_mutex_unlock(&lock);
    if (dup)
        user_error(req, 400, "InvalidUserInput", "The lora adapter '%s' has already been loaded.", name);
    else if (full)
        user_error(req, 400, "InvalidUserInput", "Loading lora %s failed: too many adapters in ig-sim", name);
    else
        answer_loaded(req, name); /* registered at once: the engine has it while it answers */
}

void sim_lora_handle_unload(h2o_req_t *req)
{
    if (!sim_cfg.allow_runtime_lora) {
        sim_http_send_detail(req, 404, "Not Found");
        return;
    }
    atomic_fetch_add(&unload_requests, 1);
    char *name, *path;
    if (parse(req, &name, &path, 0) != 0)
        return;
    if (name == NULL) {
        sim_http_send_vllm_error(req, 400, "InvalidUserInput", "'lora_name' needs to be provided to unload a LoRA adapter.");
        return;
    }
    pthread_mutex_lock(&lock);
    int i = find_locked(name, strlen(name));
    if (i >= 0) {
        free(loaded[i].name);
        free(loaded[i].path);
        loaded[i] = loaded[--nloaded];
        atomic_fetch_add(&unloads, 1);
    }
    pthread_mutex_unlock(&lock);
    if (i < 0)
        user_error(req, 404, "NotFoundError", "The lora adapter '%s' cannot be found.", name);
    else
        plain(req, "Success: LoRA adapter '%s' removed successfully.", name);
}

static void put_entry(void *ctx, const char *name, const char *path)
{
    ig_buf_t *b = ctx;
    if (b->p[b->len - 1] != '[')
        ig_buf_putc(b, ',');
    ig_buf_lit(b, "{\"name\":");
    ig_json_write_str(b, name, strlen(name));
    ig_buf_lit(b, ",\"path\":");
    ig_json_write_str(b, path, strlen(path));
    ig_buf_putc(b, '}');
}

void sim_lora_handle_stats(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"loaded\":[");
    sim_lora_each(put_entry, b);
    ig_buf_lit(b, "],\"load_requests\":");
    ig_buf_put_u64(b, atomic_load(&load_requests));
    ig_buf_lit(b, ",\"loads\":");
    ig_buf_put_u64(b, atomic_load(&loads));
    ig_buf_lit(b, ",\"unload_requests\":");
    ig_buf_put_u64(b, atomic_load(&unload_requests));
    ig_buf_lit(b, ",\"unloads\":");
    ig_buf_put_u64(b, atomic_load(&unloads));
    ig_buf_putc(b, '}');
    sim_http_send_buf(req, 200, b);
}
