/*
 * test_billing_invoice.c — invoice runs on a scratch ledger (plugins/billing/bl_invoice_store.c,
 * bl_invoice_render.c): drafts store nothing; issuing numbers invoices INV-YYYY-000001, 2, ... per
 * ledger, one per customer with a line per model and a total equal to the sum of the lines; issuing
 * again returns the same invoices and issues nothing; a record committed after the issue with an
 * arrival time in the issued month lands on the customer's next invoice, never on the issued one;
 * a customer already invoiced for a later month is not invoiced for an earlier one; validate
 * reports records of unknown and unpriced models and records without usage; triggers refuse any
 * change to issued invoices and to the ledger; the renderings escape what they must.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "bl_invoice.h"
#include "bl_ledger.h"
#include "ig_test.h"

static bl_ledger_t ledger;
static int64_t next_ts;

/* one record: customer, model, arrival (ms), tokens, cost units */
static void add(const char *customer, const char *model, int64_t ts_ms, int64_t prompt, int64_t completion,
                int64_t cost, int usage_known)
{
    bl_record_t r = {0};
    r.ts_ms = ts_ms;
    bl_format_day(ts_ms, r.day);
    snprintf(r.customer, sizeof(r.customer), "%s", customer);
    snprintf(r.key_id, sizeof(r.key_id), "k-%s", customer);
    snprintf(r.model, sizeof(r.model), "%s", model);
    r.api = "chat.completions";
    r.status = 200;
    r.complete = 1;
    r.usage_known = usage_known;
    r.prompt_tokens = prompt;
    r.completion_tokens = completion;
    r.requests = 1;
    r.cost_units = cost;
    char msg[200];
    CHECKF(bl_ledger_append(&ledger, &r, 1, msg, sizeof(msg)) == 0, "append: %s", msg);
    next_ts = ts_ms;
}

static const bl_invoice_model_t models[] = {{"m1", 1}, {"free", 0}};

static int run(sqlite3 *db, const char *month, const char *customer, bl_run_mode_t mode, bl_run_result_t *r)
{
    bl_run_request_t req = {.month = month, .customer = customer, .mode = mode, .currency = "USD",
                            .now_s = 1796083200 /* 2026-12-01 */, .models = models, .nmodels = 2};
    char msg[400];
    bl_sql_t sql;
    bl_sql_sqlite(&sql, db);
    int rc = bl_invoice_run(&sql, &req, r, msg, sizeof(msg));
    CHECKF(rc == 0, "run %s: %s", month, msg);
    return rc;
}

static const bl_invoice_t *by_customer(const bl_run_result_t *r, const char *c)
{
    for (size_t i = 0; i < r->ninvoices; i++)
        if (strcmp(r->invoices[i].customer, c) == 0)
            return &r->invoices[i];
    return NULL;
}

static void check_sum(const bl_invoice_t *inv)
{
    bl_i128_t s = 0;
    for (size_t i = 0; i < inv->nlines; i++)
        s += inv->lines[i].cost;
    CHECKF(s == inv->total, "invoice %s: the lines add up to its total", inv->number);
}

static int refused(sqlite3 *db, const char *sql, const char *why)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    int ok = rc != SQLITE_OK && err && strstr(err, why) != NULL;
    sqlite3_free(err);
    return ok;
}

