/*
 * test_metrics.c — /metrics counters: per-shard recording, merging shards by label set, the
 * Prometheus text format (families, label escaping, cumulative histogram buckets, tokens summed
 * over statuses), the series cap, and a scrape running while a writer thread records.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ig_test.h"
#include "observe/metrics.h"

/* The value of the sample written exactly as `series` (name{labels}), or -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    }
    return -1;
}

static size_t count_lines(const char *text, const char *prefix)
{
    size_t c = 0, n = strlen(prefix);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        c += strncmp(line, prefix, n) == 0;
    return c;
}

static void record(ig_metrics_shard_t *s, ig_metrics_model_t *m, const char *customer, int status, uint64_t dur_us,
                   int64_t ttft_us, const ig_usage_t *usage)
{
    ig_metrics_request_t r = {.model = m, .customer = customer, .customer_len = customer ? strlen(customer) : 0,
                              .status = status, .duration_us = dur_us, .ttft_us = ttft_us, .usage = usage,
                              .rate_limited = status == 429};
    ig_metrics_record(s, &r);
}

static void merge_and_format(void)
{
    ig_metrics_shard_t *a = ig_metrics_shard_create(), *b = ig_metrics_shard_create();
    ig_metrics_model_t *ca = ig_metrics_model(a, "chat", 4), *cb = ig_metrics_model(b, "chat", 4);
    CHECK(ca != NULL && cb != NULL && ca != cb);
    CHECK(ig_metrics_model(a, "chat", 4) == ca); /* found again, not created twice */
    ig_metrics_model_t *odd = ig_metrics_model(a, "we\"ird\\m\nodel", 13);
    ig_usage_t u1 = {10, 5, 2, -1}, u2 = {7, -1, -1, 1.5};
    /* shard a: 2 ok for acme, 1 rate-limited; shard b: 1 ok for acme, 1 anonymous 404 without a model */
    ig_metrics_model_enter(ca);
    record(a, ca, "acme", 200, 3000, 1000, &u1);          /* 3 ms, ttft 1 ms */
    record(a, ca, "acme", 200, 700000, 40000, &u1);       /* 0.7 s, ttft 40 ms */
    record(a, ca, "acme", 429, 100, -1, NULL);
    record(b, cb, "acme", 200, 2000000, 300000, &u2);     /* 2 s, ttft 0.3 s */
    record(b, NULL, NULL, 404, 50, 50, NULL);
    record(a, odd, "c\"x", 500, 10, -1, NULL);
    ig_metrics_model_enter(cb);
    ig_metrics_model_enter(cb);
    ig_metrics_model_leave(cb);

    ig_metrics_shard_t *shards[] = {a, b};
    ig_buf_t out = {0};
    ig_metrics_render(shards, 2, &out);
    CHECK(!out.failed && out.p != NULL);
    const char *t = out.p ? out.p : "";
    CHECKF(sample(t, "infergate_requests_total{model=\"chat\",customer=\"acme\",status=\"200\"}") == 3, "%s", t);
    CHECK(sample(t, "infergate_requests_total{model=\"chat\",customer=\"acme\",status=\"429\"}") == 1);
    CHECK(sample(t, "infergate_requests_total{model=\"\",customer=\"\",status=\"404\"}") == 1);
    CHECKF(sample(t, "infergate_requests_total{model=\"we\\\"ird\\\\m\\nodel\",customer=\"c\\\"x\",status=\"500\"}") == 1,
           "escaping:\n%s", t);
    /* tokens are summed over statuses; unknown fields (-1) add nothing */
    CHECK(sample(t, "infergate_tokens_total{model=\"chat\",customer=\"acme\",kind=\"prompt\"}") == 27);
    CHECK(sample(t, "infergate_tokens_total{model=\"chat\",customer=\"acme\",kind=\"completion\"}") == 10);
    CHECK(sample(t, "infergate_tokens_total{model=\"chat\",customer=\"acme\",kind=\"cached\"}") == 4);
    CHECK(sample(t, "infergate_audio_seconds_total{model=\"chat\",customer=\"acme\"}") == 1.5);
    CHECK(count_lines(t, "infergate_tokens_total{model=\"\"") == 0); /* no tokens for unknown models */
    CHECK(sample(t, "infergate_ratelimit_rejections_total{model=\"chat\"}") == 1);
    CHECK(sample(t, "infergate_requests_in_flight{model=\"chat\"}") == 2);
    /* histogram: cumulative, merged over shards; 4 requests of chat (3 ms, 0.1 ms, 0.7 s, 2 s) */
    CHECK(sample(t, "infergate_request_duration_seconds_bucket{model=\"chat\",le=\"0.005\"}") == 2);
    CHECK(sample(t, "infergate_request_duration_seconds_bucket{model=\"chat\",le=\"0.5\"}") == 2);
    CHECK(sample(t, "infergate_request_duration_seconds_bucket{model=\"chat\",le=\"1\"}") == 3);
    CHECK(sample(t, "infergate_request_duration_seconds_bucket{model=\"chat\",le=\"2.5\"}") == 4);
    CHECK(sample(t, "infergate_request_duration_seconds_bucket{model=\"chat\",le=\"+Inf\"}") == 4);
    CHECK(sample(t, "infergate_request_duration_seconds_count{model=\"chat\"}") == 4);
    CHECKF(sample(t, "infergate_request_duration_seconds_sum{model=\"chat\"}") == 2.7031, "sum %f",
           sample(t, "infergate_request_duration_seconds_sum{model=\"chat\"}"));
    CHECK(sample(t, "infergate_time_to_first_token_seconds_count{model=\"chat\"}") == 3);
    CHECK(sample(t, "infergate_time_to_first_token_seconds_bucket{model=\"chat\",le=\"0.025\"}") == 1);
    CHECK(sample(t, "infergate_time_to_first_token_seconds_bucket{model=\"chat\",le=\"0.05\"}") == 2);
    CHECK(sample(t, "infergate_time_to_first_token_seconds_bucket{model=\"chat\",le=\"0.25\"}") == 2);
    CHECK(sample(t, "infergate_time_to_first_token_seconds_bucket{model=\"chat\",le=\"0.5\"}") == 3);
    /* each family declared once, before its samples; one bucket line per bound + Inf per model */
    CHECK(count_lines(t, "# TYPE infergate_requests_total counter") == 1);
    CHECK(count_lines(t, "# TYPE infergate_request_duration_seconds histogram") == 1);
    CHECK(count_lines(t, "infergate_request_duration_seconds_bucket{model=\"chat\"") == IG_METRICS_NBUCKETS + 1);
    CHECK(strstr(t, "# TYPE infergate_requests_total") < strstr(t, "infergate_requests_total{"));
    /* every line is a comment or "series value" */
    for (const char *line = t; *line; line = strchr(line, '\n') + 1) {
        const char *nl = strchr(line, '\n');
        if (!CHECK(nl != NULL))
            break;
        if (line[0] != '#')
            CHECKF(memchr(line, ' ', (size_t)(nl - line)) != NULL, "line: %.*s", (int)(nl - line), line);
    }
    free(out.p);
    ig_metrics_shard_free(a);
    ig_metrics_shard_free(b);
}

