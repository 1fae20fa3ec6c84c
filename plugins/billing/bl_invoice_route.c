/*
 * bl_invoice_route.c — /admin/invoices: the computed per-month view (GET ?month=), the list of issued
 * invoices (GET ?status=issued), invoice runs (POST /admin/invoices/generate) and one issued invoice
 * by number (GET /admin/invoices/{number}, as JSON, CSV or a printable HTML page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bl_http.h"
#include "bl_invoice.h"
#include "route_offload.h"
#include "bl_pg.h"
#include "bl_query.h"
#include "bl_report.h"
#include "util/json_write.h"

#define CTX(state) ((const bl_report_ctx_t *)(state))
#define MAX_BODY 4096

static int bad(ig_http_exchange_t *x, const char *param, const char *code, const char *fmt, const char *v)
{
    char m[300];
    snprintf(m, sizeof(m), fmt, v);
    return bl_fail(x, 400, "invalid_request_error", code, param, "%s", m);
}

static int server_error(ig_http_exchange_t *x, const char *what, const char *msg)
{
    x->host->log(IG_LOG_ERROR, "billing", "%s: %s", what, msg);
    return bl_fail(x, 500, "server_error", NULL, NULL, "%s: %s", what, msg);
}

/* The invoice store after what was recorded before the call is committed: the SQLite ledger (rw: a
 * read-write connection) or server.database (a connection of the call's own). 0, or -1 answered. */
static int open_store(ig_http_exchange_t *x, const bl_report_ctx_t *c, int rw, bl_sql_t *db)
{
    if (!bl_writer_started(c->writer)) {
        bl_fail(x, 503, "server_error", NULL, NULL, "the usage ledger is not open");
        return -1;
    }
    if (bl_writer_sync(c->writer, 5000) != 0)
        c->host->log(IG_LOG_WARN, "billing", "invoices: the ledger writer is behind; using what is committed");
    char msg[400];
    if (c->writer->pg) {
        if (bl_pg_sql_open(bl_pg_url(c->writer->pg), db, msg, sizeof(msg)) == 0)
            return 0;
        return server_error(x, "usage ledger", msg), -1;
    }
    sqlite3 *s = rw ? bl_ledger_open_conn(c->writer->ledger_path, 1, msg, sizeof(msg))
                    : bl_ledger_open_reader(c->writer->ledger_path, msg, sizeof(msg));
    if (s == NULL)
        return server_error(x, "usage ledger", msg), -1;
    bl_sql_sqlite(db, s);
    return 0;
}

static void close_store(const bl_report_ctx_t *c, bl_sql_t *db)
{
    if (c->writer->pg)
        bl_pg_sql_close(db);
    else
        sqlite3_close(db->conn);
}

/* ---- POST /admin/invoices/generate --------------------------------------------------------------- */

static int priced(const ig_model_t *m)
{
    const char *p[] = {m->pricing.prompt, m->pricing.completion, m->pricing.request, m->pricing.input_cache_read,
                       m->pricing.audio};
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        int64_t u = 0;
        if (p[i] && bl_dec_parse(p[i], &u) == 0 && u > 0)
            return 1;
    }
    return 0;
}

/* A string member of the body into out: 1, 0 absent (or null), or -1 after answering 400. */
static int body_string(ig_http_exchange_t *x, const ig_json_value_t *body, const char *name, char *out, size_t cap)
{
    ig_json_value_t v;
    if (x->host->json->object_get(body, name, strlen(name), &v) != 1 || v.type == IG_JSON_NULL)
        return 0;
    size_t n = 0;
    if (v.type != IG_JSON_STRING || x->host->json->string_unescape(&v, out, cap - 1, &n) != 0 ||
        memchr(out, '\0', n) != NULL) {
        bad(x, name, "invalid_value", "`%s` must be a short string (no NUL)", name);
        return -1;
    }
    out[n] = '\0';
    return 1;
}

/* The issued invoices to the webhook and the export files, each once: only those this run issued. */
static void to_sinks(const bl_report_ctx_t *c, const bl_run_result_t *r)
{
    for (size_t i = r->ninvoices - r->issued_now; i < r->ninvoices; i++) {
        const bl_invoice_t *inv = &r->invoices[i];
        ig_buf_t json = {0}, csv = {0};
        bl_invoice_json(&json, inv);
        bl_invoice_csv_header(&csv);
        bl_invoice_csv(&csv, inv);
        if (!json.failed && !csv.failed) {
            bl_webhook_send_body(c->writer->webhook, json.p, json.len, inv->number);
            bl_export_invoice(&c->writer->export, c->host, inv->number, &json, &csv);
        } else {
            c->host->log(IG_LOG_ERROR, "billing", "invoice %s: out of memory sending it to the sinks", inv->number);
        }
        ig_buf_free(&json);
        ig_buf_free(&csv);
    }
}

