/*
 * bl_pg.c — the usage ledger in PostgreSQL (see bl_pg.h).
 */
#define _POSIX_C_SOURCE 200809L
#include "bl_pg.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ig_pg.h"
#include "util/buf.h"

struct bl_pg_s {
    PGconn *conn;
    char url[2048];
    char app[128];
    char gateway[96];
    int64_t boot;              /* Unix µs the writer started at: one gateway id, many lives */
    int64_t seq;
};

/* Text columns in the C collation: sorted as SQLite sorts them (bytewise), whatever the cluster's locale. */
static const ig_pg_migration_t migrations[] = {
    {1, "CREATE TABLE usage("
        " gateway text COLLATE \"C\" NOT NULL, boot bigint NOT NULL, seq bigint NOT NULL,"
        " ts_ms bigint NOT NULL, day text COLLATE \"C\" NOT NULL,"
        " customer text COLLATE \"C\" NOT NULL, key_id text COLLATE \"C\" NOT NULL, model text COLLATE \"C\" NOT NULL,"
        " adapter text NOT NULL, endpoint text NOT NULL, api text NOT NULL, status integer NOT NULL,"
        " stream integer NOT NULL, complete integer NOT NULL, usage_known integer NOT NULL,"
        " prompt_tokens bigint NOT NULL, completion_tokens bigint NOT NULL, cached_tokens bigint NOT NULL,"
        " audio_ms bigint NOT NULL, requests bigint NOT NULL, ttft_us bigint NOT NULL, duration_us bigint NOT NULL,"
        " attempts bigint NOT NULL, generation bigint NOT NULL, cost_units bigint NOT NULL,"
        " PRIMARY KEY(gateway, boot, seq));"
        "CREATE INDEX usage_customer_day ON usage(customer, day);"
        "CREATE INDEX usage_day ON usage(day);"},
    /* issued invoices (bl_invoice.h). ledger_seq orders records by commit for the invoices'
     * watermark: appends draw it holding LEDGER_LOCK shared, an issue holds it exclusive, so when an
     * issue reads MAX(ledger_seq) every lower value is committed and every later one is higher. */
    {2, "ALTER TABLE usage ADD COLUMN ledger_seq bigserial NOT NULL;"
        "CREATE INDEX usage_customer_seq ON usage(customer, ledger_seq);"
        "CREATE TABLE invoice("
        " seq bigint PRIMARY KEY, number text COLLATE \"C\" NOT NULL UNIQUE,"
        " customer text COLLATE \"C\" NOT NULL, month text COLLATE \"C\" NOT NULL, currency text NOT NULL,"
        " issued_at bigint NOT NULL, period_end_ms bigint NOT NULL, watermark bigint NOT NULL,"
        " records bigint NOT NULL, total text NOT NULL, total_whole bigint NOT NULL, total_units bigint NOT NULL,"
        " UNIQUE(customer, month));"
        "CREATE INDEX invoice_customer ON invoice(customer, period_end_ms);"
        "CREATE TABLE invoice_line("
        " seq bigint NOT NULL REFERENCES invoice(seq), model text COLLATE \"C\" NOT NULL,"
        " requests bigint NOT NULL, prompt_tokens bigint NOT NULL, cached_tokens bigint NOT NULL,"
        " completion_tokens bigint NOT NULL, audio_ms bigint NOT NULL,"
        " cost text NOT NULL, cost_whole bigint NOT NULL, cost_units bigint NOT NULL, PRIMARY KEY(seq, model));"
        "CREATE FUNCTION bl_refuse() RETURNS trigger LANGUAGE plpgsql AS"
        " $$BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END$$;"
        "CREATE TRIGGER invoice_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON invoice"
        " FOR EACH STATEMENT EXECUTE FUNCTION bl_refuse('issued invoices are immutable');"
        "CREATE TRIGGER invoice_line_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON invoice_line"
        " FOR EACH STATEMENT EXECUTE FUNCTION bl_refuse('issued invoices are immutable');"
        "CREATE TRIGGER usage_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON usage"
        " FOR EACH STATEMENT EXECUTE FUNCTION bl_refuse('the usage ledger is append-only');"},
};

/* pg_advisory_xact_lock key of the ledger: shared by appends, exclusive by an invoice issue */
#define LEDGER_LOCK "7236492019"

#define STAGE_COLUMNS                                                                                                  \
    "gateway, boot, seq, ts_ms, day, customer, key_id, model, adapter, endpoint, api, status, stream, complete,"       \
    " usage_known, prompt_tokens, completion_tokens, cached_tokens, audio_ms, requests, ttft_us, duration_us,"        \
    " attempts, generation, cost_units"

