#include "bl_ledger.h"
#include "util/file.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "bl_invoice.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS usage("
    " id INTEGER PRIMARY KEY,"
    " ts_ms INTEGER NOT NULL, day TEXT NOT NULL,"
    " customer TEXT NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, adapter TEXT NOT NULL,"
    " endpoint TEXT NOT NULL, api TEXT NOT NULL, status INTEGER NOT NULL, stream INTEGER NOT NULL,"
    " complete INTEGER NOT NULL, usage_known INTEGER NOT NULL,"
    " prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,"
    " audio_ms INTEGER NOT NULL, requests INTEGER NOT NULL, ttft_us INTEGER NOT NULL, duration_us INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL, generation INTEGER NOT NULL,"
    " cost_units INTEGER NOT NULL);" /* exact cost in 1e-15 currency units */
    "CREATE INDEX IF NOT EXISTS usage_customer_day ON usage(customer, day);"
    "CREATE INDEX IF NOT EXISTS usage_day ON usage(day);";

static const char insert_sql[] =
    "INSERT INTO usage(ts_ms,day,customer,key_id,model,adapter,endpoint,api,status,stream,complete,usage_known,"
    "prompt_tokens,completion_tokens,cached_tokens,audio_ms,requests,ttft_us,duration_us,attempts,generation,cost_units)"
    " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static int fail(sqlite3 *db, const char *what, char *msg, size_t msgcap)
{
    snprintf(msg, msgcap, "%s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
    return -1;
}

int bl_ledger_open(bl_ledger_t *l, const char *path, const char *synchronous, char *msg, size_t msgcap)
{
    memset(l, 0, sizeof(*l));
    if (ig_file_private_sqlite(path) != 0) { /* money: 0600 from the start; -wal and -shm take its mode */
        snprintf(msg, msgcap, "%s: cannot create it with mode 0600: %s", path, strerror(errno));
        return -1;
    }
    if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        fail(l->db, path, msg, msgcap);
        bl_ledger_close(l);
        return -1;
    }
    sqlite3_busy_timeout(l->db, 5000);
    char pragmas[160];
    snprintf(pragmas, sizeof(pragmas), "PRAGMA journal_mode=WAL; PRAGMA synchronous=%s;",
             strcmp(synchronous, "FULL") == 0 ? "FULL" : "NORMAL");
    if (sqlite3_exec(l->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(l->db, bl_invoice_schema, NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db, insert_sql, -1, &l->insert, NULL) != SQLITE_OK) {
        char what[300];
        snprintf(what, sizeof(what), "ledger %s", path);
        fail(l->db, what, msg, msgcap);
        bl_ledger_close(l);
        return -1;
    }
    return 0;
}

static int bind_record(sqlite3_stmt *s, const bl_record_t *r)
{
    int i = 1;
    int rc = sqlite3_bind_int64(s, i++, r->ts_ms);
    rc |= sqlite3_bind_text(s, i++, r->day, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->customer, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->key_id, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->model, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->adapter, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->endpoint, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(s, i++, r->api, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_int(s, i++, r->status);
    rc |= sqlite3_bind_int(s, i++, r->stream);
    rc |= sqlite3_bind_int(s, i++, r->complete);
    rc |= sqlite3_bind_int(s, i++, r->usage_known);
    rc |= sqlite3_bind_int64(s, i++, r->prompt_tokens);
    rc |= sqlite3_bind_int64(s, i++, r->completion_tokens);
    rc |= sqlite3_bind_int64(s, i++, r->cached_tokens);
    rc |= sqlite3_bind_int64(s, i++, r->audio_ms);
    rc |= sqlite3_bind_int64(s, i++, r->requests);
    rc |= sqlite3_bind_int64(s, i++, r->ttft_us);
    rc |= sqlite3_bind_int64(s, i++, r->duration_us);
    rc |= sqlite3_bind_int64(s, i++, r->attempts);
    rc |= sqlite3_bind_int64(s, i++, (sqlite3_int64)r->generation);
    rc |= sqlite3_bind_int64(s, i++, r->cost_units);
    return rc;
}

int bl_ledger_append(bl_ledger_t *l, bl_record_t *recs, size_t n, char *msg, size_t msgcap)
{
    if (n == 0)
        return 0;
    if (sqlite3_exec(l->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return fail(l->db, "ledger: begin", msg, msgcap);
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(l->insert);
        if (bind_record(l->insert, &recs[i]) != SQLITE_OK || sqlite3_step(l->insert) != SQLITE_DONE) {
            fail(l->db, "ledger: insert", msg, msgcap);
            sqlite3_reset(l->insert);
            sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        recs[i].id = sqlite3_last_insert_rowid(l->db);
    }
    sqlite3_reset(l->insert);
    if (sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fail(l->db, "ledger: commit", msg, msgcap);
        sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

void bl_ledger_close(bl_ledger_t *l)
{
    if (l->insert)
        sqlite3_finalize(l->insert);
    if (l->db)
        sqlite3_close(l->db);
    memset(l, 0, sizeof(*l));
}

sqlite3 *bl_ledger_open_reader(const char *path, char *msg, size_t msgcap)
{
    return bl_ledger_open_conn(path, 0, msg, msgcap);
}

sqlite3 *bl_ledger_open_conn(const char *path, int writable, char *msg, size_t msgcap)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        fail(db, path, msg, msgcap);
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 5000);
    return db;
}
