/*
 * metrics.c — per-worker request counters and their Prometheus exposition.
 * See metrics.h for the threading model: one writer per shard, readers walk
 * publish-only lists.
 */
#include "observe/metrics.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

const double ig_metrics_buckets[IG_METRICS_NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                        1,     2.5,  5,     10,   30,  60,  120};

typedef atomic_uint_fast64_t counter_t;

typedef struct {
    counter_t buckets[IG_METRICS_NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    counter_t count, sum_us;
} hist_t;

struct ig_metrics_model_s {
    ig_metrics_model_t *next; /* immutable once published */
    char *name;
    size_t len;
    uint32_t hash;
    counter_t in_flight;
    counter_t rate_limited;
    hist_t latency, ttft;
};

typedef struct series_s {
    struct series_s *next;
    ig_metrics_model_t *model; /* NULL: unknown model */
    char *customer;
    size_t customer_len;
    int status;
    uint32_t hash;
    counter_t requests, prompt, completion, cached, audio_us;
} series_t;

struct ig_metrics_shard_s {
    _Atomic(ig_metrics_model_t *) models; /* readers' view: newest first */
    _Atomic(series_t *) series;
    /* the writer's own indexes (open addressing, grown at 50 % load) */
    ig_metrics_model_t **model_index;
    size_t model_mask, nmodels;
    series_t **series_index;
    size_t series_mask, nseries;
};

/* Only this shard's thread writes a counter, so a relaxed load and store cannot lose an update. */
static inline void bump(counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static inline uint64_t get(const counter_t *c)
{
    return atomic_load_explicit((counter_t *)c, memory_order_relaxed);
}

ig_metrics_shard_t *ig_metrics_shard_create(void)
{
    ig_metrics_shard_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->model_mask = 15;
    s->series_mask = 63;
    s->model_index = calloc(s->model_mask + 1, sizeof(*s->model_index));
    s->series_index = calloc(s->series_mask + 1, sizeof(*s->series_index));
    if (s->model_index == NULL || s->series_index == NULL) {
        ig_metrics_shard_free(s);
        return NULL;
    }
    return s;
}

void ig_metrics_shard_free(ig_metrics_shard_t *s)
{
    if (s == NULL)
        return;
    for (series_t *e = atomic_load(&s->series), *next; e != NULL; e = next) {
        next = e->next;
        free(e->customer);
        free(e);
    }
    for (ig_metrics_model_t *m = atomic_load(&s->models), *next; m != NULL; m = next) {
        next = m->next;
        free(m->name);
        free(m);
    }
    free(s->model_index);
    free(s->series_index);
    free(s);
}

/* ---- the writer's side --------------------------------------------------------------------------- */

static int grow_models(ig_metrics_shard_t *s)
{
    size_t mask = s->model_mask * 2 + 1;
    ig_metrics_model_t **idx = calloc(mask + 1, sizeof(*idx));
    if (idx == NULL)
        return -1;
    for (size_t i = 0; i <= s->model_mask; i++) {
        ig_metrics_model_t *m = s->model_index[i];
        if (m == NULL)
            continue;
        size_t slot = m->hash & mask;
        while (idx[slot] != NULL)
            slot = (slot + 1) & mask;
        idx[slot] = m;
    }
    free(s->model_index);
    s->model_index = idx;
    s->model_mask = mask;
    return 0;
}

ig_metrics_model_t *ig_metrics_model(ig_metrics_shard_t *s, const char *name, size_t len)
{
    uint32_t h = ig_fnv1a32(IG_FNV32_OFFSET, name, len);
    size_t slot = h & s->model_mask;
    for (ig_metrics_model_t *m; (m = s->model_index[slot]) != NULL; slot = (slot + 1) & s->model_mask)
        if (m->hash == h && m->len == len && memcmp(m->name, name, len) == 0)
            return m;
    if ((s->nmodels + 1) * 2 > s->model_mask + 1) {
        if (grow_models(s) != 0)
            return NULL;
        return ig_metrics_model(s, name, len);
    }
    ig_metrics_model_t *m = calloc(1, sizeof(*m));
    char *copy = malloc(len + 1);
    if (m == NULL || copy == NULL) {
        free(m);
        free(copy);
        return NULL;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    m->name = copy;
    m->len = len;
    m->hash = h;
    s->model_index[slot] = m;
    s->nmodels++;
    m->next = atomic_load_explicit(&s->models, memory_order_relaxed);
    atomic_store_explicit(&s->models, m, memory_order_release); /* published whole */
    return m;
}

void ig_metrics_model_enter(ig_metrics_model_t *m)
{
    if (m != NULL)
        bump(&m->in_flight, 1);
}

void ig_metrics_model_leave(ig_metrics_model_t *m)
{
    if (m != NULL)
        bump(&m->in_flight, (uint64_t)-1);
}

static uint32_t series_hash(const ig_metrics_model_t *model, const char *customer, size_t clen, int status)
{
    uint32_t h = ig_fnv1a32(IG_FNV32_OFFSET, &model, sizeof(model));
    h = ig_fnv1a32(h, customer, clen);
    return ig_fnv1a32(h, &status, sizeof(status));
}

static int grow_series(ig_metrics_shard_t *s)
{
    size_t mask = s->series_mask * 2 + 1;
    series_t **idx = calloc(mask + 1, sizeof(*idx));
    if (idx == NULL)
        return -1;
    for (size_t i = 0; i <= s->series_mask; i++) {
        series_t *e = s->series_index[i];
        if (e == NULL)
            continue;
        size_t slot = e->hash & mask;
        while (idx[slot] != NULL)
            slot = (slot + 1) & mask;
        idx[slot] = e;
    }
    free(s->series_index);
    s->series_index = idx;
    s->series_mask = mask;
    return 0;
}

static series_t *find_series(ig_metrics_shard_t *s, ig_metrics_model_t *model, const char *customer, size_t clen,
                             int status)
{
    uint32_t h = series_hash(model, customer, clen, status);
    size_t slot = h & s->series_mask;
    for (series_t *e; (e = s->series_index[slot]) != NULL; slot = (slot + 1) & s->series_mask)
        if (e->hash == h && e->model == model && e->status == status && e->customer_len == clen &&
            memcmp(e->customer, customer, clen) == 0)
            return e;
    if (s->nseries >= IG_METRICS_MAX_SERIES && !(clen == 7 && memcmp(customer, "(other)", 7) == 0))
        return find_series(s, model, "(other)", 7, status);
    if ((s->nseries + 1) * 2 > s->series_mask + 1) {
        if (grow_series(s) != 0)
            return NULL;
        return find_series(s, model, customer, clen, status);
    }
    series_t *e = calloc(1, sizeof(*e));
    char *copy = malloc(clen + 1);
    if (e == NULL || copy == NULL) {
        free(e);
        free(copy);
        return NULL;
    }
    memcpy(copy, customer, clen);
    copy[clen] = '\0';
    e->model = model;
    e->customer = copy;
    e->customer_len = clen;
    e->status = status;
    e->hash = h;
    s->series_index[slot] = e;
    s->nseries++;
    e->next = atomic_load_explicit(&s->series, memory_order_relaxed);
    atomic_store_explicit(&s->series, e, memory_order_release);
    return e;
}

static void observe(hist_t *h, uint64_t us)
{
    double sec = (double)us / 1e6;
    size_t b = 0;
    while (b < IG_METRICS_NBUCKETS && sec > ig_metrics_buckets[b])
        b++;
    bump(&h->buckets[b], 1);
    bump(&h->count, 1);
    bump(&h->sum_us, us);
}

void ig_metrics_record(ig_metrics_shard_t *s, const ig_metrics_request_t *r)
{
    const char *customer = r->customer ? r->customer : "";
    series_t *e = find_series(s, r->model, customer, r->customer ? r->customer_len : 0, r->status);
    if (e != NULL) {
        bump(&e->requests, 1);
        if (r->usage != NULL) {
            if (r->usage->prompt_tokens > 0)
                bump(&e->prompt, (uint64_t)r->usage->prompt_tokens);
            if (r->usage->completion_tokens > 0)
                bump(&e->completion, (uint64_t)r->usage->completion_tokens);
            if (r->usage->cached_tokens > 0)
                bump(&e->cached, (uint64_t)r->usage->cached_tokens);
            if (r->usage->audio_seconds > 0)
                bump(&e->audio_us, (uint64_t)(r->usage->audio_seconds * 1e6 + 0.5));
        }
    }
    ig_metrics_model_t *m = r->model;
    if (m == NULL)
        return;
    if (r->rate_limited)
        bump(&m->rate_limited, 1);
    observe(&m->latency, r->duration_us);
    if (r->ttft_us >= 0)
        observe(&m->ttft, (uint64_t)r->ttft_us);
}

/* ---- text ------------------------------------------------------------------------------------------- */

void ig_metrics_buf_label(ig_buf_t *b, const char *v, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *esc = v[i] == '\\' ? "\\\\" : v[i] == '"' ? "\\\"" : v[i] == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        ig_buf_printf(b, "%.*s%s", (int)(i - start), v + start, esc);
        start = i + 1;
    }
    ig_buf_printf(b, "%.*s", (int)(len - start), v + start);
}

void ig_metrics_buf_family(ig_buf_t *b, const char *name, const char *type, const char *help)
{
    ig_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- merging shards on a scrape ------------------------------------------------------------------- */

typedef struct {
    const char *model; /* "" when unknown */
    size_t model_len;
    const char *customer;
    size_t customer_len;
    int status;
    uint64_t requests, prompt, completion, cached, audio_us;
} row_t;

typedef struct {
    const char *name;
    size_t len;
    uint64_t in_flight, rate_limited;
    uint64_t lat[IG_METRICS_NBUCKETS + 1], lat_count, lat_sum_us;
    uint64_t ttft[IG_METRICS_NBUCKETS + 1], ttft_count, ttft_sum_us;
} model_row_t;

static int cmp_str(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

static int cmp_row(const void *pa, const void *pb)
{
    const row_t *a = pa, *b = pb;
    int c = cmp_str(a->model, a->model_len, b->model, b->model_len);
    if (c == 0)
        c = cmp_str(a->customer, a->customer_len, b->customer, b->customer_len);
    return c != 0 ? c : (a->status > b->status) - (a->status < b->status);
}

static int cmp_model_row(const void *pa, const void *pb)
{
    const model_row_t *a = pa, *b = pb;
    return cmp_str(a->name, a->len, b->name, b->len);
}

static int same_key(const row_t *a, const row_t *b, int with_status)
{
    return a->model_len == b->model_len && memcmp(a->model, b->model, a->model_len) == 0 &&
           a->customer_len == b->customer_len && memcmp(a->customer, b->customer, a->customer_len) == 0 &&
           (!with_status || a->status == b->status);
}

/* Every shard's rows, sorted and merged by (model, customer, status). *n_out rows; NULL when none or out of memory. */
static row_t *collect_rows(ig_metrics_shard_t *const *shards, size_t n, size_t *n_out)
{
    size_t total = 0, cap = 0;
    row_t *rows = NULL;
    for (size_t i = 0; i < n; i++) {
        for (series_t *e = atomic_load_explicit(&shards[i]->series, memory_order_acquire); e != NULL; e = e->next) {
            if (total == cap) {
                cap = cap ? cap * 2 : 64;
                row_t *r = realloc(rows, cap * sizeof(*r));
                if (r == NULL) {
                    free(rows);
                    *n_out = 0;
                    return NULL;
                }
                rows = r;
            }
            rows[total++] = (row_t){
                .model = e->model ? e->model->name : "",
                .model_len = e->model ? e->model->len : 0,
                .customer = e->customer,
                .customer_len = e->customer_len,
                .status = e->status,
                .requests = get(&e->requests),
                .prompt = get(&e->prompt),
                .completion = get(&e->completion),
                .cached = get(&e->cached),
                .audio_us = get(&e->audio_us),
            };
        }
    }
    if (total > 1)
        qsort(rows, total, sizeof(*rows), cmp_row);
    size_t out = 0;
    for (size_t i = 0; i < total; i++) {
        if (out > 0 && same_key(&rows[out - 1], &rows[i], 1)) {
            row_t *d = &rows[out - 1];
            d->requests += rows[i].requests;
            d->prompt += rows[i].prompt;
            d->completion += rows[i].completion;
            d->cached += rows[i].cached;
            d->audio_us += rows[i].audio_us;
        } else {
            rows[out++] = rows[i];
        }
    }
    *n_out = out;
    return rows;
}

static void add_hist(uint64_t *buckets, uint64_t *count, uint64_t *sum, const hist_t *h)
{
    for (size_t b = 0; b <= IG_METRICS_NBUCKETS; b++)
        buckets[b] += get(&h->buckets[b]);
    *count += get(&h->count);
    *sum += get(&h->sum_us);
}

static model_row_t *collect_models(ig_metrics_shard_t *const *shards, size_t n, size_t *n_out)
{
    size_t total = 0, cap = 0;
    model_row_t *rows = NULL;
    for (size_t i = 0; i < n; i++) {
        for (ig_metrics_model_t *m = atomic_load_explicit(&shards[i]->models, memory_order_acquire); m != NULL;
             m = m->next) {
            if (total == cap) {
                cap = cap ? cap * 2 : 16;
                model_row_t *r = realloc(rows, cap * sizeof(*r));
                if (r == NULL) {
                    free(rows);
                    *n_out = 0;
                    return NULL;
                }
                rows = r;
            }
            model_row_t *r = &rows[total++];
            memset(r, 0, sizeof(*r));
            r->name = m->name;
            r->len = m->len;
            r->in_flight = get(&m->in_flight);
            r->rate_limited = get(&m->rate_limited);
            add_hist(r->lat, &r->lat_count, &r->lat_sum_us, &m->latency);
            add_hist(r->ttft, &r->ttft_count, &r->ttft_sum_us, &m->ttft);
        }
    }
    if (total > 1)
        qsort(rows, total, sizeof(*rows), cmp_model_row);
    size_t out = 0;
    for (size_t i = 0; i < total; i++) {
        if (out > 0 && rows[out - 1].len == rows[i].len && memcmp(rows[out - 1].name, rows[i].name, rows[i].len) == 0) {
            model_row_t *d = &rows[out - 1];
            /* in-flight counts are per-shard deltas that may be "negative" mid-flight only transiently:
               the sum over shards is what is exact */
            d->in_flight += rows[i].in_flight;
            d->rate_limited += rows[i].rate_limited;
            for (size_t b = 0; b <= IG_METRICS_NBUCKETS; b++) {
                d->lat[b] += rows[i].lat[b];
                d->ttft[b] += rows[i].ttft[b];
            }
            d->lat_count += rows[i].lat_count;
            d->lat_sum_us += rows[i].lat_sum_us;
            d->ttft_count += rows[i].ttft_count;
            d->ttft_sum_us += rows[i].ttft_sum_us;
        } else {
            rows[out++] = rows[i];
        }
    }
    *n_out = out;
    return rows;
}

static void put_model_label(ig_buf_t *b, const char *name, size_t len)
{
    ig_buf_printf(b, "model=\"");
    ig_metrics_buf_label(b, name, len);
    ig_buf_printf(b, "\"");
}

static void put_histogram(ig_buf_t *b, const char *name, const model_row_t *m, const uint64_t *buckets,
                          uint64_t count, uint64_t sum_us)
{
    uint64_t cum = 0;
    for (size_t i = 0; i <= IG_METRICS_NBUCKETS; i++) {
        cum += buckets[i];
        ig_buf_printf(b, "%s_bucket{", name);
        put_model_label(b, m->name, m->len);
        if (i < IG_METRICS_NBUCKETS)
            ig_buf_printf(b, ",le=\"%g\"} %llu\n", ig_metrics_buckets[i], (unsigned long long)cum);
        else
            ig_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    ig_buf_printf(b, "%s_sum{", name);
    put_model_label(b, m->name, m->len);
    ig_buf_printf(b, "} %.6f\n%s_count{", (double)sum_us / 1e6, name);
    put_model_label(b, m->name, m->len);
    ig_buf_printf(b, "} %llu\n", (unsigned long long)count);
}

static void put_mc(ig_buf_t *b, const char *family, const row_t *r)
{
    ig_buf_printf(b, "%s{", family);
    put_model_label(b, r->model, r->model_len);
    ig_buf_printf(b, ",customer=\"");
    ig_metrics_buf_label(b, r->customer, r->customer_len);
    ig_buf_printf(b, "\"");
}

void ig_metrics_render(ig_metrics_shard_t *const *shards, size_t n, ig_buf_t *out)
{
    size_t nrows = 0, nmodels = 0;
    row_t *rows = collect_rows(shards, n, &nrows);
    model_row_t *models = collect_models(shards, n, &nmodels);

    ig_metrics_buf_family(out, "infergate_requests_total", "counter",
                          "API requests answered, by model (empty when unknown), HTTP status and customer.");
    for (size_t i = 0; i < nrows; i++) {
        put_mc(out, "infergate_requests_total", &rows[i]);
        ig_buf_printf(out, ",status=\"%d\"} %llu\n", rows[i].status, (unsigned long long)rows[i].requests);
    }

    /* tokens: summed over statuses, per known model and customer */
    ig_metrics_buf_family(out, "infergate_tokens_total", "counter",
                          "Tokens the engines reported, by model, customer and kind (prompt, completion, cached).");
    for (size_t i = 0; i < nrows;) {
        row_t sum = rows[i];
        size_t j = i + 1;
        for (; j < nrows && same_key(&rows[j], &rows[i], 0); j++) {
            sum.prompt += rows[j].prompt;
            sum.completion += rows[j].completion;
            sum.cached += rows[j].cached;
            sum.audio_us += rows[j].audio_us;
        }
        rows[i] = sum; /* kept for the audio family below */
        if (sum.model_len > 0) {
            const char *kinds[] = {"prompt", "completion", "cached"};
            uint64_t vals[] = {sum.prompt, sum.completion, sum.cached};
            for (int k = 0; k < 3; k++) {
                put_mc(out, "infergate_tokens_total", &sum);
                ig_buf_printf(out, ",kind=\"%s\"} %llu\n", kinds[k], (unsigned long long)vals[k]);
            }
        }
        i = j;
    }
    ig_metrics_buf_family(out, "infergate_audio_seconds_total", "counter",
                          "Seconds of audio the engines reported, by model and customer.");
    for (size_t i = 0; i < nrows;) {
        size_t j = i + 1;
        while (j < nrows && same_key(&rows[j], &rows[i], 0))
            j++;
        if (rows[i].model_len > 0 && rows[i].audio_us > 0) {
            put_mc(out, "infergate_audio_seconds_total", &rows[i]);
            ig_buf_printf(out, "} %.6f\n", (double)rows[i].audio_us / 1e6);
        }
        i = j;
    }

    ig_metrics_buf_family(out, "infergate_ratelimit_rejections_total", "counter",
                          "Requests a rate limiter refused (429), by model.");
    for (size_t i = 0; i < nmodels; i++) {
        ig_buf_printf(out, "infergate_ratelimit_rejections_total{");
        put_model_label(out, models[i].name, models[i].len);
        ig_buf_printf(out, "} %llu\n", (unsigned long long)models[i].rate_limited);
    }
    ig_metrics_buf_family(out, "infergate_requests_in_flight", "gauge", "API requests being served now, by model.");
    for (size_t i = 0; i < nmodels; i++) {
        ig_buf_printf(out, "infergate_requests_in_flight{");
        put_model_label(out, models[i].name, models[i].len);
        ig_buf_printf(out, "} %lld\n", (long long)models[i].in_flight);
    }
    ig_metrics_buf_family(out, "infergate_request_duration_seconds", "histogram",
                          "Time from a request's arrival to its last byte, by model.");
    for (size_t i = 0; i < nmodels; i++)
        put_histogram(out, "infergate_request_duration_seconds", &models[i], models[i].lat, models[i].lat_count,
                      models[i].lat_sum_us);
    ig_metrics_buf_family(out, "infergate_time_to_first_token_seconds", "histogram",
                          "Time from a request's arrival to the first response byte sent, by model.");
    for (size_t i = 0; i < nmodels; i++)
        put_histogram(out, "infergate_time_to_first_token_seconds", &models[i], models[i].ttft, models[i].ttft_count,
                      models[i].ttft_sum_us);
    free(rows);
    free(models);
}

void ig_metrics_model_totals(ig_metrics_shard_t *const *shards, size_t n, const char *name, size_t len,
                             ig_metrics_model_totals_t *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        for (ig_metrics_model_t *m = atomic_load_explicit(&shards[i]->models, memory_order_acquire); m; m = m->next)
            if (m->len == len && memcmp(m->name, name, len) == 0)
                out->in_flight += get(&m->in_flight);
        for (series_t *e = atomic_load_explicit(&shards[i]->series, memory_order_acquire); e; e = e->next) {
            if (e->model == NULL || e->model->len != len || memcmp(e->model->name, name, len) != 0)
                continue;
            out->requests += get(&e->requests);
            out->prompt_tokens += get(&e->prompt);
            out->completion_tokens += get(&e->completion);
        }
    }
}
