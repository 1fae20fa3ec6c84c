/* bl_invoice_store.c — invoice runs, numbering and storage in the ledger's database (bl_invoice.h),
 * SQLite or PostgreSQL through bl_sql. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bl_invoice.h"

/*
 * Issued invoices are rows nothing may change: triggers refuse UPDATE and DELETE on them, on their
 * lines, and on the usage records they are computed from (the ledger is append-only). seq is the
 * gap-free sequence: the next invoice takes MAX(seq) + 1 in the transaction that inserts it, and
 * nothing is ever deleted, so numbers run 1, 2, 3, ... per ledger.
 */
const char bl_invoice_schema[] =
    "CREATE TABLE IF NOT EXISTS invoice("
    " seq INTEGER PRIMARY KEY, number TEXT NOT NULL UNIQUE,"
    " customer TEXT NOT NULL, month TEXT NOT NULL, currency TEXT NOT NULL, issued_at INTEGER NOT NULL,"
    " period_end_ms INTEGER NOT NULL," /* covers records that arrived before this... */
    " watermark INTEGER NOT NULL,"     /* ...committed by the issue (id <= this), not covered before */
    " records INTEGER NOT NULL,"
    " total TEXT NOT NULL, total_whole INTEGER NOT NULL, total_units INTEGER NOT NULL,"
    " UNIQUE(customer, month));"
    "CREATE INDEX IF NOT EXISTS invoice_customer ON invoice(customer, period_end_ms);"
    "CREATE TABLE IF NOT EXISTS invoice_line("
    " seq INTEGER NOT NULL REFERENCES invoice(seq), model TEXT NOT NULL,"
    " requests INTEGER NOT NULL, prompt_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,"
    " completion_tokens INTEGER NOT NULL, audio_ms INTEGER NOT NULL,"
    " cost TEXT NOT NULL, cost_whole INTEGER NOT NULL, cost_units INTEGER NOT NULL," /* whole + units/1e15 */
    " PRIMARY KEY(seq, model));"
    "CREATE TRIGGER IF NOT EXISTS invoice_no_update BEFORE UPDATE ON invoice"
    " BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END;"
    "CREATE TRIGGER IF NOT EXISTS invoice_no_delete BEFORE DELETE ON invoice"
    " BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END;"
    "CREATE TRIGGER IF NOT EXISTS invoice_line_no_update BEFORE UPDATE ON invoice_line"
    " BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END;"
    "CREATE TRIGGER IF NOT EXISTS invoice_line_no_delete BEFORE DELETE ON invoice_line"
    " BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_no_update BEFORE UPDATE ON usage"
    " BEGIN SELECT RAISE(ABORT, 'the usage ledger is append-only'); END;"
    "CREATE TRIGGER IF NOT EXISTS usage_no_delete BEFORE DELETE ON usage"
    " BEGIN SELECT RAISE(ABORT, 'the usage ledger is append-only'); END;";

#define UNITS_PER_WHOLE ((bl_i128_t)1000000000000000LL)

static int fail(bl_sql_t *db, const char *what, char *msg, size_t msgcap)
{
    snprintf(msg, msgcap, "%s: %s", what, db->error(db));
    return -1;
}

/* sql's rows, or NULL with msg naming what. */
static bl_sql_rows_t *query(bl_sql_t *db, const char *what, const char *sql, const bl_sql_param_t *p, int n, char *msg,
                            size_t msgcap)
{
    char m[300];
    bl_sql_rows_t *r = db->query(db, sql, p, n, m, sizeof(m));
    if (r == NULL)
        snprintf(msg, msgcap, "%s: %s", what, m);
    return r;
}

