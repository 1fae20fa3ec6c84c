/*
 * vllm_metrics.c — the subset of the Prometheus text format that carries
 * vLLM's load: one sample per line, `name{labels} value [timestamp]`.
 */
#include "vllm_metrics.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { M_RUNNING, M_WAITING, M_KV, M_COUNT };

static const struct {
    const char *name;
    int which;
} metrics[] = {
    {"vllm:num_requests_running", M_RUNNING},
    {"vllm:num_requests_waiting", M_WAITING},
    {"vllm:gpu_cache_usage_perc", M_KV},
    {"vllm:kv_cache_usage_perc", M_KV}, /* vLLM V1's name for it */
};

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Skips a {label="value",...} set starting at p (at '{'); quoted values may hold '}' and escapes. */
static const char *skip_labels(const char *p, const char *end)
{
    int quoted = 0;
    for (p++; p < end; p++) {
        if (quoted) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                quoted = 0;
        } else if (*p == '"') {
            quoted = 1;
        } else if (*p == '}') {
            return p + 1;
        }
    }
    return NULL;
}

/* The sample value at p: a float as Prometheus writes it (exponents, NaN, +Inf). 0 or -1. */
static int parse_value(const char *p, const char *end, double *out)
{
    char buf[64];
    size_t n = 0;
    while (p < end && is_space(*p))
        p++;
    while (p < end && !is_space(*p) && n < sizeof(buf) - 1)
        buf[n++] = *p++;
    if (n == 0 || (p < end && !is_space(*p)))
        return -1;
    buf[n] = '\0';
    char *e;
    double v = strtod(buf, &e);
    if (*e != '\0' || !isfinite(v)) /* NaN and ±Inf carry no load */
        return -1;
    *out = v;
    return 0;
}

static void parse_line(const char *p, const char *end, double *acc, int *seen)
{
    while (p < end && is_space(*p))
        p++;
    if (p == end || *p == '#')
        return;
    const char *name = p;
    while (p < end && *p != '{' && !is_space(*p))
        p++;
    size_t nlen = (size_t)(p - name);
    int which = -1;
    for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++)
        if (strlen(metrics[i].name) == nlen && memcmp(metrics[i].name, name, nlen) == 0) {
            which = metrics[i].which;
            break;
        }
    if (which < 0)
        return;
    while (p < end && is_space(*p))
        p++;
    if (p < end && *p == '{' && (p = skip_labels(p, end)) == NULL)
        return;
    double v;
    if (parse_value(p, end, &v) != 0 || v < 0)
        return;
    if (which == M_KV)
        acc[which] = seen[which] && acc[which] > v ? acc[which] : v;
    else
        acc[which] += v;
    seen[which] = 1;
}

int vllm_parse_metrics(const char *text, size_t len, ig_engine_load_t *out)
{
    double acc[M_COUNT] = {0};
    int seen[M_COUNT] = {0};
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *le = eol;
        if (le > p && le[-1] == '\r')
            le--;
        parse_line(p, le, acc, seen);
        p = nl ? nl + 1 : end;
    }
    out->running = seen[M_RUNNING] ? acc[M_RUNNING] : -1;
    out->waiting = seen[M_WAITING] ? acc[M_WAITING] : -1;
    out->kv_cache_usage = seen[M_KV] ? acc[M_KV] : -1;
    return seen[M_RUNNING] || seen[M_WAITING] || seen[M_KV] ? 0 : -1;
}
