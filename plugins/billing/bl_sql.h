/*
 * bl_sql — the little of a SQL connection the invoice store needs, so one store (bl_invoice_store.c)
 * runs on the SQLite ledger (bl_sql_sqlite.c) and on PostgreSQL (server.database, bl_pg.c) alike.
 * Statements use SQLite's ?N placeholders (PostgreSQL's side rewrites them as $N) and SQL both
 * understand; what differs is named here (the column ordering records by commit, how an issue
 * begins).
 */
#ifndef BL_SQL_H
#define BL_SQL_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

/* A parameter: text (NULL: SQL NULL) or, with is_int, an integer. */
typedef struct {
    const char *text;
    int64_t i;
    int is_int;
} bl_sql_param_t;

typedef struct bl_sql_rows_s bl_sql_rows_t;

typedef struct bl_sql_s {
    void *conn;
    /* usage's column that orders records by commit: whatever is committed after an issue has a
     * higher value than its watermark (SQLite: id under the write lock; PostgreSQL: ledger_seq) */
    const char *record_order;
    /* starts an issuing transaction: no record may commit with a lower record_order afterwards, and
     * no other issue runs until COMMIT or ROLLBACK */
    const char *begin_issue;
    const char *begin_read; /* a consistent snapshot for drafts and reads */
    /* Runs sql with params; its rows (none for a statement without). NULL with msg. */
    bl_sql_rows_t *(*query)(struct bl_sql_s *db, const char *sql, const bl_sql_param_t *p, int n, char *msg,
                            size_t cap);
    int (*next)(bl_sql_rows_t *r); /* 1 a row, 0 the end, -1 an error (msg in error) */
    const char *(*text)(bl_sql_rows_t *r, int col); /* never NULL */
    int64_t (*integer)(bl_sql_rows_t *r, int col);
    const char *(*error)(struct bl_sql_s *db);
    void (*done)(bl_sql_rows_t *r);
    int (*exec)(struct bl_sql_s *db, const char *sql, char *msg, size_t cap); /* statements without rows */
} bl_sql_t;

/* db as a bl_sql_t (db stays the caller's). */
void bl_sql_sqlite(bl_sql_t *out, sqlite3 *db);

#endif
