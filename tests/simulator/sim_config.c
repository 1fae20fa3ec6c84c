#include "sim_config.h"
#include "sim_lora.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sim_config_t sim_cfg = {
    .url_prefix = "",
    .listen_host = "127.0.0.1",
    .listen_port = 8000,
    .workers = 1,
    .default_tokens = 16,
    .embedding_dim = 8,
    .max_model_len = 4096,
    .max_num_seqs = 256,
    .tokens_per_chunk = 1,
    .block_size = 16,
    .fault = SIM_FAULT_NONE,
    .fault_every = 1,
};

static const char usage[] =
    "usage: ig-sim --listen HOST:PORT [options]\n"
    "  --api NAME                    engine API to speak: vllm|infinity|fasterwhisper|ollama (default vllm)\n"
    "  --url-prefix P                with --api infinity: prefix of its routes, e.g. /v1 (default none)\n"
    "  --listen HOST:PORT            address to serve on (default 127.0.0.1:8000; port 0 = ephemeral)\n"
    "  --workers N                   worker threads, each with its own loop and SO_REUSEPORT socket (default 1)\n"
    "  --served-model-name N[,N...]  model names to serve (default: accept any model name)\n"
    "  --lora-modules N[=P][,...]    LoRA adapters served on top of the first model\n"
    "  --token-rate R                tokens per second per stream, 0 = as fast as possible (default 0)\n"
    "  --default-tokens N            completion length when max_tokens is absent (default 16)\n"
    "  --ttft-ms N                   extra delay before the first token (default 0)\n"
    "  --embedding-dim N             embedding vector length (default 8)\n"
    "  --max-model-len N             context length checked like vLLM (default 4096)\n"
    "  --max-num-seqs N              at most N generation requests run, the others wait (default: no bound;\n"
    "                                vllm:gpu_cache_usage_perc = running / N, N = 256 when not given)\n"
    "  --error-format F              current (vLLM >= 0.10.1, {\"error\":{...}}) | vllm-0.6 (flat) (default current)\n"
    "  --tokens-per-chunk N          tokens merged into each stream chunk (default 1)\n"
    "  --merge-deltas                every token due at once goes into one chunk (vLLM V1, slow readers)\n"
    "  --ignore-continuous-usage     ignore stream_options.continuous_usage_stats\n"
    "  --ignore-stream-options       ignore stream_options entirely: no usage in streams (Ollama < 0.5.2)\n"
    "  --cached-prompt-uncounted     --api ollama: a repeated prompt's tokens are not counted (old Ollama)\n"
    "  --prefix-cache-blocks N       prefix cache of N blocks (LRU), 0 = off (default 0)\n"
    "  --block-size N                tokens per prefix-cache block (default 16, as vLLM)\n"
    "  --fault MODE                  none|refuse|500|hang|close|die-mid-stream|error-mid-stream|\n"
    "                                stall-mid-stream (default none)\n"
    "  --fault-every N               fault only every Nth request (default 1 = all)\n"
    "  --quiet                       no log lines on stderr\n"
    "  --allow-runtime-lora          serve /v1/load_lora_adapter and /v1/unload_lora_adapter (vLLM's\n"
    "                                VLLM_ALLOW_RUNTIME_LORA_UPDATING=True); without it they are 404\n"
    "  --lora-load-ms N              answer a /v1/load_lora_adapter N ms late (default 0)\n";

static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < min || v > max) {
        fprintf(stderr, "ig-sim: %s: expected an integer in [%lu, %lu], got '%s'\n", opt, min, max, s);
        return -1;
    }
    *out = v;
    return 0;
}

static const struct {
    const char *name;
    sim_api_mode_t mode;
} api_names[] = {
    {"vllm", SIM_MODE_VLLM},
    {"infinity", SIM_MODE_INFINITY},
    {"ollama", SIM_MODE_OLLAMA},
    {"fasterwhisper", SIM_MODE_FASTERWHISPER},
};

static int parse_api(const char *s)
{
    for (size_t i = 0; i < sizeof(api_names) / sizeof(api_names[0]); i++) {
        if (strcmp(s, api_names[i].name) == 0) {
            sim_cfg.api = api_names[i].mode;
            return 0;
        }
    }
    fprintf(stderr, "ig-sim: --api: unknown engine API '%s'\n", s);
    return -1;
}

static int parse_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        fprintf(stderr, "ig-sim: --listen: expected HOST:PORT, got '%s'\n", s);
        return -1;
    }
    const char *host = s;
    size_t hlen = (size_t)(colon - s);
    if (host[0] == '[' && hlen >= 2 && host[hlen - 1] == ']') { /* [::1]:8000 */
        host++;
        hlen -= 2;
    }
    unsigned long port;
    if (parse_uint("--listen", colon + 1, 0, 65535, &port) != 0)
        return -1;
    sim_cfg.listen_host = strndup(host, hlen);
    sim_cfg.listen_port = (uint16_t)port;
    return sim_cfg.listen_host != NULL ? 0 : -1;
}

