/* sim_config: command-line options.  Filled once by sim_config_parse() before any worker starts,
 * read-only afterwards. */
#ifndef SIM_CONFIG_H
#define SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "sim_fault.h"

#define SIM_DEFAULT_MODEL "ig-sim-model"

typedef struct sim_lora {
    char *name;
    char *root; /* the PATH of NAME=PATH, else the name */
} sim_lora_t;

/* Which engine's HTTP API the simulator speaks (--api). */
typedef enum sim_api_mode {
    SIM_MODE_VLLM = 0, /* vLLM's OpenAI-compatible server (the default) */
    SIM_MODE_INFINITY, /* michaelfeil/infinity (infinity_emb v2): /embeddings, /rerank, /models */
    SIM_MODE_OLLAMA,   /* Ollama: native /api/... and its OpenAI layer /v1/... (sim_ollama.c) */
    SIM_MODE_FASTERWHISPER, /* faster-whisper-server (speaches): /v1/audio/transcriptions, /translations */
} sim_api_mode_t;

/* The error envelope vLLM answers with (--error-format). */
typedef enum sim_error_format {
    SIM_ERRORS_CURRENT = 0, /* vLLM >= 0.10.1: {"error":{"message","type","param","code"}} */
    SIM_ERRORS_VLLM_0_6,    /* before: {"object":"error","message","type","param","code"} */
} sim_error_format_t;

typedef struct sim_config {
    sim_api_mode_t api;
    const char *url_prefix; /* --url-prefix: Infinity's route prefix ("" or "/v1") */
    char *listen_host;
    uint16_t listen_port;
    unsigned workers;
    char **models; /* --served-model-name; empty = accept any model name */
    size_t n_models;
    sim_lora_t *loras;
    size_t n_loras;
    double token_rate; /* tokens per second per stream, 0 = unpaced */
    unsigned default_tokens;
    unsigned ttft_ms;
    unsigned embedding_dim;
    unsigned max_model_len;
    unsigned max_num_seqs;
    unsigned max_running;   /* --max-num-seqs given: requests beyond it wait (sim_sched); 0 = unbounded */
    sim_error_format_t error_format;
    unsigned tokens_per_chunk;   /* --tokens-per-chunk: tokens merged into one stream chunk (vLLM mode) */
    int merge_deltas;            /* --merge-deltas: every token due at once goes into one chunk (vLLM V1) */
    int ignore_continuous_usage; /* --ignore-continuous-usage: stream_options.continuous_usage_stats ignored */
    int ignore_stream_options;   /* --ignore-stream-options: no usage in streams at all (Ollama < 0.5.2) */
    int cached_prompt_uncounted; /* --cached-prompt-uncounted: Ollama before ollama/ollama#5371 */
    uint32_t prefix_cache_blocks; /* 0 = no prefix cache */
    unsigned block_size;          /* tokens per prefix-cache block */
    sim_fault_mode_t fault;
    uint32_t fault_every;
    int quiet;
    int allow_runtime_lora; /* --allow-runtime-lora: vLLM's VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (sim_lora) */
    unsigned lora_load_ms;  /* --lora-load-ms: delay of a /v1/load_lora_adapter answer */
} sim_config_t;

extern sim_config_t sim_cfg;

/* Parses argv into sim_cfg.  Returns 0, or prints a message and returns 2 (usage error) / 1 (--help). */
int sim_config_parse(int argc, char **argv);

/* The name /metrics labels its series with and /v1/models lists first. */
const char *sim_config_primary_model(void);

/* 1 if `name` (not NUL-terminated) may be used as "model". */
int sim_config_model_known(const char *name, size_t len);

#endif