static int generate(const bl_report_ctx_t *c, ig_http_exchange_t *x, ig_error_t *err)
{
    static const char *const no_params[] = {NULL};
    ig_query_t q;
    if (bl_read_query(x, no_params, &q) != 0)
        return 0;
    if (x->body.len > MAX_BODY)
        return bad(x, NULL, "invalid_value", "request body larger than %s bytes", "4096");
    ig_json_value_t body, k, v;
    ig_json_error_t je;
    if (x->host->json->validate_value(x->body.ptr, x->body.len, &je, &body) != 0 || body.type != IG_JSON_OBJECT)
        return bad(x, NULL, "invalid_json", "%sthe body must be a JSON object {month, customer?, dry_run?}", "");
    /* a money API refuses what it does not understand: every member must be one of these */
    ig_json_iter_t it;
    x->host->json->iter_init(&it, &body);
    while (x->host->json->iter_next(&it, &k, &v) == 1) {
        char name[64];
        size_t n = 0;
        if (x->host->json->string_unescape(&k, name, sizeof(name) - 1, &n) != 0)
            n = 0;
        name[n] = '\0';
        if (strcmp(name, "month") != 0 && strcmp(name, "customer") != 0 && strcmp(name, "dry_run") != 0)
            return bad(x, name, "unknown_parameter", "unknown body member `%s` (known: month, customer, dry_run)",
                       name);
    }
    char month[16], customer[96], dry[16];
    int hm, hc, hd;
    if ((hm = body_string(x, &body, "month", month, sizeof(month))) < 0 ||
        (hc = body_string(x, &body, "customer", customer, sizeof(customer))) < 0 ||
        (hd = body_string(x, &body, "dry_run", dry, sizeof(dry))) < 0)
        return 0;
    if (!hm || bl_parse_month(month) != 0)
        return bad(x, "month", "invalid_value", "`month` must be \"YYYY-MM\"%s", "");
    bl_run_mode_t mode = BL_RUN_ALL;
    if (!hd || strcmp(dry, "all") == 0)
        strcpy(dry, "all");
    else if (strcmp(dry, "validate") == 0)
        mode = BL_RUN_VALIDATE;
    else if (strcmp(dry, "none") == 0)
        mode = BL_RUN_ISSUE;
    else
        return bad(x, "dry_run", "invalid_value", "`dry_run` \"%s\" is not all, validate or none", dry);
    int64_t start_ms, end_ms, now_s = (int64_t)time(NULL);
    bl_month_bounds(month, &start_ms, &end_ms);
    if (mode == BL_RUN_ISSUE && start_ms > now_s * 1000)
        return bad(x, "month", "invalid_value", "%s has not begun: a month is issued once it has", month);

    bl_invoice_model_t *models = calloc(x->nmodels + 1, sizeof(*models));
    if (models == NULL)
        return server_error(x, "invoice run", "out of memory");
    for (size_t i = 0; i < x->nmodels; i++)
        models[i] = (bl_invoice_model_t){x->models[i]->name, priced(x->models[i])};
    bl_run_request_t req = {.month = month, .customer = hc ? customer : NULL, .mode = mode,
                            .currency = c->currency, .now_s = now_s, .models = models, .nmodels = x->nmodels};
    bl_sql_t db;
    if (open_store(x, c, 1, &db) != 0) {
        free(models);
        return 0;
    }
    bl_run_result_t r;
    char msg[400];
    /* one run at a time here; across gateways, server.database's lock (bl_pg.c) */
    pthread_mutex_lock(&c->writer->invoice_mu);
    int rc = bl_invoice_run(&db, &req, &r, msg, sizeof(msg));
    if (rc == 0 && r.issued_now > 0) {
        to_sinks(c, &r);
        c->host->log(IG_LOG_INFO, "billing", "invoice run %s: %zu invoice(s) issued, %s to %s", month, r.issued_now,
                     r.invoices[r.ninvoices - r.issued_now].number, r.invoices[r.ninvoices - 1].number);
    }
    pthread_mutex_unlock(&c->writer->invoice_mu);
    close_store(c, &db);
    free(models);
    if (rc != 0)
        return server_error(x, "invoice run", msg);

    ig_buf_t b = {0};
    ig_buf_lit(&b, "{\"object\":\"invoice.run\",\"month\":");
    ig_json_write_cstr(&b, month);
    ig_buf_lit(&b, ",\"dry_run\":");
    ig_json_write_cstr(&b, dry);
    ig_buf_lit(&b, ",\"invoices\":[");
    for (size_t i = 0; i < r.ninvoices; i++) {
        if (i)
            ig_buf_putc(&b, ',');
        bl_invoice_json(&b, &r.invoices[i]);
    }
    ig_buf_lit(&b, "],\"problems\":[");
    for (size_t i = 0; i < r.nproblems; i++) {
        const bl_invoice_problem_t *p = &r.problems[i];
        ig_buf_puts(&b, i ? ",{\"message\":" : "{\"message\":");
        ig_json_write_cstr(&b, p->message);
        if (p->customer[0]) {
            ig_buf_lit(&b, ",\"customer\":");
            ig_json_write_cstr(&b, p->customer);
        }
        if (p->model[0]) {
            ig_buf_lit(&b, ",\"model\":");
            ig_json_write_cstr(&b, p->model);
        }
        ig_buf_putc(&b, '}');
    }
    ig_buf_lit(&b, "]}");
    x->status = mode == BL_RUN_ISSUE && r.issued_now > 0 ? 201 : 200;
    bl_run_result_free(&r);
    return bl_respond(x, &b, "application/json", err);
}