/* Splits a comma-separated list, appending non-empty items to *items. */
static int split_list(const char *s, char ***items, size_t *n)
{
    const char *p = s;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0) {
            char **grown = realloc(*items, (*n + 1) * sizeof(**items));
            if (grown == NULL)
                return -1;
            *items = grown;
            if ((grown[*n] = strndup(p, len)) == NULL)
                return -1;
            (*n)++;
        }
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int add_loras(const char *s)
{
    char **items = NULL;
    size_t n = 0;
    if (split_list(s, &items, &n) != 0)
        return -1;
    sim_lora_t *grown = realloc(sim_cfg.loras, (sim_cfg.n_loras + n) * sizeof(*grown));
    if (grown == NULL && n != 0)
        return -1;
    sim_cfg.loras = grown;
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(items[i], '=');
        sim_lora_t *l = &sim_cfg.loras[sim_cfg.n_loras++];
        if (eq != NULL) {
            *eq = '\0';
            l->name = items[i];
            l->root = eq + 1;
        } else {
            l->name = l->root = items[i];
        }
    }
    free(items);
    return 0;
}

int sim_config_parse(int argc, char **argv)
{
    enum { O_LISTEN = 256, O_WORKERS, O_SERVED, O_LORA, O_RATE, O_DEFTOK, O_TTFT, O_EMBDIM, O_MAXLEN, O_MAXSEQS, O_FAULT,
           O_FAULT_EVERY, O_QUIET, O_RUNTIME_LORA, O_LORA_LOAD_MS, O_HELP, O_PREFIX_BLOCKS, O_BLOCK_SIZE, O_API, O_URL_PREFIX,
           O_ERROR_FORMAT, O_TOKENS_PER_CHUNK, O_MERGE_DELTAS, O_IGNORE_CONT_USAGE, O_IGNORE_STREAM_OPTS, O_CACHED_UNCOUNTED };
    static const struct option opts[] = {
        {"api", required_argument, NULL, O_API},
        {"url-prefix", required_argument, NULL, O_URL_PREFIX},
        {"listen", required_argument, NULL, O_LISTEN},
        {"workers", required_argument, NULL, O_WORKERS},
        {"served-model-name", required_argument, NULL, O_SERVED},
        {"lora-modules", required_argument, NULL, O_LORA},
        {"token-rate", required_argument, NULL, O_RATE},
        {"default-tokens", required_argument, NULL, O_DEFTOK},
        {"ttft-ms", required_argument, NULL, O_TTFT},
        {"embedding-dim", required_argument, NULL, O_EMBDIM},
        {"max-model-len", required_argument, NULL, O_MAXLEN},
        {"max-num-seqs", required_argument, NULL, O_MAXSEQS},
        {"fault", required_argument, NULL, O_FAULT},
        {"prefix-cache-blocks", required_argument, NULL, O_PREFIX_BLOCKS},
        {"block-size", required_argument, NULL, O_BLOCK_SIZE},
        {"fault-every", required_argument, NULL, O_FAULT_EVERY},
        {"quiet", no_argument, NULL, O_QUIET},
        {"allow-runtime-lora", no_argument, NULL, O_RUNTIME_LORA},
        {"lora-load-ms", required_argument, NULL, O_LORA_LOAD_MS},
        {"error-format", required_argument, NULL, O_ERROR_FORMAT},
        {"tokens-per-chunk", required_argument, NULL, O_TOKENS_PER_CHUNK},
        {"merge-deltas", no_argument, NULL, O_MERGE_DELTAS},
        {"ignore-continuous-usage", no_argument, NULL, O_IGNORE_CONT_USAGE},
        {"ignore-stream-options", no_argument, NULL, O_IGNORE_STREAM_OPTS},
        {"cached-prompt-uncounted", no_argument, NULL, O_CACHED_UNCOUNTED},
        {"help", no_argument, NULL, O_HELP},
        {NULL, 0, NULL, 0},
    };
    int c;
    unsigned long v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_API:
            if (parse_api(optarg) != 0)
                return 2;
            break;
        case O_URL_PREFIX:
            /* Infinity's rule: empty, or starting with '/' and not ending with one */
            if (optarg[0] != '\0' && (optarg[0] != '/' || optarg[strlen(optarg) - 1] == '/')) {
                fprintf(stderr, "ig-sim: --url-prefix: must start with '/' and not end with '/', got '%s'\n", optarg);
                return 2;
            }
            sim_cfg.url_prefix = optarg;
            break;
        case O_LISTEN:
            if (parse_listen(optarg) != 0)
                return 2;
            break;
        case O_WORKERS:
            if (parse_uint("--workers", optarg, 1, 256, &v) != 0)
                return 2;
            sim_cfg.workers = (unsigned)v;
            break;
        case O_SERVED:
            if (split_list(optarg, &sim_cfg.models, &sim_cfg.n_models) != 0)
                return 2;
            break;
        case O_LORA:
            if (add_loras(optarg) != 0)
                return 2;
            break;
        case O_RATE: {
            char *end;
            errno = 0;
            double r = strtod(optarg, &end);
            if (errno != 0 || end == optarg || *end != '\0' || !(r >= 0) || r > 1e9) {
                fprintf(stderr, "ig-sim: --token-rate: expected a number >= 0, got '%s'\n", optarg);
                return 2;
            }
            sim_cfg.token_rate = r;
            break;
        }
        case O_DEFTOK:
            if (parse_uint("--default-tokens", optarg, 1, 1u << 24, &v) != 0)
                return 2;
            sim_cfg.default_tokens = (unsigned)v;
            break;
        case O_TTFT:
            if (parse_uint("--ttft-ms", optarg, 0, 86400000, &v) != 0)
                return 2;
            sim_cfg.ttft_ms = (unsigned)v;
            break;
        case O_EMBDIM:
            if (parse_uint("--embedding-dim", optarg, 1, 65536, &v) != 0)
                return 2;
            sim_cfg.embedding_dim = (unsigned)v;
            break;
        case O_MAXLEN:
            if (parse_uint("--max-model-len", optarg, 1, 1u << 30, &v) != 0)
                return 2;
            sim_cfg.max_model_len = (unsigned)v;
            break;
        case O_MAXSEQS:
            if (parse_uint("--max-num-seqs", optarg, 1, 1u << 30, &v) != 0)
                return 2;
            sim_cfg.max_num_seqs = (unsigned)v;
            sim_cfg.max_running = (unsigned)v;
            break;
        case O_ERROR_FORMAT:
            if (strcmp(optarg, "current") == 0) {
                sim_cfg.error_format = SIM_ERRORS_CURRENT;
            } else if (strcmp(optarg, "vllm-0.6") == 0) {
                sim_cfg.error_format = SIM_ERRORS_VLLM_0_6;
            } else {
                fprintf(stderr, "ig-sim: --error-format: expected current or vllm-0.6, got '%s'\n", optarg);
                return 2;
            }
            break;
        case O_TOKENS_PER_CHUNK:
            if (parse_uint("--tokens-per-chunk", optarg, 1, 256, &v) != 0)
                return 2;
            sim_cfg.tokens_per_chunk = (unsigned)v;
            break;
        case O_MERGE_DELTAS:
            sim_cfg.merge_deltas = 1;
            break;
        case O_IGNORE_CONT_USAGE:
            sim_cfg.ignore_continuous_usage = 1;
            break;
        case O_IGNORE_STREAM_OPTS:
            sim_cfg.ignore_stream_options = 1;
            break;
        case O_CACHED_UNCOUNTED:
            sim_cfg.cached_prompt_uncounted = 1;
            break;
        case O_PREFIX_BLOCKS:
            if (parse_uint("--prefix-cache-blocks", optarg, 0, 1u << 28, &v) != 0)
                return 2;
            sim_cfg.prefix_cache_blocks = (uint32_t)v;
            break;
        case O_BLOCK_SIZE:
            if (parse_uint("--block-size", optarg, 1, 1u << 16, &v) != 0)
                return 2;
            sim_cfg.block_size = (unsigned)v;
            break;
        case O_FAULT:
            if (sim_fault_from_name(optarg, strlen(optarg), &sim_cfg.fault) != 0) {
                fprintf(stderr,
                        "ig-sim: --fault: unknown mode '%s' (none|refuse|500|hang|close|die-mid-stream|error-mid-stream|"
                        "stall-mid-stream)\n",
                        optarg);
                return 2;
            }
            break;
        case O_FAULT_EVERY:
            if (parse_uint("--fault-every", optarg, 1, UINT32_MAX, &v) != 0)
                return 2;
            sim_cfg.fault_every = (uint32_t)v;
            break;
        case O_QUIET:
            sim_cfg.quiet = 1;
            break;
        case O_RUNTIME_LORA:
            sim_cfg.allow_runtime_lora = 1;
            break;
        case O_LORA_LOAD_MS:
            if (parse_uint("--lora-load-ms", optarg, 0, 600000, &v) != 0)
                return 2;
            sim_cfg.lora_load_ms = (unsigned)v;
            break;
        case O_HELP:
            fputs(usage, stdout);
            return 1;
        default:
            fprintf(stderr, "ig-sim: unknown or incomplete option '%s'\n%s", argv[optind - 1], usage);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ig-sim: unexpected argument '%s'\n%s", argv[optind], usage);
        return 2;
    }
    return 0;
}

const char *sim_config_primary_model(void) { return sim_cfg.n_models > 0 ? sim_cfg.models[0] : SIM_DEFAULT_MODEL; }

static int eq(const char *a, const char *b, size_t blen) { return strlen(a) == blen && memcmp(a, b, blen) == 0; }

int sim_config_model_known(const char *name, size_t len)
{
    if (sim_cfg.n_models == 0)
        return 1;
    for (size_t i = 0; i < sim_cfg.n_models; i++)
        if (eq(sim_cfg.models[i], name, len))
            return 1;
    for (size_t i = 0; i < sim_cfg.n_loras; i++)
        if (eq(sim_cfg.loras[i].name, name, len))
            return 1;
    return sim_lora_dynamic_known(name, len);
}