static void series_cap(void)
{
    ig_metrics_shard_t *s = ig_metrics_shard_create();
    ig_metrics_model_t *m = ig_metrics_model(s, "chat", 4);
    char name[32];
    for (int i = 0; i < IG_METRICS_MAX_SERIES + 100; i++) {
        snprintf(name, sizeof(name), "c%d", i);
        record(s, m, name, 200, 10, -1, NULL);
    }
    ig_buf_t out = {0};
    ig_metrics_render(&s, 1, &out);
    CHECK(sample(out.p, "infergate_requests_total{model=\"chat\",customer=\"c0\",status=\"200\"}") == 1);
    CHECK(sample(out.p, "infergate_requests_total{model=\"chat\",customer=\"(other)\",status=\"200\"}") == 100);
    CHECK(count_lines(out.p, "infergate_requests_total{") == IG_METRICS_MAX_SERIES + 1);
    CHECK(sample(out.p, "infergate_request_duration_seconds_count{model=\"chat\"}") == IG_METRICS_MAX_SERIES + 100);
    free(out.p);
    ig_metrics_shard_free(s);
}

/* A writer adds series and models while scrapes walk the shard: every scrape sees a consistent list. */
#define WRITES 20000
static void *writer(void *arg)
{
    ig_metrics_shard_t *s = arg;
    char name[32];
    for (int i = 0; i < WRITES; i++) {
        snprintf(name, sizeof(name), "m%d", i % 300);
        ig_metrics_model_t *m = ig_metrics_model(s, name, strlen(name));
        snprintf(name, sizeof(name), "cust%d", i % 1000);
        record(s, m, name, 200 + i % 3, (uint64_t)i, i, NULL);
    }
    return NULL;
}

static void concurrent_scrape(void)
{
    ig_metrics_shard_t *s = ig_metrics_shard_create();
    pthread_t t;
    pthread_create(&t, NULL, writer, s);
    int scrapes = 0;
    for (; scrapes < 50; scrapes++) {
        ig_buf_t out = {0};
        ig_metrics_render(&s, 1, &out);
        free(out.p);
    }
    pthread_join(t, NULL);
    ig_buf_t out = {0};
    ig_metrics_render(&s, 1, &out);
    double total = 0;
    for (const char *p = out.p; (p = strstr(p, "infergate_request_duration_seconds_count{")) != NULL; p++)
        total += strtod(strchr(p, ' ') + 1, NULL);
    CHECKF(total == WRITES, "total %f after %d concurrent scrapes", total, scrapes);
    free(out.p);
    ig_metrics_shard_free(s);
}

int main(void)
{
    merge_and_format();
    series_cap();
    concurrent_scrape();
    return ig_test_summary();
}