static int connect_writer(bl_pg_t *pg, char *msg, size_t cap)
{
    PQfinish(pg->conn);
    pg->conn = ig_pg_connect(pg->url, pg->app, msg, cap);
    if (!pg->conn)
        return -1;
    /* the staging table: per connection, emptied by every commit */
    if (ig_pg_exec(pg->conn,
                   "CREATE TEMP TABLE bl_stage (LIKE usage INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", msg, cap) != 0) {
        PQfinish(pg->conn);
        pg->conn = NULL;
        return -1;
    }
    return 0;
}

bl_pg_t *bl_pg_open(const char *url, const char *gateway_id, char *msg, size_t cap)
{
    bl_pg_t *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    snprintf(pg->url, sizeof(pg->url), "%s", url);
    snprintf(pg->app, sizeof(pg->app), "infergate %s billing", gateway_id);
    snprintf(pg->gateway, sizeof(pg->gateway), "%s", gateway_id);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    pg->boot = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    pg->conn = ig_pg_connect(url, pg->app, msg, cap);
    if (!pg->conn ||
        ig_pg_migrate(pg->conn, "billing", migrations, sizeof(migrations) / sizeof(migrations[0]), msg, cap) != 0 ||
        connect_writer(pg, msg, cap) != 0) {
        bl_pg_close(pg);
        return NULL;
    }
    return pg;
}

void bl_pg_close(bl_pg_t *pg)
{
    if (!pg)
        return;
    PQfinish(pg->conn);
    free(pg);
}

const char *bl_pg_url(const bl_pg_t *pg)
{
    return pg->url;
}

void bl_pg_number(bl_pg_t *pg, bl_record_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].id == 0)
            recs[i].id = ++pg->seq;
}

/* s as a field of COPY's text format */
static void copy_str(ig_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\\': ig_buf_puts(b, "\\\\"); break;
        case '\t': ig_buf_puts(b, "\\t"); break;
        case '\n': ig_buf_puts(b, "\\n"); break;
        case '\r': ig_buf_puts(b, "\\r"); break;
        default: ig_buf_put(b, s, 1);
        }
    }
}

static void copy_row(ig_buf_t *b, const bl_pg_t *pg, const bl_record_t *r)
{
    copy_str(b, pg->gateway);
    ig_buf_printf(b, "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t", pg->boot, r->id, r->ts_ms);
    const char *texts[] = {r->day, r->customer, r->key_id, r->model, r->adapter, r->endpoint, r->api ? r->api : ""};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        copy_str(b, texts[i]);
        ig_buf_puts(b, "\t");
    }
    ig_buf_printf(b,
                  "%d\t%d\t%d\t%d\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64
                  "\t%" PRId64 "\t%" PRIu32 "\t%" PRIu64 "\t%" PRId64 "\n",
                  r->status, r->stream, r->complete, r->usage_known, r->prompt_tokens, r->completion_tokens,
                  r->cached_tokens, r->audio_ms, r->requests, r->ttft_us, r->duration_us, r->attempts, r->generation,
                  r->cost_units);
}

static int fail(bl_pg_t *pg, const char *what, char *msg, size_t cap)
{
    char e[400];
    snprintf(msg, cap, "ledger server.database: %s: %s", what, ig_pg_error(pg->conn, e, sizeof(e)));
    if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK && PQtransactionStatus(pg->conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec(pg->conn, "ROLLBACK");
        PQclear(r);
    }
    return -1;
}

int bl_pg_append(bl_pg_t *pg, const bl_record_t *recs, size_t n, int retry, char *msg, size_t cap)
{
    if (n == 0)
        return 0;
    if ((!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) && connect_writer(pg, msg, cap) != 0)
        return -1;
    ig_buf_t b = {0};
    for (size_t i = 0; i < n; i++)
        copy_row(&b, pg, &recs[i]);
    if (b.failed) {
        ig_buf_free(&b);
        snprintf(msg, cap, "ledger server.database: out of memory");
        return -1;
    }
    char e[400];
    /* LEDGER_LOCK shared: an invoice issue (exclusive) waits for this batch's commit (see migration 2) */
    if (ig_pg_exec(pg->conn, "BEGIN; SELECT pg_advisory_xact_lock_shared(" LEDGER_LOCK ")", e, sizeof(e)) != 0) {
        ig_buf_free(&b);
        return fail(pg, "begin", msg, cap);
    }
    /* a first attempt cannot meet its own records: straight into usage. A retry may (its commit may
     * have happened): through the staging table, skipping what is there */
    PGresult *r = PQexec(pg->conn, retry ? "COPY bl_stage(" STAGE_COLUMNS ") FROM STDIN"
                                         : "COPY usage(" STAGE_COLUMNS ") FROM STDIN");
    int ok = r && PQresultStatus(r) == PGRES_COPY_IN;
    PQclear(r);
    ok = ok && PQputCopyData(pg->conn, b.p, (int)b.len) == 1 && PQputCopyEnd(pg->conn, NULL) == 1;
    ig_buf_free(&b);
    if (ok) {
        r = PQgetResult(pg->conn);
        ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        while ((r = PQgetResult(pg->conn)) != NULL)
            PQclear(r);
    }
    if (!ok)
        return fail(pg, "copy", msg, cap);
    if (retry && ig_pg_exec(pg->conn,
                            "INSERT INTO usage(" STAGE_COLUMNS ") SELECT " STAGE_COLUMNS
                            " FROM bl_stage ON CONFLICT DO NOTHING",
                            e, sizeof(e)) != 0)
        return fail(pg, "insert", msg, cap);
    if (ig_pg_exec(pg->conn, "COMMIT", e, sizeof(e)) != 0)
        return fail(pg, "commit", msg, cap);
    return 0;
}

