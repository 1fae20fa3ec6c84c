/* sim_lora: vLLM's runtime LoRA loading (vLLM mode): POST /v1/load_lora_adapter and
 * /v1/unload_lora_adapter, answered as vLLM does with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True
 * (ig-sim --allow-runtime-lora) and with FastAPI's 404 {"detail":"Not Found"} without it (vLLM does not
 * register the routes then).  Adapters loaded this way are served like --lora-modules ones.
 * GET /sim/lora reports what was loaded and how often it was asked.  One registry per process
 * (an engine has one set of adapters, whichever worker took the connection), behind a mutex. */
#ifndef SIM_LORA_H
#define SIM_LORA_H

#include <stddef.h>

#include <h2o.h>

void sim_lora_handle_load(h2o_req_t *req);
void sim_lora_handle_unload(h2o_req_t *req);
/* GET /sim/lora: {"loaded":[{"name","path"}],"load_requests","loads","unload_requests","unloads"} */
void sim_lora_handle_stats(h2o_req_t *req);

/* 1 if `name` is an adapter loaded at runtime. */
int sim_lora_dynamic_known(const char *name, size_t len);
/* Calls fn for each adapter loaded at runtime (under the registry's lock: fn must not call back). */
void sim_lora_each(void (*fn)(void *ctx, const char *name, const char *path), void *ctx);

#endif
