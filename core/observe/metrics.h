/*
 * metrics.h — request counters for /metrics, kept per worker thread.
 *
 * Each worker thread owns one shard and is its only writer: recording a
 * request takes no lock and no contended atomic (counters are atomics only so
 * that the scraping thread's reads are defined; a relaxed load + store by the
 * single writer compiles to a plain add). Label sets that grow at run time
 * (model × customer × status) live in a per-shard hash table whose index only
 * the writer touches; its entries are also chained in a list that is only
 * ever prepended to, with a release store, so a scrape on another thread
 * walks a consistent list without stopping the writer.
 *
 * A scrape (ig_metrics_render) merges every shard's entries by label set and
 * writes the Prometheus text exposition format (version 0.0.4).
 */
#ifndef IG_METRICS_H
#define IG_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"
#include "util/buf.h"

typedef struct ig_metrics_shard_s ig_metrics_shard_t;
typedef struct ig_metrics_model_s ig_metrics_model_t;

/* Buckets of the latency and time-to-first-token histograms, in seconds (+Inf is implied). */
#define IG_METRICS_NBUCKETS 14
extern const double ig_metrics_buckets[IG_METRICS_NBUCKETS];

/* Series beyond this many per shard are folded into customer="(other)", so a flood of label values
 * cannot grow memory without bound. Models are bounded by the configuration. */
#define IG_METRICS_MAX_SERIES 8192

ig_metrics_shard_t *ig_metrics_shard_create(void);
void ig_metrics_shard_free(ig_metrics_shard_t *s);

/* The shard's entry for a model (created on first use), or NULL when out of memory. Writer thread. */
ig_metrics_model_t *ig_metrics_model(ig_metrics_shard_t *s, const char *name, size_t len);
/* A request for the model started / ended (the in-flight gauge). Writer thread. */
void ig_metrics_model_enter(ig_metrics_model_t *m);
void ig_metrics_model_leave(ig_metrics_model_t *m);

/* One finished API request. */
typedef struct {
    ig_metrics_model_t *model;   /* NULL: no known model (label model="") */
    const char *customer;        /* NULL or empty: anonymous */
    size_t customer_len;
    int status;
    uint64_t duration_us;
    int64_t ttft_us;             /* to the first byte sent; < 0 when none was */
    const ig_usage_t *usage;     /* NULL when no engine answered; fields < 0 where unknown */
    int rate_limited;            /* refused by a rate limiter */
} ig_metrics_request_t;

/* Writer thread; never fails (a series that cannot be allocated is not counted). */
void ig_metrics_record(ig_metrics_shard_t *s, const ig_metrics_request_t *r);

/* A label value, escaped as the text format wants (\\, \", \n). */
void ig_metrics_buf_label(ig_buf_t *b, const char *v, size_t len);
/* "# HELP name help\n# TYPE name type\n" */
void ig_metrics_buf_family(ig_buf_t *b, const char *name, const char *type, const char *help);

/*
 * Appends the request families merged over shards: infergate_requests_total, infergate_tokens_total,
 * infergate_audio_seconds_total, infergate_ratelimit_rejections_total,
 * infergate_request_duration_seconds, infergate_time_to_first_token_seconds,
 * infergate_requests_in_flight. Any thread, concurrently with the writers.
 */
void ig_metrics_render(ig_metrics_shard_t *const *shards, size_t n, ig_buf_t *out);

/* One model's counters summed over every shard (what the console shows; tokens/s is the rate of
 * completion_tokens). Any thread, concurrently with the writers. */
typedef struct {
    uint64_t requests, in_flight, prompt_tokens, completion_tokens;
} ig_metrics_model_totals_t;
void ig_metrics_model_totals(ig_metrics_shard_t *const *shards, size_t n, const char *name, size_t len,
                             ig_metrics_model_totals_t *out);

#endif
