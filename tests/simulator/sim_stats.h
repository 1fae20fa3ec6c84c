/* sim_stats: process-wide counters shared by all workers (C11 atomics, relaxed ordering: the
 * numbers are read by tests after the fact, never used to synchronise anything). */
#ifndef SIM_STATS_H
#define SIM_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include "sim_buf.h"

typedef struct sim_stats {
    atomic_uint_fast64_t requests;          /* inference requests received (chat, completions, embeddings) */
    atomic_uint_fast64_t prompt_tokens;     /* prompt tokens of requests that were accepted */
    atomic_uint_fast64_t completion_tokens; /* tokens generated and handed to the connection */
    atomic_uint_fast64_t streams_started;
    atomic_uint_fast64_t streams_finished;  /* sent through data: [DONE] */
    atomic_uint_fast64_t streams_cancelled; /* the client went away before the end */
    atomic_uint_fast64_t faults;            /* requests or connections a fault was injected into */
    atomic_uint_fast64_t prefix_cache_queries; /* prompt tokens looked up in the prefix cache */
    atomic_uint_fast64_t prefix_cache_hits;    /* of those, tokens found cached */
    atomic_uint_fast64_t audio_ms;          /* audio transcribed or translated, in milliseconds */
    atomic_uint_fast64_t chunks;            /* stream events that carried tokens (several when deltas merge) */
    atomic_uint_fast64_t streams_failed;    /* ended by the engine's error event (error-mid-stream) */
    atomic_uint_fast64_t queued;            /* generation requests that had to wait for a running slot */
    atomic_uint_fast64_t prefill_ms;        /* time-to-first-token delays scheduled (--ttft-ms, scaled), summed */
    atomic_int_fast64_t active_streams;     /* gauge, not reset */
    atomic_int_fast64_t active_requests;    /* gauge, not reset: inference requests in flight */
} sim_stats_t;

extern sim_stats_t sim_stats;

#define SIM_STAT_ADD(field, n) atomic_fetch_add_explicit(&sim_stats.field, (n), memory_order_relaxed)
#define SIM_STAT_SUB(field, n) atomic_fetch_sub_explicit(&sim_stats.field, (n), memory_order_relaxed)

/* Zeroes the counters (not the gauges). */
void sim_stats_reset(void);
/* GET /sim/stats body. */
void sim_stats_json(ig_buf_t *b);
/* GET /metrics body in vLLM's metric names; `model` labels the series, `max_num_seqs` scales the
 * simulated KV-cache usage. */
void sim_stats_prometheus(ig_buf_t *b, const char *model, unsigned max_num_seqs);

#endif
