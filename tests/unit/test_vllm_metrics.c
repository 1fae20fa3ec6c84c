/*
 * test_vllm_metrics.c — vLLM's /metrics page to a load report
 * (plugins/vllm/vllm_metrics.c, compiled in).
 */
#include <math.h>
#include <string.h>
#include "ig_test.h"
#include "vllm_metrics.h"

static int near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static ig_engine_load_t parse(const char *text, int *rc)
{
    ig_engine_load_t l = {99, 99, 99};
    *rc = vllm_parse_metrics(text, strlen(text), &l);
    return l;
}

#define EXPECT(text, want_rc, r, w, kv)                                                                         \
    do {                                                                                                        \
        int rc_;                                                                                                \
        ig_engine_load_t l_ = parse(text, &rc_);                                                                \
        CHECKF(rc_ == (want_rc) && near(l_.running, r) && near(l_.waiting, w) && near(l_.kv_cache_usage, kv), \
               "line %d: rc %d running %g waiting %g kv %g", __LINE__, rc_, l_.running, l_.waiting,            \
               l_.kv_cache_usage);                                                                              \
    } while (0)

/* What vLLM 0.6 serves (abridged: histograms trimmed), with two label sets for running. */
static const char vllm_page[] =
    "# HELP vllm:cache_config_info Information of the LLMEngine CacheConfig\n"
    "# TYPE vllm:cache_config_info gauge\n"
    "vllm:cache_config_info{block_size=\"16\",cache_dtype=\"auto\",num_gpu_blocks=\"27064\"} 1.0\n"
    "# HELP vllm:num_requests_running Number of requests currently running on GPU.\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 3.0\n"
    "vllm:num_requests_running{model_name=\"sql-lora\"} 2.0\n"
    "# HELP vllm:num_requests_swapped Number of requests swapped to CPU.\n"
    "vllm:num_requests_swapped{model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 7.0\n"
    "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n"
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 1.2e+01\n"
    "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.\n"
    "# TYPE vllm:gpu_cache_usage_perc gauge\n"
    "vllm:gpu_cache_usage_perc{model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 0.0625\n"
    "vllm:num_requests_running_total{model_name=\"x\"} 1000.0\n"
    "vllm:num_requests_waiting_by_reason{reason=\"capacity\"} 50\n"
    "vllm:time_to_first_token_seconds_bucket{le=\"0.001\",model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 0.0\n"
    "vllm:e2e_request_latency_seconds_sum{model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} 12.5\n";

int main(void)
{
    EXPECT(vllm_page, 0, 5, 12, 0.0625);

    /* missing metrics: -1 each; nothing at all: -1 overall */
    EXPECT("vllm:num_requests_running 4\n", 0, 4, -1, -1);
    EXPECT("vllm:num_requests_waiting{a=\"b\"} 1\n", 0, -1, 1, -1);
    EXPECT("", -1, -1, -1, -1);
    EXPECT("# only comments\n# TYPE vllm:num_requests_running gauge\n", -1, -1, -1, -1);
    EXPECT("<html>502 Bad Gateway</html>", -1, -1, -1, -1);

    /* vLLM V1 names the KV-cache metric differently; several label sets (data parallel): the highest */
    EXPECT("vllm:kv_cache_usage_perc{engine=\"0\"} 0.25\nvllm:kv_cache_usage_perc{engine=\"1\"} 0.75\n"
           "vllm:num_requests_running{engine=\"0\"} 1\nvllm:num_requests_running{engine=\"1\"} 2\n",
           0, 3, -1, 0.75);

    /* number syntax: exponents, signs, integers, timestamps, CRLF, no trailing newline */
    EXPECT("vllm:num_requests_running 1e1\r\nvllm:num_requests_waiting +2.5E-1 1700000000000\r\n"
           "vllm:gpu_cache_usage_perc 5E-1",
           0, 10, 0.25, 0.5);
    /* NaN, infinities, negatives, garbage and missing values are skipped, the rest still counts */
    EXPECT("vllm:num_requests_running NaN\nvllm:num_requests_running +Inf\nvllm:num_requests_running -1\n"
           "vllm:num_requests_running 3x\nvllm:num_requests_running\nvllm:num_requests_running{a=\"b\"}\n"
           "vllm:num_requests_running 2\n",
           0, 2, -1, -1);

    /* labels: quoted '}' and escaped quotes do not end the set; an unterminated set is skipped */
    EXPECT("vllm:num_requests_running{path=\"/a}b\",q=\"say \\\"hi\\\"\",nl=\"x\\ny\"} 6\n"
           "vllm:num_requests_running{broken=\"oops 9\n"
           "vllm:num_requests_waiting {model_name=\"m\"} 1\n",
           0, 6, 1, -1);

    /* names must match exactly, not by prefix; leading blanks and blank lines are fine */
    EXPECT("vllm:num_requests_runningX 9\nxvllm:num_requests_running 9\n\n   vllm:num_requests_waiting\t4\n", 0,
           -1, 4, -1);

    /* a body with NUL bytes and no newline at all is handled within len */
    {
        static const char withnul[] = "vllm:num_requests_running 1\n\0vllm:num_requests_running 5\n";
        ig_engine_load_t l;
        int rc = vllm_parse_metrics(withnul, sizeof(withnul) - 1, &l);
        CHECKF(rc == 0 && near(l.running, 1), "rc %d running %g", rc, l.running);
        rc = vllm_parse_metrics(withnul, 20, &l); /* cut inside the first sample: "vllm:num_requests_r" */
        CHECK(rc == -1);
    }
    return ig_test_summary();
}
