/* bl_sql_sqlite.c — bl_sql over a SQLite connection (the embedded ledger). */
#include <stdio.h>
#include "bl_sql.h"

static bl_sql_rows_t *lite_query(bl_sql_t *db, const char *sql, const bl_sql_param_t *p, int n, char *msg, size_t cap)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db->conn, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(msg, cap, "%s", sqlite3_errmsg(db->conn));
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (p[i].is_int)
            sqlite3_bind_int64(st, i + 1, p[i].i);
        else if (p[i].text)
            sqlite3_bind_text(st, i + 1, p[i].text, -1, SQLITE_TRANSIENT);
    }
    return (bl_sql_rows_t *)st;
}

static int lite_next(bl_sql_rows_t *r)
{
    int rc = sqlite3_step((sqlite3_stmt *)r);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static const char *lite_text(bl_sql_rows_t *r, int col)
{
    const unsigned char *t = sqlite3_column_text((sqlite3_stmt *)r, col);
    return t ? (const char *)t : "";
}

static int64_t lite_int(bl_sql_rows_t *r, int col)
{
    return sqlite3_column_int64((sqlite3_stmt *)r, col);
}

static const char *lite_error(bl_sql_t *db)
{
    return sqlite3_errmsg(db->conn);
}

static void lite_done(bl_sql_rows_t *r)
{
    sqlite3_finalize((sqlite3_stmt *)r);
}

static int lite_exec(bl_sql_t *db, const char *sql, char *msg, size_t cap)
{
    if (sqlite3_exec(db->conn, sql, NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    snprintf(msg, cap, "%s", sqlite3_errmsg(db->conn));
    return -1;
}

void bl_sql_sqlite(bl_sql_t *out, sqlite3 *db)
{
    *out = (bl_sql_t){.conn = db, .record_order = "id", .begin_issue = "BEGIN IMMEDIATE", .begin_read = "BEGIN",
                      .query = lite_query, .next = lite_next, .text = lite_text, .integer = lite_int,
                      .error = lite_error, .done = lite_done, .exec = lite_exec};
}