/* A statement without rows: 0, or -1 with msg. */
static int run(bl_sql_t *db, const char *what, const char *sql, const bl_sql_param_t *p, int n, char *msg,
               size_t msgcap)
{
    bl_sql_rows_t *r = query(db, what, sql, p, n, msg, msgcap);
    if (r == NULL)
        return -1;
    int rc = db->next(r);
    if (rc < 0)
        fail(db, what, msg, msgcap);
    db->done(r);
    return rc < 0 ? -1 : 0;
}

#define TXT(s) ((bl_sql_param_t){.text = (s)})
#define INT(v) ((bl_sql_param_t){.i = (v), .is_int = 1})

void bl_month_bounds(const char *month, int64_t *start_ms, int64_t *end_ms)
{
    int y = atoi(month), m = atoi(month + 5);
    struct tm a = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = 1};
    struct tm b = {.tm_year = (m == 12 ? y + 1 : y) - 1900, .tm_mon = m == 12 ? 0 : m, .tm_mday = 1};
    *start_ms = (int64_t)timegm(&a) * 1000;
    *end_ms = (int64_t)timegm(&b) * 1000;
}

void bl_invoice_free(bl_invoice_t *inv)
{
    free(inv->lines);
    inv->lines = NULL;
    inv->nlines = 0;
}

void bl_run_result_free(bl_run_result_t *r)
{
    for (size_t i = 0; i < r->ninvoices; i++)
        bl_invoice_free(&r->invoices[i]);
    free(r->invoices);
    free(r->problems);
    memset(r, 0, sizeof(*r));
}

static void copy(char *dst, size_t cap, const char *s)
{
    snprintf(dst, cap, "%s", s);
}

/* Appends an empty element to an array (elem bytes each, zeroed); NULL when out of memory. */
static void *grow(void **arr, size_t *n, size_t elem)
{
    void *p = realloc(*arr, (*n + 1) * elem);
    if (p == NULL)
        return NULL;
    *arr = p;
    void *e = (char *)p + *n * elem;
    memset(e, 0, elem);
    (*n)++;
    return e;
}

static bl_invoice_line_t *add_line(bl_invoice_t *inv)
{
    return grow((void **)&inv->lines, &inv->nlines, sizeof(bl_invoice_line_t));
}

