#include "bl_report.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "bl_decimal.h"
#include "bl_ledger.h"
#include "bl_http.h"
#include "route_offload.h"
#include "bl_query.h"
#include "bl_rows.h"
#include "util/json_write.h"

/* The plugin's generation state starts with a bl_report_ctx_t (billing.c). */
#define CTX(state) ((const bl_report_ctx_t *)(state))

/* Sums of one group. */
typedef struct {
    int64_t requests, prompt, completion, cached, audio_ms;
    bl_i128_t cost;
} sums_t;

static void sums_add(sums_t *a, const sums_t *b)
{
    a->requests += b->requests;
    a->prompt += b->prompt;
    a->completion += b->completion;
    a->cached += b->cached;
    a->audio_ms += b->audio_ms;
    a->cost += b->cost;
}

#define SUM_COLUMNS                                                                                                    \
    "SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cached_tokens), SUM(audio_ms),"                   \
    " SUM(cost_units / 1000000000), SUM(cost_units - cost_units / 1000000000 * 1000000000)"

/* Reads SUM_COLUMNS starting at column col. */
static void sums_read(bl_rows_t *s, int col, sums_t *out)
{
    out->requests = bl_rows_int(s, col);
    out->prompt = bl_rows_int(s, col + 1);
    out->completion = bl_rows_int(s, col + 2);
    out->cached = bl_rows_int(s, col + 3);
    out->audio_ms = bl_rows_int(s, col + 4);
    out->cost = (bl_i128_t)bl_rows_int(s, col + 5) * 1000000000 + bl_rows_int(s, col + 6);
}

static void sums_json(ig_buf_t *b, const sums_t *s)
{
    char cost[48], audio[32];
    bl_dec_format(s->cost, cost, sizeof(cost));
    bl_format_audio(s->audio_ms, audio);
    ig_buf_printf(b,
                  "\"requests\":%" PRId64 ",\"prompt_tokens\":%" PRId64 ",\"cached_tokens\":%" PRId64
                  ",\"completion_tokens\":%" PRId64 ",\"audio_seconds\":\"%s\",\"cost\":\"%s\"",
                  s->requests, s->prompt, s->cached, s->completion, audio, cost);
}

static void sums_csv(ig_buf_t *b, const sums_t *s)
{
    char cost[48], audio[32];
    bl_dec_format(s->cost, cost, sizeof(cost));
    bl_format_audio(s->audio_ms, audio);
    ig_buf_printf(b, "%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%s,%s\n", s->requests, s->prompt, s->cached,
                  s->completion, audio, cost);
}

static int bad_param(ig_http_exchange_t *x, const char *param, const char *fmt, const char *v)
{
    char m[200];
    snprintf(m, sizeof(m), fmt, v);
    return bl_fail(x, 400, "invalid_request_error", "invalid_value", param, "query parameter `%s`: %s", param, m);
}

/* The rows of sql from whichever ledger the writer keeps (SQLite or server.database), read after what
 * was recorded before this call is committed. NULL with err. */
static bl_rows_t *query_ledger(ig_http_exchange_t *x, const bl_report_ctx_t *c, const char *sql,
                               const bl_sql_param_t *params, int n, ig_error_t *err)
{
    if (!bl_writer_started(c->writer)) {
        err->status = 503;
        err->type = "server_error";
        x->host->error(err, "the usage ledger is not open");
        return NULL;
    }
    if (bl_writer_sync(c->writer, 5000) != 0)
        c->host->log(IG_LOG_WARN, "billing", "admin query: the ledger writer is behind; answering with what is committed");
    char msg[400];
    bl_rows_t *rows = bl_rows_open(c->writer, sql, params, n, msg, sizeof(msg));
    if (rows == NULL) {
        err->status = 500;
        err->type = "server_error";
        x->host->error(err, "usage ledger: %s", msg);
    }
    return rows;
}

static int query_failed(ig_http_exchange_t *x, bl_rows_t *rows, ig_error_t *err)
{
    err->status = 500;
    err->type = "server_error";
    x->host->error(err, "usage ledger query: %s", bl_rows_error(rows));
    bl_rows_free(rows);
    return -1;
}

static void json_str_or_null(ig_buf_t *b, const ig_host_t *h, const char *s, int present)
{
    if (present)
        ig_json_write_str(b, s, strlen(s));
    else
        ig_buf_puts(b, "null");
}

int bl_route_usage(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    return route_offload(state, x, err, bl_usage_handle);
}