/* ---- GET /admin/invoices/{number} ---------------------------------------------------------------- */

typedef enum { FMT_JSON, FMT_CSV, FMT_HTML } fmt_t;

/* ?format= wins; else the first of the Accept header's types this route has (no q-value ranking:
 * clients that ask for one format name it first); else JSON. -1: a format= it does not have. */
static int pick_format(const char *format, ig_str_t accept)
{
    if (format != NULL)
        return strcmp(format, "json") == 0 ? FMT_JSON
               : strcmp(format, "csv") == 0 ? FMT_CSV
               : strcmp(format, "html") == 0 ? FMT_HTML
                                             : -1;
    static const struct {
        const char *type;
        fmt_t fmt;
    } types[] = {{"application/json", FMT_JSON}, {"text/csv", FMT_CSV}, {"text/html", FMT_HTML}};
    int best = FMT_JSON;
    size_t at = accept.len;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        size_t n = strlen(types[i].type);
        for (size_t j = 0; j + n <= accept.len && j < at; j++) {
            if (strncasecmp(accept.ptr + j, types[i].type, n) == 0) {
                at = j;
                best = (int)types[i].fmt;
                break;
            }
        }
    }
    return best;
}

static int one(const bl_report_ctx_t *c, ig_http_exchange_t *x, const char *number, ig_error_t *err)
{
    static const char *const allowed[] = {"format", NULL};
    ig_query_t q;
    if (bl_read_query(x, allowed, &q) != 0)
        return 0;
    int fmt = pick_format(ig_query_get(&q, "format"), x->accept);
    if (fmt < 0)
        return bad(x, "format", "invalid_value", "format \"%.10s\" is not json, csv or html",
                   ig_query_get(&q, "format"));
    bl_sql_t db;
    if (open_store(x, c, 0, &db) != 0)
        return 0;
    bl_invoice_t inv;
    char msg[400];
    int found = bl_invoice_load(&db, number, &inv, msg, sizeof(msg));
    close_store(c, &db);
    if (found < 0)
        return server_error(x, "invoice", msg);
    if (found == 0)
        return bl_fail(x, 404, "invalid_request_error", "invoice_not_found", NULL, "no issued invoice \"%.40s\"",
                       number);
    ig_buf_t b = {0};
    const char *type = "application/json";
    if (fmt == FMT_JSON) {
        bl_invoice_json(&b, &inv);
    } else if (fmt == FMT_CSV) {
        bl_invoice_csv_header(&b);
        bl_invoice_csv(&b, &inv);
        type = "text/csv; charset=utf-8";
    } else {
        bl_invoice_html(&b, &inv);
        type = "text/html; charset=utf-8";
        /* markup only: nothing on the page may load or run anything */
        x->headers[0] = (ig_kv_t){"content-security-policy", "default-src 'none'; base-uri 'none'; form-action 'none'"};
        x->headers[1] = (ig_kv_t){"x-content-type-options", "nosniff"};
        x->nheaders = 2;
    }
    bl_invoice_free(&inv);
    return bl_respond(x, &b, type, err);
}

/* ---- GET /admin/invoices?status=issued ----------------------------------------------------------- */