static void problem(bl_run_result_t *r, const char *customer, const char *model, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(bl_run_result_t *r, const char *customer, const char *model, const char *fmt, ...)
{
    bl_invoice_problem_t *p = grow((void **)&r->problems, &r->nproblems, sizeof(*p));
    if (p == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof(p->message), fmt, ap);
    va_end(ap);
    snprintf(p->customer, sizeof(p->customer), "%s", customer ? customer : "");
    snprintf(p->model, sizeof(p->model), "%s", model ? model : "");
}

/* ---- reading issued invoices ---------------------------------------------------------------------- */

#define INVOICE_COLUMNS "seq, number, customer, month, currency, issued_at, records, total_whole, total_units"

static int read_lines(bl_sql_t *db, int64_t seq, bl_invoice_t *inv, char *msg, size_t msgcap)
{
    bl_sql_param_t p[] = {INT(seq)};
    bl_sql_rows_t *st = query(db, "invoice lines",
                              "SELECT model, requests, prompt_tokens, cached_tokens, completion_tokens, audio_ms,"
                              " cost_whole, cost_units FROM invoice_line WHERE seq = ?1 ORDER BY model",
                              p, 1, msg, msgcap);
    if (st == NULL)
        return -1;
    int rc;
    while ((rc = db->next(st)) == 1) {
        bl_invoice_line_t *l = add_line(inv);
        if (l == NULL) {
            db->done(st);
            snprintf(msg, msgcap, "out of memory");
            return -1;
        }
        copy(l->model, sizeof(l->model), db->text(st, 0));
        l->requests = db->integer(st, 1);
        l->prompt = db->integer(st, 2);
        l->cached = db->integer(st, 3);
        l->completion = db->integer(st, 4);
        l->audio_ms = db->integer(st, 5);
        l->cost = (bl_i128_t)db->integer(st, 6) * UNITS_PER_WHOLE + db->integer(st, 7);
    }
    if (rc < 0)
        fail(db, "invoice lines", msg, msgcap);
    db->done(st);
    return rc < 0 ? -1 : 0;
}

static int read_invoice_row(bl_sql_t *db, bl_sql_rows_t *st, bl_invoice_t *inv, char *msg, size_t msgcap)
{
    memset(inv, 0, sizeof(*inv));
    int64_t seq = db->integer(st, 0);
    copy(inv->number, sizeof(inv->number), db->text(st, 1));
    copy(inv->customer, sizeof(inv->customer), db->text(st, 2));
    copy(inv->month, sizeof(inv->month), db->text(st, 3));
    copy(inv->currency, sizeof(inv->currency), db->text(st, 4));
    inv->issued_at = db->integer(st, 5);
    inv->records = db->integer(st, 6);
    inv->total = (bl_i128_t)db->integer(st, 7) * UNITS_PER_WHOLE + db->integer(st, 8);
    return read_lines(db, seq, inv, msg, msgcap);
}

/* Invoices matching sql (binding ?1 and ?2 as text or NULL), appended to *arr. 0 or -1. */
static int read_invoices(bl_sql_t *db, const char *where, const char *a1, const char *a2, bl_invoice_t **arr,
                         size_t *n, char *msg, size_t msgcap)
{
    char sql[400];
    snprintf(sql, sizeof(sql), "SELECT " INVOICE_COLUMNS " FROM invoice WHERE %s ORDER BY seq", where);
    bl_sql_param_t p[] = {TXT(a1), TXT(a2)};
    bl_sql_rows_t *st = query(db, "invoices", sql, p, 2, msg, msgcap);
    if (st == NULL)
        return -1;
    int rc;
    while ((rc = db->next(st)) == 1) {
        bl_invoice_t *inv = grow((void **)arr, n, sizeof(**arr));
        if (inv == NULL || read_invoice_row(db, st, inv, msg, msgcap) != 0) {
            if (inv == NULL)
                snprintf(msg, msgcap, "out of memory");
            db->done(st);
            return -1;
        }
    }
    if (rc < 0)
        fail(db, "invoices", msg, msgcap);
    db->done(st);
    return rc < 0 ? -1 : 0;
}

int bl_invoice_load(bl_sql_t *db, const char *number, bl_invoice_t *out, char *msg, size_t msgcap)
{
    bl_invoice_t *arr = NULL;
    size_t n = 0;
    if (read_invoices(db, "number = ?1", number, NULL, &arr, &n, msg, msgcap) != 0) {
        for (size_t i = 0; i < n; i++)
            bl_invoice_free(&arr[i]);
        free(arr);
        return -1;
    }
    if (n == 1)
        *out = arr[0];
    free(arr);
    return n == 1;
}

int bl_invoice_list(bl_sql_t *db, const char *month, const char *customer, bl_invoice_t **out, size_t *n, char *msg,
                    size_t msgcap)
{
    *out = NULL;
    *n = 0;
    int rc = read_invoices(db, "(?1 IS NULL OR month = ?1) AND (?2 IS NULL OR customer = ?2)", month, customer, out, n,
                           msg, msgcap);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            bl_invoice_free(&(*out)[i]);
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}

/* ---- a run ------------------------------------------------------------------------------------- */

static int has_invoice(const bl_run_result_t *r, size_t nissued_before, const char *customer)
{
    for (size_t i = 0; i < nissued_before; i++)
        if (strcmp(r->invoices[i].customer, customer) == 0)
            return 1;
    return 0;
}

static const bl_invoice_model_t *find_model(const bl_run_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nmodels; i++)
        if (strcmp(req->models[i].name, name) == 0)
            return &req->models[i];
    return NULL;
}

/* Customers (of the run's filter) that already have an invoice for a later month: their records up
 * to that month's end are on it, so this month cannot be issued for them any more. */
