#include "bl_record.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "util/api.h"
#include "util/json_write.h"

static void copy_str(char *dst, size_t cap, const char *s, size_t n)
{
    if (s == NULL)
        n = 0;
    if (n >= cap)
        n = cap - 1; /* names longer than a column's room are cut, never overflow */
    if (n)
        memcpy(dst, s, n);
    dst[n] = '\0';
}

static void prices_of(const ig_model_t *m, bl_prices_t *p)
{
    memset(p, 0, sizeof(*p));
    if (m == NULL)
        return;
    /* the core validated these as decimals; one finer than 1e-15 counts as 0 (README) */
    if (bl_dec_parse(m->pricing.prompt, &p->prompt) != 0)
        p->prompt = 0;
    if (bl_dec_parse(m->pricing.completion, &p->completion) != 0)
        p->completion = 0;
    if (bl_dec_parse(m->pricing.request, &p->request) != 0)
        p->request = 0;
    if (bl_dec_parse(m->pricing.audio, &p->audio_per_second) != 0)
        p->audio_per_second = 0;
    p->has_cache_read = m->pricing.input_cache_read != NULL &&
                        bl_dec_parse(m->pricing.input_cache_read, &p->input_cache_read) == 0;
}

void bl_record_from(bl_record_t *out, const ig_usage_record_t *rec)
{
    memset(out, 0, sizeof(*out));
    out->ts_ms = rec->started_unix_ms;
    bl_format_day(out->ts_ms, out->day);
    if (rec->principal) {
        copy_str(out->customer, sizeof(out->customer), rec->principal->customer_id.ptr, rec->principal->customer_id.len);
        copy_str(out->key_id, sizeof(out->key_id), rec->principal->key_id.ptr, rec->principal->key_id.len);
    }
    const char *model = rec->model ? rec->model->name : "";
    copy_str(out->model, sizeof(out->model), model, strlen(model));
    copy_str(out->adapter, sizeof(out->adapter), rec->adapter.ptr, rec->adapter.len);
    const char *ep = rec->endpoint_url ? rec->endpoint_url : "";
    copy_str(out->endpoint, sizeof(out->endpoint), ep, strlen(ep));
    out->api = ig_api_name(rec->api) ? ig_api_name(rec->api) : "other";
    out->status = rec->status;
    out->stream = rec->stream != 0;
    out->complete = rec->complete != 0;
    const ig_usage_t *u = &rec->usage;
    out->usage_known = u->prompt_tokens >= 0 || u->completion_tokens >= 0 || u->audio_seconds >= 0;
    out->prompt_tokens = u->prompt_tokens > 0 ? u->prompt_tokens : 0;
    out->completion_tokens = u->completion_tokens > 0 ? u->completion_tokens : 0;
    out->cached_tokens = u->cached_tokens > 0 ? u->cached_tokens : 0;
    /* the engine reports seconds as a float; the ledger keeps whole milliseconds */
    out->audio_ms = u->audio_seconds > 0 ? (int64_t)(u->audio_seconds * 1000.0 + 0.5) : 0;
    out->requests = 1;
    out->ttft_us = rec->ttft_us;
    out->duration_us = rec->duration_us;
    out->attempts = rec->attempts;
    out->generation = rec->generation;

    bl_prices_t p;
    prices_of(rec->model, &p);
    /* the per-request fee is due when the engine answered (or the client left mid-answer) */
    int answered = (out->status > 0 && out->status < 400) || out->completion_tokens > 0;
    bl_quantities_t q = {out->prompt_tokens, out->completion_tokens, out->cached_tokens, out->audio_ms, answered ? 1 : 0};
    bl_i128_t c = bl_dec_cost(&p, &q);
    out->cost_units = c > INT64_MAX ? INT64_MAX : (int64_t)c;
}

void bl_format_day(int64_t ms, char out[11])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    if (strftime(out, 11, "%Y-%m-%d", &tm) == 0)
        memcpy(out, "0000-00-00", 11);
}