int bl_usage_handle(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    const bl_report_ctx_t *c = CTX(state);
    static const char *const allowed[] = {"customer", "model", "start", "end", "start_date", "end_date", "group_by",
                                          NULL};
    ig_query_t q;
    if (bl_read_query(x, allowed, &q) != 0)
        return 0;
    char customer[256], model[256], start[64], end[64], group[16];
    int has_c, has_m, has_s, has_e, has_g;
    /* start_date/end_date: the names KubeAI-based control services send, the same meaning */
    static const char *const names[][2] = {{"start", "start_date"}, {"end", "end_date"}};
    const char *v[2];
    for (int i = 0; i < 2; i++) {
        const char *a = ig_query_get(&q, names[i][0]), *b2 = ig_query_get(&q, names[i][1]);
        if (a && b2)
            return bl_fail(x, 400, "invalid_request_error", "invalid_value", names[i][1],
                           "query parameters `%s` and `%s` mean the same: give one", names[i][0], names[i][1]);
        v[i] = a ? a : b2;
    }
    const char *pc = ig_query_get(&q, "customer"), *pm = ig_query_get(&q, "model"), *pg = ig_query_get(&q, "group_by");
    if ((has_c = pc != NULL) && strlen(pc) >= sizeof(customer))
        return bad_param(x, "customer", "%stoo long", "");
    if ((has_m = pm != NULL) && strlen(pm) >= sizeof(model))
        return bad_param(x, "model", "%stoo long", "");
    snprintf(customer, sizeof(customer), "%s", pc ? pc : "");
    snprintf(model, sizeof(model), "%s", pm ? pm : "");
    has_s = v[0] != NULL;
    has_e = v[1] != NULL;
    snprintf(start, sizeof(start), "%s", v[0] ? v[0] : "");
    snprintf(end, sizeof(end), "%s", v[1] ? v[1] : "");
    has_g = pg != NULL;
    snprintf(group, sizeof(group), "%s", pg ? pg : "");
    const char *sname = ig_query_get(&q, "start") ? "start" : "start_date";
    const char *ename = ig_query_get(&q, "end") ? "end" : "end_date";
    int64_t start_ms = 0, end_ms = INT64_MAX;
    if (has_s && (strlen(v[0]) >= sizeof(start) || bl_parse_time(start, &start_ms) != 0))
        return bad_param(x, sname, "\"%.60s\" is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds", v[0]);
    if (has_e && (strlen(v[1]) >= sizeof(end) || bl_parse_time(end, &end_ms) != 0))
        return bad_param(x, ename, "\"%.60s\" is not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds", v[1]);
    if (has_g && strlen(pg) >= sizeof(group))
        return bad_param(x, "group_by", "\"%.20s\" is not one of day, model, key", pg);
    const char *key_cols; /* what a group is */
    int nkeys = 1;
    if (!has_g || strcmp(group, "") == 0 || strcmp(group, "none") == 0) {
        key_cols = "substr(day, 1, 0)"; /* '' for every row: PostgreSQL groups by no constant */
        strcpy(group, "none");
    } else if (strcmp(group, "day") == 0) {
        key_cols = "day";
    } else if (strcmp(group, "model") == 0) {
        key_cols = "model";
    } else if (strcmp(group, "key") == 0) {
        key_cols = "customer, key_id";
        nkeys = 2;
    } else {
        return bad_param(x, "group_by", "\"%.20s\" is not one of day, model, key", group);
    }
    char sql[600];
    snprintf(sql, sizeof(sql),
             "SELECT %s, " SUM_COLUMNS " FROM usage WHERE (?1 IS NULL OR customer = ?1) AND (?2 IS NULL OR model = ?2)"
             " AND ts_ms >= ?3 AND ts_ms < ?4 GROUP BY %s ORDER BY %s",
             key_cols, key_cols, key_cols);
    const bl_sql_param_t params[] = {{.text = has_c ? customer : NULL}, {.text = has_m ? model : NULL},
                                    {.i = start_ms, .is_int = 1}, {.i = end_ms, .is_int = 1}};
    bl_rows_t *st = query_ledger(x, c, sql, params, 4, err);
    if (st == NULL)
        return -1;

    ig_buf_t b = {0};
    ig_buf_puts(&b, "{\"object\":\"usage\",\"customer\":");
    json_str_or_null(&b, x->host, customer, has_c);
    ig_buf_puts(&b, ",\"model\":");
    json_str_or_null(&b, x->host, model, has_m);
    ig_buf_puts(&b, ",\"start\":");
    json_str_or_null(&b, x->host, start, has_s);
    ig_buf_puts(&b, ",\"end\":");
    json_str_or_null(&b, x->host, end, has_e);
    ig_buf_printf(&b, ",\"group_by\":\"%s\",\"data\":[", group);
    sums_t total = {0};
    int rc, first = 1;
    while ((rc = bl_rows_next(st)) == 1) {
        sums_t s;
        sums_read(st, nkeys, &s);
        if (s.requests == 0)
            continue; /* SUM over no rows */
        sums_add(&total, &s);
        ig_buf_puts(&b, first ? "{" : ",{");
        first = 0;
        const char *k0 = bl_rows_text(st, 0);
        if (strcmp(group, "day") == 0 || strcmp(group, "model") == 0) {
            ig_buf_printf(&b, "\"%s\":", group);
            ig_json_write_str(&b, k0, strlen(k0));
            ig_buf_puts(&b, ",");
        } else if (nkeys == 2) {
            const char *k1 = bl_rows_text(st, 1);
            ig_buf_puts(&b, "\"customer\":");
            ig_json_write_str(&b, k0, strlen(k0));
            ig_buf_puts(&b, ",\"key_id\":");
            ig_json_write_str(&b, k1, strlen(k1));
            ig_buf_puts(&b, ",");
        }
        sums_json(&b, &s);
        ig_buf_puts(&b, "}");
    }
    if (rc != 0) {
        ig_buf_free(&b);
        return query_failed(x, st, err);
    }
    bl_rows_free(st);
    ig_buf_printf(&b, "],\"currency\":\"%s\",\"total\":{", c->currency);
    sums_json(&b, &total);
    ig_buf_puts(&b, "}}");
    return bl_respond(x, &b, "application/json", err);
}