static int later_months(bl_sql_t *db, const bl_run_request_t *req, bl_run_result_t *out, char ***names, size_t *n,
                        char *msg, size_t msgcap)
{
    bl_sql_param_t p[] = {TXT(req->month), TXT(req->customer)};
    bl_sql_rows_t *st = query(db, "invoices",
                              "SELECT customer, MAX(month) FROM invoice WHERE month > ?1 AND (?2 IS NULL OR customer = ?2)"
                              " GROUP BY customer ORDER BY customer",
                              p, 2, msg, msgcap);
    if (st == NULL)
        return -1;
    int rc;
    while ((rc = db->next(st)) == 1) {
        const char *c = db->text(st, 0), *m = db->text(st, 1);
        char **slot = grow((void **)names, n, sizeof(char *));
        if (slot == NULL || (*slot = strdup(c)) == NULL) {
            db->done(st);
            snprintf(msg, msgcap, "out of memory");
            return -1;
        }
        problem(out, c, NULL,
                "not invoiced for %s: the customer already has an invoice for %.7s, which covers its records up to "
                "then (invoices of a customer are issued in month order)",
                req->month, m);
    }
    if (rc < 0)
        fail(db, "invoices", msg, msgcap);
    db->done(st);
    return rc < 0 ? -1 : 0;
}

static int in_names(char **names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return 1;
    return 0;
}

/* The records not yet invoiced, up to the month's end and the watermark, per customer and model
 * (%s: the database's record_order column, twice). */
static const char pending_sql[] =
    "SELECT customer, model, COUNT(*), SUM(requests), SUM(prompt_tokens), SUM(cached_tokens),"
    " SUM(completion_tokens), SUM(audio_ms), SUM(cost_units / 1000000000),"
    " SUM(cost_units - cost_units / 1000000000 * 1000000000),"
    " SUM(CASE WHEN usage_known = 0 AND status < 400 THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN cost_units = 0 AND prompt_tokens + completion_tokens + audio_ms > 0 THEN 1 ELSE 0 END)"
    " FROM usage u WHERE u.ts_ms < ?1 AND u.%s <= ?2 AND (?3 IS NULL OR u.customer = ?3)"
    " AND NOT EXISTS (SELECT 1 FROM invoice i WHERE i.customer = u.customer AND u.ts_ms < i.period_end_ms"
    " AND u.%s <= i.watermark)"
    " GROUP BY customer, model ORDER BY customer, model";