int main(void)
{
    char path[] = "test_billing_invoice.db";
    unlink(path);
    char msg[400];
    CHECK(bl_ledger_open(&ledger, path, "NORMAL", msg, sizeof(msg)) == 0);
    int64_t nov, dec, jan, end;
    bl_month_bounds("2026-11", &nov, &dec);
    bl_month_bounds("2027-01", &jan, &end);
    CHECK(dec == nov + 30LL * 86400 * 1000);
    /* November: acme uses m1 twice and free once; beta m1 once; a December record of acme too */
    add("acme", "m1", nov + 1000, 10, 5, 1500000000000LL, 1);
    add("acme", "m1", nov + 2000, 20, 7, 900000000000000000LL, 1); /* 900 units: two halves in SQL */
    add("acme", "free", nov + 3000, 4, 4, 0, 1);
    add("beta", "m1", dec - 1, 1, 1, 7, 0);
    add("acme", "m1", dec, 1, 1, 11, 1); /* the first December instant: not November's */
    sqlite3 *db = bl_ledger_open_conn(path, 1, msg, sizeof(msg));
    bl_sql_t sql;
    bl_sql_sqlite(&sql, db);
    CHECK(db != NULL);

    /* a draft stores nothing */
    bl_run_result_t r;
    run(db, "2026-11", NULL, BL_RUN_ALL, &r);
    CHECK(r.ninvoices == 2 && r.issued_now == 0 && r.nproblems == 0);
    const bl_invoice_t *a = by_customer(&r, "acme");
    CHECK(a && a->number[0] == '\0' && a->nlines == 2 && a->records == 3);
    CHECK(a && strcmp(a->lines[0].model, "free") == 0 && strcmp(a->lines[1].model, "m1") == 0);
    CHECK(a && a->lines[1].requests == 2 && a->lines[1].prompt == 30 && a->lines[1].completion == 12);
    CHECK(a && a->total == (bl_i128_t)900001500000000000LL);
    check_sum(a);
    bl_run_result_free(&r);

    /* validate: the free model's tokens at 0, beta's record without usage */
    run(db, "2026-11", NULL, BL_RUN_VALIDATE, &r);
    int free_found = 0, unknown_usage = 0;
    for (size_t i = 0; i < r.nproblems; i++) {
        free_found |= strcmp(r.problems[i].model, "free") == 0 && strstr(r.problems[i].message, "no prices") != NULL;
        unknown_usage |= strcmp(r.problems[i].customer, "beta") == 0 && strstr(r.problems[i].message, "usage_known") != NULL;
    }
    CHECK(free_found && unknown_usage);
    bl_run_result_free(&r);
    add("gamma", "gone", nov + 5, 1, 1, 3, 1);
    run(db, "2026-11", "gamma", BL_RUN_VALIDATE, &r);
    CHECK(r.nproblems == 1 && strstr(r.problems[0].message, "does not have") != NULL);
    bl_run_result_free(&r);

    /* issue: numbered in customer order, gap-free */
    run(db, "2026-11", NULL, BL_RUN_ISSUE, &r);
    CHECK(r.ninvoices == 3 && r.issued_now == 3);
    CHECK(strcmp(r.invoices[0].number, "INV-2026-000001") == 0 && strcmp(r.invoices[0].customer, "acme") == 0);
    CHECK(strcmp(r.invoices[1].number, "INV-2026-000002") == 0 && strcmp(r.invoices[1].customer, "beta") == 0);
    CHECK(strcmp(r.invoices[2].number, "INV-2026-000003") == 0 && strcmp(r.invoices[2].customer, "gamma") == 0);
    ig_buf_t first = {0};
    for (size_t i = 0; i < r.ninvoices; i++) {
        check_sum(&r.invoices[i]);
        bl_invoice_json(&first, &r.invoices[i]);
    }
    bl_run_result_free(&r);

    /* a late record: arrived in November, committed after the issue */
    add("acme", "m1", nov + 4000, 100, 100, 5, 1);
    run(db, "2026-11", NULL, BL_RUN_ISSUE, &r);
    CHECK(r.ninvoices == 3 && r.issued_now == 0);
    ig_buf_t again = {0};
    for (size_t i = 0; i < r.ninvoices; i++)
        bl_invoice_json(&again, &r.invoices[i]);
    CHECK(first.len == again.len && memcmp(first.p, again.p, first.len) == 0);
    bl_run_result_free(&r);
    bl_invoice_t one;
    CHECK(bl_invoice_load(&sql, "INV-2026-000001", &one, msg, sizeof(msg)) == 1 && one.records == 3 &&
          one.total == (bl_i128_t)900001500000000000LL);
    bl_invoice_free(&one);
    CHECK(bl_invoice_load(&sql, "INV-2026-000099", &one, msg, sizeof(msg)) == 0);

    /* December: acme's December record and the late November one; beta nothing new */
    run(db, "2026-12", NULL, BL_RUN_ISSUE, &r);
    CHECK(r.ninvoices == 1 && r.issued_now == 1);
    a = by_customer(&r, "acme");
    CHECK(a && strcmp(a->number, "INV-2026-000004") == 0 && a->records == 2 && a->total == 16);
    CHECK(a && a->nlines == 1 && a->lines[0].prompt == 101);
    bl_run_result_free(&r);

    /* a customer already invoiced for December is not invoiced for November again */
    add("acme", "m1", nov + 6000, 1, 1, 1, 1);
    run(db, "2026-11", "acme", BL_RUN_ALL, &r);
    CHECK(r.ninvoices == 1 && strcmp(r.invoices[0].number, "INV-2026-000001") == 0);
    bl_run_result_free(&r);
    run(db, "2027-01", NULL, BL_RUN_ALL, &r);
    CHECK(r.ninvoices == 1 && r.invoices[0].records == 1 && r.invoices[0].number[0] == '\0');
    bl_run_result_free(&r);

    /* the listing */
    bl_invoice_t *arr;
    size_t n;
    CHECK(bl_invoice_list(&sql, "2026-11", NULL, &arr, &n, msg, sizeof(msg)) == 0 && n == 3);
    for (size_t i = 0; i < n; i++)
        bl_invoice_free(&arr[i]);
    free(arr);

    /* immutable */
    CHECK(refused(db, "UPDATE invoice SET total = '0'", "immutable"));
    CHECK(refused(db, "DELETE FROM invoice", "immutable"));
    CHECK(refused(db, "UPDATE invoice_line SET cost = '0'", "immutable"));
    CHECK(refused(db, "DELETE FROM invoice_line", "immutable"));
    CHECK(refused(db, "DELETE FROM usage", "append-only"));
    CHECK(refused(db, "UPDATE usage SET cost_units = 0", "append-only"));

    /* renderings: escaped, sums */
    bl_invoice_line_t lines[] = {{.model = "a,\"b\"", .requests = 1, .prompt = 2, .cached = 1, .completion = 3,
                                  .audio_ms = 1500, .cost = 5}};
    bl_invoice_t inv = {.number = "INV-2026-000007", .customer = "<b>&'x'", .month = "2026-11", .currency = "USD",
                        .issued_at = 1796083200, .records = 1, .lines = lines, .nlines = 1, .total = 5};
    ig_buf_t b = {0};
    bl_invoice_html(&b, &inv);
    CHECK(strstr(b.p, "&lt;b&gt;&amp;&#39;x&#39;") != NULL && strstr(b.p, "<b>") == NULL);
    CHECK(strstr(b.p, "<script") == NULL && strstr(b.p, "style") == NULL && strstr(b.p, " on") == NULL);
    CHECK(strstr(b.p, "a,&quot;b&quot;") != NULL);
    b.len = 0;
    bl_invoice_csv(&b, &inv);
    CHECK(strcmp(b.p, "INV-2026-000007,<b>&'x',2026-11,USD,\"a,\"\"b\"\"\",1,2,1,3,1.500,0.000000000000005\n"
                      "INV-2026-000007,<b>&'x',2026-11,USD,TOTAL,1,2,1,3,1.500,0.000000000000005\n") == 0);
    b.len = 0;
    bl_invoice_json(&b, &inv);
    CHECK(strstr(b.p, "\"customer\":\"<b>&'x'\"") != NULL && strstr(b.p, "\"total\":\"0.000000000000005\"") != NULL &&
          strstr(b.p, "\"status\":\"issued\"") != NULL);
    ig_buf_free(&b);
    ig_buf_free(&first);
    ig_buf_free(&again);
    sqlite3_close(db);
    bl_ledger_close(&ledger);
    unlink(path);
    return ig_test_summary();
}
