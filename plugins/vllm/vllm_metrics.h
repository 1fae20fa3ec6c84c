/*
 * vllm_metrics.h — reads vLLM's load from its Prometheus /metrics page.
 *
 * Kept apart from vllm.c, with no dependency on the host, so the unit test
 * compiles it alone (tests/unit/test_vllm_metrics.c).
 */
#ifndef IG_VLLM_METRICS_H
#define IG_VLLM_METRICS_H

#include <stddef.h>
#include "infergate/plugin.h"

/*
 * Parses Prometheus text exposition (version 0.0.4) and fills out with
 *   running        = sum of vllm:num_requests_running over its label sets,
 *   waiting        = sum of vllm:num_requests_waiting,
 *   kv_cache_usage = highest vllm:gpu_cache_usage_perc (vLLM V1: vllm:kv_cache_usage_perc),
 * each -1 when absent. A usage fraction is not summed: with several engines
 * behind one server (data parallel), the fullest is the one that matters.
 * Comments, other metrics, timestamps, NaN, negative and malformed samples
 * are skipped. Returns 0 when at least one of the three was found, -1 otherwise.
 */
int vllm_parse_metrics(const char *text, size_t len, ig_engine_load_t *out);

#endif