static int compute_drafts(bl_sql_t *db, const bl_run_request_t *req, int64_t end_ms, int64_t watermark,
                          char **blocked, size_t nblocked, bl_run_result_t *out, char *msg, size_t msgcap)
{
    size_t nissued = out->ninvoices;
    char sql[sizeof(pending_sql) + 64];
    snprintf(sql, sizeof(sql), pending_sql, db->record_order, db->record_order);
    bl_sql_param_t p[] = {INT(end_ms), INT(watermark), TXT(req->customer)};
    bl_sql_rows_t *st = query(db, "usage", sql, p, 3, msg, msgcap);
    if (st == NULL)
        return -1;
    int rc;
    bl_invoice_t *cur = NULL;
    while ((rc = db->next(st)) == 1) {
        const char *customer = db->text(st, 0);
        const char *model = db->text(st, 1);
        long long count = db->integer(st, 2);
        if (has_invoice(out, nissued, customer) || in_names(blocked, nblocked, customer))
            continue; /* issued already: these records are late, for its next invoice */
        if (req->mode == BL_RUN_VALIDATE) {
            long long unknown_usage = db->integer(st, 10), unpriced = db->integer(st, 11);
            const bl_invoice_model_t *m = find_model(req, model);
            if (customer[0] == '\0')
                problem(out, customer, model, "%lld record(s) have no customer (recorded without an auth plugin)",
                        count);
            if (m == NULL)
                problem(out, customer, model,
                        "%lld record(s) of a model the configuration does not have (priced as it was when recorded)",
                        count);
            else if (!m->priced)
                problem(out, customer, model, "%lld record(s) of a model with no prices: billed 0", count);
            if (unpriced > 0 && (m == NULL || m->priced))
                problem(out, customer, model, "%lld record(s) with tokens or audio but a cost of 0", unpriced);
            if (unknown_usage > 0)
                problem(out, customer, model,
                        "%lld answered request(s) whose engine reported no usage (usage_known 0): billed no tokens",
                        unknown_usage);
        }
        if (cur == NULL || strcmp(cur->customer, customer) != 0) {
            cur = grow((void **)&out->invoices, &out->ninvoices, sizeof(*cur));
            if (cur == NULL)
                break;
            snprintf(cur->customer, sizeof(cur->customer), "%s", customer);
            snprintf(cur->month, sizeof(cur->month), "%s", req->month);
            snprintf(cur->currency, sizeof(cur->currency), "%s", req->currency);
        }
        bl_invoice_line_t *l = add_line(cur);
        if (l == NULL)
            break;
        snprintf(l->model, sizeof(l->model), "%s", model);
        l->requests = db->integer(st, 3);
        l->prompt = db->integer(st, 4);
        l->cached = db->integer(st, 5);
        l->completion = db->integer(st, 6);
        l->audio_ms = db->integer(st, 7);
        l->cost = (bl_i128_t)db->integer(st, 8) * 1000000000 + db->integer(st, 9);
        cur->records += count;
        cur->total += l->cost;
    }
    if (rc < 0)
        fail(db, "usage", msg, msgcap);
    db->done(st);
    if (rc == 1) {
        snprintf(msg, msgcap, "out of memory");
        return -1;
    }
    return rc < 0 ? -1 : 0;
}

static void split(bl_i128_t v, int64_t *whole, int64_t *units)
{
    *whole = (int64_t)(v / UNITS_PER_WHOLE);
    *units = (int64_t)(v % UNITS_PER_WHOLE);
}

