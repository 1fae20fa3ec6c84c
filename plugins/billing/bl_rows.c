/*
 * bl_rows.c — admin query rows from SQLite or PostgreSQL (see bl_rows.h), through bl_sql.
 */
#include "bl_rows.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bl_rows_s {
    bl_sql_t db;               /* the query's own connection: SQLite read-only, or PostgreSQL */
    int pg;
    bl_sql_rows_t *rows;
};

static void rows_close(bl_rows_t *r)
{
    if (r->rows)
        r->db.done(r->rows);
    if (r->pg)
        bl_pg_sql_close(&r->db);
    else
        sqlite3_close(r->db.conn);
    free(r);
}

bl_rows_t *bl_rows_open(const bl_writer_t *w, const char *sql, const bl_sql_param_t *params, int n, char *msg,
                        size_t cap)
{
    bl_rows_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    if (w->pg) {
        if (bl_pg_sql_open(bl_pg_url(w->pg), &r->db, msg, cap) != 0) {
            free(r);
            return NULL;
        }
        r->pg = 1;
    } else {
        sqlite3 *db = bl_ledger_open_reader(w->ledger_path, msg, cap);
        if (!db) {
            free(r);
            return NULL;
        }
        bl_sql_sqlite(&r->db, db);
    }
    if (!(r->rows = r->db.query(&r->db, sql, params, n, msg, cap))) {
        rows_close(r);
        return NULL;
    }
    return r;
}

int bl_rows_next(bl_rows_t *r)
{
    return r->db.next(r->rows);
}

const char *bl_rows_text(bl_rows_t *r, int col)
{
    return r->db.text(r->rows, col);
}

int64_t bl_rows_int(bl_rows_t *r, int col)
{
    return r->db.integer(r->rows, col);
}

const char *bl_rows_error(bl_rows_t *r)
{
    return r->db.error(&r->db);
}

void bl_rows_free(bl_rows_t *r)
{
    if (r)
        rows_close(r);
}
