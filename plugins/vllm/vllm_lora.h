/*
 * vllm_lora.h — loading a model's LoRA adapters into vLLM on demand.
 *
 * When a client addresses an adapter (<model>_<adapter>) and the picked endpoint has not loaded it
 * yet, the request first sends POST /v1/load_lora_adapter {"lora_name","lora_path"} to that
 * endpoint (the core's before_send control requests); requests for the same adapter on the same
 * endpoint meanwhile wait for that one load. What each endpoint has loaded is remembered by
 * endpoint URL in the plugin's process state (plugins/common/endpoint_memory.h): it survives reloads
 * and is forgotten when the endpoint is found unhealthy or answers 404 for the adapter (it
 * restarted without it). See README.md.
 */
#ifndef VLLM_LORA_H
#define VLLM_LORA_H

#include "endpoint_memory.h"
#include "infergate/plugin.h"

/* The adapter's lora_path from its url: hf://org/repo → "org/repo" (vLLM downloads a Hugging Face
 * repo id), file:///abs or /abs → "/abs". NULL for another scheme. */
const char *vllm_lora_path(const char *url);

/* model_init: every adapter url is one vLLM can load. 0 or -1 with err. */
int vllm_lora_check(const ig_host_t *host, const ig_model_t *model, ig_error_t *err);

int vllm_lora_before_send(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, const ig_endpoint_t *ep,
                          ig_engine_control_t *ctl, ig_error_t *err);
int vllm_lora_control_done(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, const ig_endpoint_t *ep, int status,
                           const char *body, size_t len, ig_error_t *err);
/* From on_response_end: vLLM's 404 for an adapter we thought loaded. Forgets it, answers 503, returns 1. */
int vllm_lora_response_end(const ig_host_t *host, epm_t *mem, ig_engine_req_t *r, int complete, ig_sink_t *sink);

#endif