/* Numbers and inserts the drafts from index first on. 0 or -1 (the caller rolls back). */
static int issue(bl_sql_t *db, const bl_run_request_t *req, int64_t end_ms, int64_t watermark, bl_run_result_t *out,
                 size_t first, char *msg, size_t msgcap)
{
    time_t now = (time_t)req->now_s;
    struct tm tm;
    gmtime_r(&now, &tm);
    for (size_t i = first; i < out->ninvoices; i++) {
        bl_invoice_t *inv = &out->invoices[i];
        bl_sql_rows_t *next = query(db, "invoice number", "SELECT COALESCE(MAX(seq), 0) + 1 FROM invoice", NULL, 0, msg,
                                    msgcap);
        if (next == NULL)
            return -1;
        int got = db->next(next);
        int64_t seq = got == 1 ? db->integer(next, 0) : 0;
        if (got != 1)
            fail(db, "invoice number", msg, msgcap);
        db->done(next);
        if (got != 1)
            return -1;
        if (seq > 999999) { /* the number's six digits: refuse rather than print a seventh */
            snprintf(msg, msgcap, "invoice numbers are exhausted (INV-YYYY-999999 was the last)");
            return -1;
        }
        snprintf(inv->number, sizeof(inv->number), "INV-%04d-%06d", (tm.tm_year + 1900) % 10000, (int)seq);
        inv->issued_at = req->now_s;
        char total[48];
        int64_t whole, units;
        bl_dec_format(inv->total, total, sizeof(total));
        split(inv->total, &whole, &units);
        bl_sql_param_t ip[] = {INT(seq),           TXT(inv->number), TXT(inv->customer), TXT(inv->month),
                               TXT(inv->currency), INT(inv->issued_at), INT(end_ms),     INT(watermark),
                               INT(inv->records),  TXT(total),       INT(whole),         INT(units)};
        if (run(db, "invoice insert",
                "INSERT INTO invoice(seq, number, customer, month, currency, issued_at, period_end_ms, watermark,"
                " records, total, total_whole, total_units) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
                ip, 12, msg, msgcap) != 0)
            return -1;
        for (size_t j = 0; j < inv->nlines; j++) {
            const bl_invoice_line_t *l = &inv->lines[j];
            char cost[48];
            bl_dec_format(l->cost, cost, sizeof(cost));
            split(l->cost, &whole, &units);
            bl_sql_param_t lp[] = {INT(seq),           TXT(l->model),   INT(l->requests), INT(l->prompt), INT(l->cached),
                                   INT(l->completion), INT(l->audio_ms), TXT(cost),       INT(whole),     INT(units)};
            if (run(db, "invoice line insert",
                    "INSERT INTO invoice_line(seq, model, requests, prompt_tokens, cached_tokens, completion_tokens,"
                    " audio_ms, cost, cost_whole, cost_units) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                    lp, 10, msg, msgcap) != 0)
                return -1;
        }
    }
    return 0;
}

int bl_invoice_run(bl_sql_t *db, const bl_run_request_t *req, bl_run_result_t *out, char *msg, size_t msgcap)
{
    memset(out, 0, sizeof(*out));
    int64_t start_ms, end_ms;
    bl_month_bounds(req->month, &start_ms, &end_ms);
    (void)start_ms;
    /* issuing takes the write lock first (db->begin_issue), so the watermark and the numbers it reads
     * stay true until COMMIT; a draft only needs a consistent snapshot */
    char m[300];
    if (db->exec(db, req->mode == BL_RUN_ISSUE ? db->begin_issue : db->begin_read, m, sizeof(m)) != 0) {
        snprintf(msg, msgcap, "begin: %s", m);
        return -1;
    }
    char **blocked = NULL;
    size_t nblocked = 0;
    int64_t watermark = 0;
    int rc = -1;
    char wsql[80];
    snprintf(wsql, sizeof(wsql), "SELECT COALESCE(MAX(%s), 0) FROM usage", db->record_order);
    bl_sql_rows_t *st = query(db, "usage", wsql, NULL, 0, msg, msgcap);
    if (st == NULL)
        goto done;
    int got = db->next(st);
    if (got == 1)
        watermark = db->integer(st, 0);
    else
        fail(db, "usage", msg, msgcap);
    db->done(st);
    if (got != 1)
        goto done;
    if (read_invoices(db, "month = ?1 AND (?2 IS NULL OR customer = ?2)", req->month, req->customer, &out->invoices,
                      &out->ninvoices, msg, msgcap) != 0 ||
        later_months(db, req, out, &blocked, &nblocked, msg, msgcap) != 0)
        goto done;
    size_t first_new = out->ninvoices;
    if (compute_drafts(db, req, end_ms, watermark, blocked, nblocked, out, msg, msgcap) != 0)
        goto done;
    if (req->mode == BL_RUN_ISSUE && out->ninvoices > first_new) {
        if (issue(db, req, end_ms, watermark, out, first_new, msg, msgcap) != 0)
            goto done;
        out->issued_now = out->ninvoices - first_new;
    }
    rc = 0;
done:
    for (size_t i = 0; i < nblocked; i++)
        free(blocked[i]);
    free(blocked);
    if (rc == 0 && req->mode == BL_RUN_ISSUE) {
        if (db->exec(db, "COMMIT", m, sizeof(m)) != 0) {
            snprintf(msg, msgcap, "commit: %s", m);
            rc = -1;
            db->exec(db, "ROLLBACK", m, sizeof(m));
        }
    } else {
        db->exec(db, "ROLLBACK", m, sizeof(m));
    }
    if (rc != 0)
        bl_run_result_free(out);
    return rc;
}