void bl_format_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[24];
    if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
        strcpy(base, "0000-00-00T00:00:00");
    snprintf(out, 32, "%.19s.%03dZ", base, (int)(ms % 1000));
}

void bl_format_audio(int64_t ms, char out[32])
{
    snprintf(out, 32, "%" PRId64 ".%03d", ms / 1000, (int)(ms % 1000));
}

void bl_record_json(ig_buf_t *b, const bl_record_t *r)
{
    char t[32], cost[48], audio[32];
    bl_format_time(r->ts_ms, t);
    bl_dec_format(r->cost_units, cost, sizeof(cost));
    bl_format_audio(r->audio_ms, audio);
    ig_buf_printf(b, "{\"id\":%" PRId64 ",\"time\":\"%s\",\"customer\":", r->id, t);
    ig_json_write_str(b, r->customer, strlen(r->customer));
    ig_buf_puts(b, ",\"key_id\":");
    ig_json_write_str(b, r->key_id, strlen(r->key_id));
    ig_buf_puts(b, ",\"model\":");
    ig_json_write_str(b, r->model, strlen(r->model));
    ig_buf_puts(b, ",\"adapter\":");
    ig_json_write_str(b, r->adapter, strlen(r->adapter));
    ig_buf_puts(b, ",\"endpoint\":");
    ig_json_write_str(b, r->endpoint, strlen(r->endpoint));
    ig_buf_printf(b,
                  ",\"api\":\"%s\",\"status\":%d,\"stream\":%s,\"complete\":%s,\"usage_known\":%s,"
                  "\"prompt_tokens\":%" PRId64 ",\"completion_tokens\":%" PRId64 ",\"cached_tokens\":%" PRId64
                  ",\"audio_seconds\":\"%s\",\"requests\":%" PRId64 ",\"ttft_us\":%" PRId64 ",\"duration_us\":%" PRId64
                  ",\"attempts\":%u,\"generation\":%" PRIu64 ",\"cost\":\"%s\"}",
                  r->api, r->status, r->stream ? "true" : "false", r->complete ? "true" : "false",
                  r->usage_known ? "true" : "false", r->prompt_tokens, r->completion_tokens, r->cached_tokens, audio,
                  r->requests, r->ttft_us, r->duration_us, r->attempts, r->generation, cost);
}

void bl_record_csv_header(ig_buf_t *b)
{
    ig_buf_puts(b, "id,time,customer,key_id,model,adapter,endpoint,api,status,stream,complete,usage_known,"
                   "prompt_tokens,completion_tokens,cached_tokens,audio_seconds,requests,ttft_us,duration_us,"
                   "attempts,generation,cost\n");
}

void bl_csv_str(ig_buf_t *b, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        ig_buf_puts(b, s);
        return;
    }
    ig_buf_putc(b, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            ig_buf_putc(b, '"');
        ig_buf_putc(b, *p);
    }
    ig_buf_putc(b, '"');
}

void bl_record_csv(ig_buf_t *b, const bl_record_t *r)
{
    char t[32], cost[48], audio[32];
    bl_format_time(r->ts_ms, t);
    bl_dec_format(r->cost_units, cost, sizeof(cost));
    bl_format_audio(r->audio_ms, audio);
    ig_buf_printf(b, "%" PRId64 ",%s", r->id, t);
    const char *strs[] = {r->customer, r->key_id, r->model, r->adapter, r->endpoint, r->api};
    for (size_t i = 0; i < 6; i++) {
        ig_buf_puts(b, ",");
        bl_csv_str(b, strs[i]);
    }
    ig_buf_printf(b, ",%d,%d,%d,%d,%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%u,%" PRIu64 ",%s\n",
                  r->status, r->stream, r->complete, r->usage_known, r->prompt_tokens, r->completion_tokens,
                  r->cached_tokens, audio, r->requests, r->ttft_us, r->duration_us, r->attempts, r->generation, cost);
}