static int list_issued(const bl_report_ctx_t *c, ig_http_exchange_t *x, const ig_query_t *q, ig_error_t *err)
{
    const char *month = ig_query_get(q, "month"), *customer = ig_query_get(q, "customer");
    const char *format = ig_query_get(q, "format");
    if (strcmp(ig_query_get(q, "status"), "issued") != 0)
        return bad(x, "status", "invalid_value", "status \"%.20s\" is not issued (drafts: POST "
                   "/admin/invoices/generate)", ig_query_get(q, "status"));
    if (month && bl_parse_month(month) != 0)
        return bad(x, "month", "invalid_value", "\"%.20s\" is not YYYY-MM", month);
    int fmt = pick_format(format, (ig_str_t){"", 0});
    if (fmt < 0 || fmt == FMT_HTML)
        return bad(x, "format", "invalid_value", "format \"%.10s\" is not json or csv", format);
    bl_sql_t db;
    if (open_store(x, c, 0, &db) != 0)
        return 0;
    bl_invoice_t *arr;
    size_t n;
    char msg[400];
    int rc = bl_invoice_list(&db, month, customer, &arr, &n, msg, sizeof(msg));
    close_store(c, &db);
    if (rc != 0)
        return server_error(x, "invoices", msg);
    ig_buf_t b = {0};
    if (fmt == FMT_CSV)
        bl_invoice_csv_header(&b);
    else
        ig_buf_lit(&b, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < n; i++) {
        if (fmt == FMT_CSV) {
            bl_invoice_csv(&b, &arr[i]);
        } else {
            if (i)
                ig_buf_putc(&b, ',');
            bl_invoice_json(&b, &arr[i]);
        }
        bl_invoice_free(&arr[i]);
    }
    free(arr);
    if (fmt != FMT_CSV)
        ig_buf_lit(&b, "]}");
    return bl_respond(x, &b, fmt == FMT_CSV ? "text/csv; charset=utf-8" : "application/json", err);
}

static int not_allowed(ig_http_exchange_t *x, const char *allow, const char *why)
{
    int r = bl_fail(x, 405, "invalid_request_error", "method_not_allowed", NULL, "%.*s refused: %s",
                    (int)(x->method.len > 10 ? 10 : x->method.len), x->method.ptr, why);
    x->headers[0] = (ig_kv_t){"allow", allow};
    x->nheaders = 1;
    return r;
}

int bl_route_invoices(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    return route_offload(state, x, err, bl_invoices_handle);
}

int bl_invoices_handle(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    const bl_report_ctx_t *c = CTX(state);
    ig_str_t rest = x->rest;
    if (rest.len == 0 || (rest.len == 1 && rest.ptr[0] == '/')) {
        if (!bl_is_method(x, "GET")) {
            return not_allowed(x, "GET", "/admin/invoices takes GET (runs: POST /admin/invoices/generate)");
        }
        static const char *const allowed[] = {"month", "customer", "format", "status", NULL};
        ig_query_t q;
        if (bl_read_query(x, allowed, &q) != 0)
            return 0;
        if (ig_query_get(&q, "status") != NULL)
            return list_issued(c, x, &q, err);
        return bl_report_invoices_computed(c, x, &q, err);
    }
    static const char gen[] = "/generate";
    if (rest.len == sizeof(gen) - 1 && memcmp(rest.ptr, gen, rest.len) == 0) {
        if (!bl_is_method(x, "POST")) {
            return not_allowed(x, "POST", "/admin/invoices/generate takes POST");
        }
        return generate(c, x, err);
    }
    /* /{number}: INV-YYYY-NNNNNN, nothing else (no percent-decoding needed, none accepted) */
    char number[24];
    size_t n = rest.len - 1;
    int ok = rest.ptr[0] == '/' && n == 15 && memcmp(rest.ptr + 1, "INV-", 4) == 0 && rest.ptr[9] == '-';
    for (size_t i = 5; ok && i < 16; i++)
        ok = i == 9 || (rest.ptr[i] >= '0' && rest.ptr[i] <= '9');
    if (!ok)
        return bl_fail(x, 404, "invalid_request_error", "invoice_not_found", NULL,
                       "no invoice at %.*s (numbers are INV-YYYY-NNNNNN)", (int)(rest.len > 60 ? 60 : rest.len),
                       rest.ptr);
    if (!bl_is_method(x, "GET")) {
        return not_allowed(x, "GET", "issued invoices are immutable: only GET");
    }
    memcpy(number, rest.ptr + 1, n);
    number[n] = '\0';
    return one(c, x, number, err);
}