/* ?N → $N; a '?' inside a string literal is left alone. */
static void dollar_params(ig_buf_t *b, const char *sql)
{
    int quoted = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quoted = !quoted;
        ig_buf_put(b, !quoted && *p == '?' ? "$" : p, 1);
    }
}

/* ---- reading: a connection for the invoice store and admin queries (bl_sql.h) ---- */

typedef struct {
    PGconn *conn;
    char err[400];
} sql_conn_t;

struct bl_sql_rows_s {
    PGresult *res;
    int row;
};

static bl_sql_rows_t *sql_query(bl_sql_t *db, const char *sql, const bl_sql_param_t *p, int n, char *msg, size_t cap)
{
    sql_conn_t *c = db->conn;
    enum { MAXP = 16 };
    if (n > MAXP) {
        snprintf(msg, cap, "%d parameters (at most %d)", n, MAXP);
        return NULL;
    }
    bl_sql_rows_t *r = calloc(1, sizeof(*r));
    ig_buf_t q = {0};
    dollar_params(&q, sql);
    ig_buf_put(&q, "", 1);
    const char *vals[MAXP];
    char ints[MAXP][24];
    Oid types[MAXP];
    for (int i = 0; i < n; i++) {
        types[i] = p[i].is_int ? 20 /* int8 */ : 25 /* text */;
        if (p[i].is_int)
            snprintf(ints[i], sizeof(ints[i]), "%" PRId64, p[i].i);
        vals[i] = p[i].is_int ? ints[i] : p[i].text;
    }
    if (r && !q.failed)
        r->res = PQexecParams(c->conn, q.p, n, types, vals, NULL, NULL, 0);
    ig_buf_free(&q);
    ExecStatusType st = r && r->res ? PQresultStatus(r->res) : PGRES_FATAL_ERROR;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        char e[400];
        snprintf(msg, cap, "server.database: %s",
                 !r ? "out of memory" : r->res ? PQresultErrorMessage(r->res) : ig_pg_error(c->conn, e, sizeof(e)));
        msg[strcspn(msg, "\n")] = '\0';
        snprintf(c->err, sizeof(c->err), "%s", msg);
        if (r)
            PQclear(r->res);
        free(r);
        return NULL;
    }
    r->row = -1;
    return r;
}

static int sql_next(bl_sql_rows_t *r)
{
    return ++r->row < PQntuples(r->res);
}

static const char *sql_text(bl_sql_rows_t *r, int col)
{
    return PQgetvalue(r->res, r->row, col);
}

static int64_t sql_int(bl_sql_rows_t *r, int col)
{
    return strtoll(PQgetvalue(r->res, r->row, col), NULL, 10);
}

static const char *sql_error(bl_sql_t *db)
{
    return ((sql_conn_t *)db->conn)->err;
}

static void sql_done(bl_sql_rows_t *r)
{
    if (r)
        PQclear(r->res);
    free(r);
}

static int sql_exec(bl_sql_t *db, const char *sql, char *msg, size_t cap)
{
    sql_conn_t *c = db->conn;
    if (ig_pg_exec(c->conn, sql, msg, cap) == 0)
        return 0;
    snprintf(c->err, sizeof(c->err), "%s", msg);
    return -1;
}

int bl_pg_sql_open(const char *url, bl_sql_t *out, char *msg, size_t cap)
{
    sql_conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(msg, cap, "out of memory");
        return -1;
    }
    if (!(c->conn = ig_pg_connect(url, "infergate billing query", msg, cap))) {
        free(c);
        return -1;
    }
    *out = (bl_sql_t){.conn = c, .record_order = "ledger_seq",
                      /* exclusive: no append is between drawing its ledger_seq and committing */
                      .begin_issue = "BEGIN; SELECT pg_advisory_xact_lock(" LEDGER_LOCK ")",
                      .begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                      .query = sql_query, .next = sql_next, .text = sql_text, .integer = sql_int,
                      .error = sql_error, .done = sql_done, .exec = sql_exec};
    return 0;
}

void bl_pg_sql_close(bl_sql_t *db)
{
    sql_conn_t *c = db->conn;
    if (!c)
        return;
    PQfinish(c->conn);
    free(c);
    db->conn = NULL;
}
