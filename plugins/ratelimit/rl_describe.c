/* rl_describe.c — "limits" of GET /v1/me (rl_describe.h). */
#include "rl_describe.h"
#include <stdio.h>
#include <string.h>
#include "rl_report.h"
#include "util/buf.h"
#include "util/json_write.h"

static const char *const limit_names[RL_NLIMITS] = {
    [RL_RPM] = "requests_per_minute", [RL_RPH] = "requests_per_hour", [RL_TPM] = "tokens_per_minute",
    [RL_TPH] = "tokens_per_hour",     [RL_BURST] = "burst",           [RL_CONC] = "max_concurrent",
};

static const char *scope_name(rl_scope_kind_t k)
{
    switch (k) {
    case RL_SCOPE_KEY:
        return "key";
    case RL_SCOPE_CUSTOMER:
        return "customer";
    case RL_SCOPE_MODEL:
        return "model";
    default:
        return "key_model";
    }
}

/* One scope (a view of one) as limit entries. */
static void put_scope(ig_buf_t *b, const rl_view_t *v, int known, int *first)
{
    const rl_scope_t *s = &v->scopes[0];
    for (int k = 0; k < RL_NLIMITS; k++) {
        const rl_obs_t *o = &v->obs[0][k];
        if (o->limit < 0)
            continue;
        ig_buf_printf(b, "%s{\"scope\":\"%s\"", *first ? "" : ",", scope_name(s->kind));
        *first = 0;
        if (s->kind == RL_SCOPE_MODEL || s->kind == RL_SCOPE_KEY_MODEL) {
            ig_str_t m = s->kind == RL_SCOPE_MODEL ? s->a : s->b;
            ig_buf_puts(b, ",\"model\":");
            ig_json_write_str(b, m.ptr, m.len);
        }
        ig_buf_printf(b, ",\"name\":\"%s\",\"limit\":%lld", limit_names[k], (long long)o->limit);
        if (known) {
            int64_t left = o->limit - o->used;
            ig_buf_printf(b, ",\"remaining\":%lld,\"reset_seconds\":%lld}", (long long)(left > 0 ? left : 0),
                          (long long)((o->reset_ms + 999) / 1000));
        } else {
            ig_buf_puts(b, ",\"remaining\":null,\"reset_seconds\":null}");
        }
    }
}

int rl_describe(const ig_host_t *host, rl_table_t *table, ig_describe_t *d, ig_error_t *err)
{
    /* every scope a request of this caller could meet: rl_scopes_build on each model it may use; the key
     * and customer scopes come with every model, so once (a caller without models: a nameless one) */
    static const ig_model_t no_model = {.name = "", .limits = {-1, -1, -1, -1, -1, -1}};
    size_t n = d->nmodels ? d->nmodels : 1;
    const char **seen = host->palloc(d->pool, (n * RL_MAX_SCOPES + 1) * sizeof(*seen));
    if (!seen) {
        err->status = 500;
        return host->error(err, "out of memory");
    }
    size_t nseen = 0;
    ig_buf_t b = {0};
    ig_buf_puts(&b, "\"limits\":[");
    int first = 1;
    int64_t now = (int64_t)host->now_ms();
    for (size_t i = 0; i < n; i++) {
        ig_principal_t p = *d->principal;
        p.key_model_limits = d->nmodels ? d->key_model_limits[i] : (ig_limits_t)IG_LIMITS_NONE;
        ig_rl_request_t r = {.pool = d->pool, .principal = &p, .model = d->nmodels ? d->models[i] : &no_model};
        rl_view_t all;
        rl_scopes_build(host, &r, &all);
        for (size_t s = 0; s < all.n; s++) {
            size_t j = 0;
            while (j < nseen && strcmp(seen[j], all.scopes[s].id) != 0)
                j++;
            if (j < nseen)
                continue;
            seen[nseen++] = all.scopes[s].id;
            rl_view_t one = {.n = 1};
            one.scopes[0] = all.scopes[s];
            memcpy(one.obs[0], all.obs[s], sizeof(one.obs[0]));
            if (table)
                rl_memory_peek(table, &one, now);
            put_scope(&b, &one, table != NULL, &first);
        }
    }
    ig_buf_puts(&b, "]");
    char *out = b.failed ? NULL : host->palloc(d->pool, b.len);
    if (!out) {
        ig_buf_free(&b);
        err->status = 500;
        return host->error(err, "out of memory");
    }
    memcpy(out, b.p, b.len);
    d->members = (ig_str_t){out, b.len};
    ig_buf_free(&b);
    return 0;
}