/* ---- invoices ---------------------------------------------------------------------------------- */

typedef struct {
    ig_buf_t *b;
    const ig_host_t *host;
    int csv;
    const char *month, *currency;
    int ninvoices;
    int open;                  /* an invoice is being written */
    char customer[256];
    sums_t total;
    int nlines;
} inv_writer_t;

/* The columns every CSV row of an invoice starts with: invoice id, customer, month, currency. */
static void inv_csv_head(inv_writer_t *w)
{
    char id[300];
    snprintf(id, sizeof(id), "inv-%s-%s", w->customer, w->month);
    bl_csv_str(w->b, id);
    ig_buf_puts(w->b, ",");
    bl_csv_str(w->b, w->customer);
    ig_buf_printf(w->b, ",%s,%s,", w->month, w->currency);
}

static void inv_close(inv_writer_t *w)
{
    if (!w->open)
        return;
    if (w->csv) {
        inv_csv_head(w);
        ig_buf_puts(w->b, "TOTAL,");
        sums_csv(w->b, &w->total);
    } else {
        ig_buf_puts(w->b, "],\"total\":{");
        sums_json(w->b, &w->total);
        ig_buf_puts(w->b, "}}");
    }
    w->open = 0;
}

static void inv_open(inv_writer_t *w, const char *customer)
{
    inv_close(w);
    snprintf(w->customer, sizeof(w->customer), "%s", customer);
    memset(&w->total, 0, sizeof(w->total));
    w->nlines = 0;
    w->open = 1;
    if (w->csv)
        return;
    if (w->ninvoices++ > 0)
        ig_buf_puts(w->b, ",");
    /* the id is derived from its inputs only: the same customer and month give the same invoice */
    ig_buf_t id = {0};
    ig_buf_printf(&id, "inv-%s-%s", customer, w->month);
    ig_buf_puts(w->b, "{\"object\":\"invoice\",\"id\":");
    ig_json_write_str(w->b, id.p, id.len);
    ig_buf_free(&id);
    ig_buf_puts(w->b, ",\"customer\":");
    ig_json_write_str(w->b, customer, strlen(customer));
    ig_buf_printf(w->b, ",\"month\":\"%s\",\"currency\":\"%s\",\"lines\":[", w->month, w->currency);
}

static void inv_line(inv_writer_t *w, const char *model, const sums_t *s)
{
    sums_add(&w->total, s);
    if (w->csv) {
        inv_csv_head(w);
        bl_csv_str(w->b, model);
        ig_buf_puts(w->b, ",");
        sums_csv(w->b, s);
    } else {
        ig_buf_puts(w->b, w->nlines ? ",{\"model\":" : "{\"model\":");
        ig_json_write_str(w->b, model, strlen(model));
        ig_buf_puts(w->b, ",");
        sums_json(w->b, s);
        ig_buf_puts(w->b, "}");
    }
    w->nlines++;
}

