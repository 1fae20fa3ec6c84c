#include "sim_stats.h"

#include <stdio.h>
#include <string.h>

#include "sim_prefix.h"
#include "sim_sched.h"

sim_stats_t sim_stats;

static uint64_t get(atomic_uint_fast64_t *v) { return atomic_load_explicit(v, memory_order_relaxed); }

static uint64_t gauge(atomic_int_fast64_t *v)
{
    int64_t x = atomic_load_explicit(v, memory_order_relaxed);
    return x > 0 ? (uint64_t)x : 0;
}

void sim_stats_reset(void)
{
    atomic_uint_fast64_t *counters[] = {&sim_stats.requests,         &sim_stats.prompt_tokens,     &sim_stats.completion_tokens,
                                        &sim_stats.streams_started,  &sim_stats.streams_finished,  &sim_stats.streams_cancelled,
                                        &sim_stats.faults,           &sim_stats.prefix_cache_queries,
                                        &sim_stats.prefix_cache_hits, &sim_stats.audio_ms,
                                        &sim_stats.chunks,           &sim_stats.streams_failed,    &sim_stats.queued,
                                        &sim_stats.prefill_ms};
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
        atomic_store_explicit(counters[i], 0, memory_order_relaxed);
}

static void field(ig_buf_t *b, const char *name, uint64_t v, int last)
{
    ig_buf_putc(b, '"');
    ig_buf_puts(b, name);
    ig_buf_lit(b, "\":");
    ig_buf_put_u64(b, v);
    if (!last)
        ig_buf_putc(b, ',');
}

void sim_stats_json(ig_buf_t *b)
{
    ig_buf_putc(b, '{');
    field(b, "requests", get(&sim_stats.requests), 0);
    field(b, "completion_tokens", get(&sim_stats.completion_tokens), 0);
    field(b, "prompt_tokens", get(&sim_stats.prompt_tokens), 0);
    field(b, "streams_started", get(&sim_stats.streams_started), 0);
    field(b, "streams_finished", get(&sim_stats.streams_finished), 0);
    field(b, "streams_cancelled", get(&sim_stats.streams_cancelled), 0);
    field(b, "active_streams", gauge(&sim_stats.active_streams), 0);
    field(b, "active_requests", gauge(&sim_stats.active_requests), 0);
    field(b, "faults", get(&sim_stats.faults), 0);
    field(b, "prefix_cache_queries", get(&sim_stats.prefix_cache_queries), 0);
    field(b, "prefix_cache_hits", get(&sim_stats.prefix_cache_hits), 0);
    field(b, "audio_ms", get(&sim_stats.audio_ms), 0);
    field(b, "chunks", get(&sim_stats.chunks), 0);
    field(b, "streams_failed", get(&sim_stats.streams_failed), 0);
    field(b, "queued", get(&sim_stats.queued), 0);
    field(b, "waiting", sim_sched_waiting(), 0);
    field(b, "prefill_ms", get(&sim_stats.prefill_ms), 0);
    field(b, "prefix_cache_blocks", sim_prefix_cached_blocks(), 1);
    ig_buf_putc(b, '}');
}

static void metric(ig_buf_t *b, const char *name, const char *type, const char *help, const char *model, double v)
{
    char line[256];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    if (n > 0)
        ig_buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    ig_buf_puts(b, name);
    ig_buf_lit(b, "{model_name=\"");
    /* Prometheus label values escape backslash, quote and newline. */
    for (const char *p = model; *p; p++) {
        if (*p == '\\' || *p == '"')
            ig_buf_putc(b, '\\');
        if (*p == '\n') {
            ig_buf_lit(b, "\\n");
            continue;
        }
        ig_buf_putc(b, *p);
    }
    ig_buf_lit(b, "\"} ");
    /* like Python's repr of a float: 3.0, 0.25 */
    n = v == (double)(int64_t)v ? snprintf(line, sizeof(line), "%.1f\n", v) : snprintf(line, sizeof(line), "%.6g\n", v);
    if (n > 0)
        ig_buf_put(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

void sim_stats_prometheus(ig_buf_t *b, const char *model, unsigned max_num_seqs)
{
    /* every inference request in flight runs, except those waiting for a slot (--max-num-seqs) */
    double waiting = (double)sim_sched_waiting();
    double active = (double)gauge(&sim_stats.active_requests);
    double running = active > waiting ? active - waiting : 0;
    double usage = max_num_seqs ? running / max_num_seqs : 0;
    if (usage > 1)
        usage = 1;
    metric(b, "vllm:num_requests_running", "gauge", "Number of requests currently running on GPU.", model, running);
    metric(b, "vllm:num_requests_swapped", "gauge", "Number of requests swapped to CPU.", model, 0);
    metric(b, "vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.", model, waiting);
    metric(b, "vllm:gpu_cache_usage_perc", "gauge", "GPU KV-cache usage. 1 means 100 percent usage.", model, usage);
    metric(b, "vllm:cpu_cache_usage_perc", "gauge", "CPU KV-cache usage. 1 means 100 percent usage.", model, 0);
    metric(b, "vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.", model,
           (double)get(&sim_stats.prompt_tokens));
    metric(b, "vllm:generation_tokens_total", "counter", "Number of generation tokens processed.", model,
           (double)get(&sim_stats.completion_tokens));
    /* vLLM V1's prefix-cache counters (tokens), and V0's hit-rate gauge */
    uint64_t queries = get(&sim_stats.prefix_cache_queries), hits = get(&sim_stats.prefix_cache_hits);
    metric(b, "vllm:prefix_cache_queries_total", "counter",
           "Prefix cache queries, in terms of number of queried tokens.", model, (double)queries);
    metric(b, "vllm:prefix_cache_hits_total", "counter", "Prefix cache hits, in terms of number of cached tokens.",
           model, (double)hits);
    metric(b, "vllm:gpu_prefix_cache_hit_rate", "gauge", "GPU prefix cache block hit rate.", model,
           queries ? (double)hits / (double)queries : 0);
}
