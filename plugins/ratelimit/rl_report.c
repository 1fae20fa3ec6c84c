/*
 * rl_report.c — scopes of a request, and the headers and messages a client gets.
 */
#include "rl_report.h"
#include <stdio.h>
#include <string.h>

static const char *const limit_names[RL_NLIMITS] = {
    "requests per minute (RPM)", "requests per hour (RPH)", "tokens per minute (TPM)",
    "tokens per hour (TPH)",     "burst requests",          "concurrent requests",
};

static int has_limit(const ig_limits_t *l)
{
    return l->requests_per_minute >= 0 || l->requests_per_hour >= 0 || l->tokens_per_minute >= 0 ||
           l->tokens_per_hour >= 0 || l->max_concurrent >= 0;
}

static char *pdup(const ig_host_t *host, void *pool, const char *s, size_t n)
{
    char *p = host->palloc(pool, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

#define RL_ID_MAX 600 /* longer than any key id and model name together: longer is no scope we count */

size_t rl_format_int(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

const char *rl_scope_label(const rl_scope_t *s, char *buf, size_t cap)
{
    int a = (int)(s->a.len > 200 ? 200 : s->a.len), b = (int)(s->b.len > 200 ? 200 : s->b.len);
    switch (s->kind) {
    case RL_SCOPE_KEY:
        snprintf(buf, cap, "key \"%.*s\"", a, s->a.ptr);
        break;
    case RL_SCOPE_CUSTOMER:
        snprintf(buf, cap, "customer \"%.*s\"", a, s->a.ptr);
        break;
    case RL_SCOPE_MODEL:
        snprintf(buf, cap, "model \"%.*s\"", a, s->a.ptr);
        break;
    default: /* key+model, or customer+model for a principal without a key id */
        snprintf(buf, cap, "%s \"%.*s\" on model \"%.*s\"", s->id[0] == 'k' ? "key" : "customer", a, s->a.ptr, b,
                 s->b.ptr);
        break;
    }
    return buf;
}

/* Builds "<prefix>:<a>[:<b>]" in the request pool: this runs on every request, so no printf. */
static void add_scope(const ig_host_t *host, const ig_rl_request_t *r, rl_view_t *v, rl_scope_kind_t kind,
                      const ig_limits_t *l, const char *prefix, ig_str_t a, ig_str_t b)
{
    if (!has_limit(l) || v->n == RL_MAX_SCOPES)
        return;
    size_t plen = strlen(prefix), n = plen + 1 + a.len + (b.len ? 1 + b.len : 0);
    if (n >= RL_ID_MAX)
        return;
    char *id = host->palloc(r->pool, n + 1);
    if (!id)
        return;
    memcpy(id, prefix, plen);
    id[plen] = ':';
    memcpy(id + plen + 1, a.ptr, a.len);
    if (b.len) {
        id[plen + 1 + a.len] = ':';
        memcpy(id + plen + 2 + a.len, b.ptr, b.len);
    }
    id[n] = '\0';
    rl_scope_t *s = &v->scopes[v->n];
    s->kind = kind;
    s->id = id;
    s->idlen = n;
    s->a = a;
    s->b = b;
    s->lim[RL_RPM] = l->requests_per_minute;
    s->lim[RL_RPH] = l->requests_per_hour;
    s->lim[RL_TPM] = l->tokens_per_minute;
    s->lim[RL_TPH] = l->tokens_per_hour;
    /* burst shapes the per-minute rate; alone it has nothing to shape */
    s->lim[RL_BURST] = l->requests_per_minute >= 0 ? l->burst : -1;
    s->lim[RL_CONC] = l->max_concurrent;
    for (int k = 0; k < RL_NLIMITS; k++)
        v->obs[v->n][k] = (rl_obs_t){.limit = s->lim[k]};
    v->n++;
}

void rl_scopes_build(const ig_host_t *host, const ig_rl_request_t *r, rl_view_t *v)
{
    memset(v, 0, sizeof(*v));
    ig_str_t model = {r->model->name, strlen(r->model->name)}, none = {"", 0};
    const ig_principal_t *p = r->principal;
    if (p && p->key_id.len)
        add_scope(host, r, v, RL_SCOPE_KEY, &p->key_limits, "k", p->key_id, none);
    if (p && p->customer_id.len)
        add_scope(host, r, v, RL_SCOPE_CUSTOMER, &p->customer_limits, "c", p->customer_id, none);
    add_scope(host, r, v, RL_SCOPE_MODEL, &r->model->limits, "m", model, none);
    /* a key's limits on this model; a principal without a key id shares them per customer */
    if (p && (p->key_id.len || p->customer_id.len))
        add_scope(host, r, v, RL_SCOPE_KEY_MODEL, &p->key_model_limits, p->key_id.len ? "km" : "cm",
                  p->key_id.len ? p->key_id : p->customer_id, model);
}

int rl_view_over(const rl_view_t *v)
{
    for (size_t s = 0; s < v->n; s++)
        for (int k = 0; k < RL_NLIMITS; k++)
            if (rl_obs_over(&v->obs[s][k]))
                return 1;
    return 0;
}

/* OpenAI's reset format (20ms, 1.5s, 6m0s, 1h2m3s); on every response, so no printf. cap >= 64. */
void rl_format_duration(char *buf, size_t cap, int64_t ms)
{
    (void)cap;
    if (ms < 0)
        ms = 0;
    if (ms < 1000) {
        size_t n = rl_format_int(buf, ms);
        memcpy(buf + n, "ms", 3);
        return;
    }
    int64_t h = ms / 3600000, m = ms / 60000 % 60, s = ms / 1000 % 60, frac = ms % 1000;
    size_t n = 0;
    if (h) {
        n += rl_format_int(buf + n, h);
        buf[n++] = 'h';
    }
    if (h || m) {
        n += rl_format_int(buf + n, m);
        buf[n++] = 'm';
    }
    n += rl_format_int(buf + n, s);
    if (frac) {
        /* milliseconds as a decimal fraction without trailing zeros: 1.5s, 1.25s, 1.005s */
        buf[n++] = '.';
        buf[n++] = (char)('0' + frac / 100);
        if (frac % 100) {
            buf[n++] = (char)('0' + frac / 10 % 10);
            if (frac % 10)
                buf[n++] = (char)('0' + frac % 10);
        }
    }
    buf[n++] = 's';
    buf[n] = '\0';
}

static int is_tokens(int k)
{
    return k == RL_TPM || k == RL_TPH;
}

/* Remaining after this request: a request admitted takes one of each request limit; tokens are
 * charged when it ends, so their remaining is what is left before it. */
static int64_t remaining(const rl_obs_t *o, int k, int admitted)
{
    int64_t used = o->used + (admitted && !is_tokens(k) ? 1 : 0);
    return used >= o->limit ? 0 : o->limit - used;
}

int rl_binding(const rl_view_t *v, int tokens, int admitted, size_t *scope, int *limit)
{
    int found = 0, found_over = 0;
    int64_t best_rem = 0, best_limit = 0, best_retry = 0;
    for (size_t s = 0; s < v->n; s++) {
        for (int k = 0; k < RL_NLIMITS; k++) {
            const rl_obs_t *o = &v->obs[s][k];
            if (o->limit < 0 || is_tokens(k) != !!tokens)
                continue;
            int over = !admitted && rl_obs_over(o);
            /* concurrency is no rate: it names the headers only when it is what refused */
            if (k == RL_CONC && !over)
                continue;
            if (over) {
                if (!found_over || o->retry_ms > best_retry) {
                    found_over = found = 1;
                    best_retry = o->retry_ms;
                    *scope = s;
                    *limit = k;
                }
                continue;
            }
            if (found_over)
                continue;
            int64_t rem = remaining(o, k, admitted);
            if (!found || rem < best_rem || (rem == best_rem && o->limit < best_limit)) {
                found = 1;
                best_rem = rem;
                best_limit = o->limit;
                *scope = s;
                *limit = k;
            }
        }
    }
    return found ? 0 : -1;
}

static void add_header(const ig_host_t *host, ig_rl_request_t *r, const char *name, const char *value)
{
    if (r->nheaders >= sizeof(r->headers) / sizeof(r->headers[0]))
        return;
    char *v = pdup(host, r->pool, value, strlen(value));
    if (v)
        r->headers[r->nheaders++] = (ig_kv_t){name, v};
}

/* The backends observe before they count this request; once counted, it is the newest thing in the
 * window, so the window empties when its slot leaves (or the bucket refills one interval later). */
static int64_t reset_after_admission(const rl_view_t *v, size_t s, int k, int64_t reset)
{
    int64_t width = k == RL_RPH ? RL_HOUR_SLOT_MS : RL_MINUTE_SLOT_MS;
    if (k == RL_RPM || k == RL_RPH) {
        int64_t leaves = RL_SLOTS * width - v->now_ms % width;
        return leaves > reset ? leaves : reset;
    }
    if (k == RL_BURST)
        return reset + (rl_gcra_interval_us(v->scopes[s].lim[RL_RPM]) + 999) / 1000;
    return reset;
}

static void report_kind(const ig_host_t *host, const rl_view_t *v, int tokens, int admitted, ig_rl_request_t *r)
{
    size_t s;
    int k;
    if (rl_binding(v, tokens, admitted, &s, &k) != 0)
        return;
    const rl_obs_t *o = &v->obs[s][k];
    char buf[64];
    rl_format_int(buf, o->limit);
    add_header(host, r, tokens ? "x-ratelimit-limit-tokens" : "x-ratelimit-limit-requests", buf);
    rl_format_int(buf, remaining(o, k, admitted));
    add_header(host, r, tokens ? "x-ratelimit-remaining-tokens" : "x-ratelimit-remaining-requests", buf);
    /* concurrency frees up when a request ends, not at a time we know: report the retry guess */
    int64_t reset = k == RL_CONC ? o->retry_ms : o->reset_ms;
    if (admitted && !tokens)
        reset = reset_after_admission(v, s, k, reset);
    rl_format_duration(buf, sizeof(buf), reset);
    add_header(host, r, tokens ? "x-ratelimit-reset-tokens" : "x-ratelimit-reset-requests", buf);
}

void rl_report(const ig_host_t *host, const rl_view_t *v, int admitted, ig_rl_request_t *r, ig_error_t *err)
{
    report_kind(host, v, 0, admitted, r);
    report_kind(host, v, 1, admitted, r);
    if (admitted)
        return;
    /* the client may come back once every exceeded limit has room again: the longest wait */
    size_t bs = 0;
    int bk = -1;
    int64_t wait = 0;
    for (size_t s = 0; s < v->n; s++)
        for (int k = 0; k < RL_NLIMITS; k++)
            if (rl_obs_over(&v->obs[s][k]) && (bk < 0 || v->obs[s][k].retry_ms > wait)) {
                bs = s;
                bk = k;
                wait = v->obs[s][k].retry_ms;
            }
    if (bk < 0) { /* refused with nothing over: the backend's own reason is in err already */
        r->retry_after_s = 1;
        return;
    }
    int64_t secs = (wait + 999) / 1000;
    r->retry_after_s = (uint32_t)(secs < 1 ? 1 : secs > 86400 ? 86400 : secs);
    const rl_obs_t *o = &v->obs[bs][bk];
    char in[64], label[512];
    rl_format_duration(in, sizeof(in), wait < 1 ? 1 : wait);
    rl_scope_label(&v->scopes[bs], label, sizeof(label));
    if (bk == RL_CONC)
        host->error(err, "Rate limit reached for %s on %s: limit %lld, in flight %lld. Please try again when one ends.",
                    limit_names[bk], label, (long long)o->limit, (long long)o->used);
    else
        host->error(err, "Rate limit reached for %s on %s: limit %lld, used %lld%s. Please try again in %s.",
                    limit_names[bk], label, (long long)o->limit, (long long)o->used,
                    is_tokens(bk) ? "" : ", requested 1", in);
    err->status = 429;
    err->type = "rate_limit_exceeded";
    err->code = "rate_limit_exceeded";
}