int bl_report_invoices_computed(const bl_report_ctx_t *c, ig_http_exchange_t *x, const ig_query_t *q, ig_error_t *err)
{
    char customer[256], month[16], format[8];
    const char *pc = ig_query_get(q, "customer"), *pm = ig_query_get(q, "month"), *pf = ig_query_get(q, "format");
    int has_c = pc != NULL;
    if (pm == NULL)
        return bad_param(x, "month", "%srequired (YYYY-MM)", "");
    if (strlen(pm) >= sizeof(month) || bl_parse_month(pm) != 0)
        return bad_param(x, "month", "\"%.20s\" is not YYYY-MM", pm);
    if (pc && strlen(pc) >= sizeof(customer))
        return bad_param(x, "customer", "%stoo long", "");
    if (pf && strcmp(pf, "json") != 0 && strcmp(pf, "csv") != 0)
        return bad_param(x, "format", "\"%.8s\" is not json or csv", pf);
    snprintf(customer, sizeof(customer), "%s", pc ? pc : "");
    snprintf(month, sizeof(month), "%s", pm);
    snprintf(format, sizeof(format), "%s", pf ? pf : "json");
    const bl_sql_param_t params[] = {{.text = has_c ? customer : NULL}, {.text = month}};
    bl_rows_t *st = query_ledger(x, c,
                                 "SELECT customer, model, " SUM_COLUMNS " FROM usage WHERE (?1 IS NULL OR customer = ?1)"
                                 " AND day >= ?2 || '-01' AND day <= ?2 || '-31' GROUP BY customer, model"
                                 " ORDER BY customer, model",
                                 params, 2, err);
    if (st == NULL)
        return -1;

    ig_buf_t b = {0};
    inv_writer_t w = {.b = &b, .host = x->host, .csv = format[0] == 'c', .month = month, .currency = c->currency};
    if (w.csv)
        ig_buf_puts(&b, "invoice,customer,month,currency,model,requests,prompt_tokens,cached_tokens,"
                        "completion_tokens,audio_seconds,cost\n");
    else if (!has_c)
        ig_buf_printf(&b, "{\"object\":\"list\",\"month\":\"%s\",\"data\":[", month);
    int rc;
    while ((rc = bl_rows_next(st)) == 1) {
        const char *cust = bl_rows_text(st, 0);
        const char *model = bl_rows_text(st, 1);
        sums_t s;
        sums_read(st, 2, &s);
        if (!w.open || strcmp(w.customer, cust) != 0)
            inv_open(&w, cust);
        inv_line(&w, model, &s);
    }
    if (rc != 0) {
        ig_buf_free(&b);
        return query_failed(x, st, err);
    }
    bl_rows_free(st);
    if (has_c && !w.open)
        inv_open(&w, customer); /* a customer without usage that month gets an empty invoice */
    inv_close(&w);
    if (!w.csv && !has_c)
        ig_buf_puts(&b, "]}");
    return bl_respond(x, &b, w.csv ? "text/csv; charset=utf-8" : "application/json", err);
}

/* ---- one customer's usage (GET /v1/me/usage, bl_me.c) ------------------------------------------ */

int bl_usage_of_customer(const bl_report_ctx_t *c, const char *customer, int64_t start_ms, int64_t end_ms,
                         const char *group, ig_buf_t *rows, ig_buf_t *total, char *msg, size_t msgcap)
{
    /* substr(day, 1, 0): '' for every row (PostgreSQL groups by no constant) */
    const char *key_col = strcmp(group, "day") == 0 ? "day" : strcmp(group, "model") == 0 ? "model" : "substr(day, 1, 0)";
    int keyed = key_col[0] != 's';
    if (!bl_writer_started(c->writer)) {
        snprintf(msg, msgcap, "the usage ledger is not open");
        return -1;
    }
    if (bl_writer_sync(c->writer, 5000) != 0)
        c->host->log(IG_LOG_WARN, "billing", "usage query: the ledger writer is behind; answering with what is committed");
    char sql[400];
    snprintf(sql, sizeof(sql),
             "SELECT %s, " SUM_COLUMNS " FROM usage WHERE customer = ?1 AND ts_ms >= ?2 AND ts_ms < ?3"
             " GROUP BY %s ORDER BY %s",
             key_col, key_col, key_col);
    const bl_sql_param_t params[] = {{.text = customer}, {.i = start_ms, .is_int = 1}, {.i = end_ms, .is_int = 1}};
    char m[400];
    bl_rows_t *st = bl_rows_open(c->writer, sql, params, 3, m, sizeof(m));
    if (st == NULL) {
        snprintf(msg, msgcap, "usage ledger: %s", m);
        return -1;
    }
    sums_t sum = {0};
    int rc, first = 1;
    while ((rc = bl_rows_next(st)) == 1) {
        sums_t s;
        sums_read(st, 1, &s);
        if (s.requests == 0)
            continue; /* SUM over no rows */
        sums_add(&sum, &s);
        ig_buf_puts(rows, first ? "{" : ",{");
        first = 0;
        if (keyed) {
            const char *k = bl_rows_text(st, 0);
            ig_buf_printf(rows, "\"%s\":", key_col);
            ig_json_write_str(rows, k, strlen(k));
            ig_buf_puts(rows, ",");
        }
        sums_json(rows, &s);
        ig_buf_puts(rows, "}");
    }
    if (rc != 0) {
        snprintf(msg, msgcap, "usage ledger query: %s", bl_rows_error(st));
        bl_rows_free(st);
        return -1;
    }
    bl_rows_free(st);
    sums_json(total, &sum);
    return 0;
}
