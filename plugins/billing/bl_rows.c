/*
 * bl_rows.c — admin query rows from SQLite or PostgreSQL (see bl_rows.h).
 */
#include "bl_rows.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct bl_rows_s {
    sqlite3 *db;               /* SQLite: the query's own read-only connection */
    sqlite3_stmt *st;
    bl_pg_rows_t *pg;          /* PostgreSQL */
};

bl_rows_t *bl_rows_open(const bl_writer_t *w, const char *sql, const bl_pg_param_t *params, int n, char *msg,
                        size_t cap)
{
    bl_rows_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    if (w->pg) {
        if (!(r->pg = bl_pg_query(bl_pg_url(w->pg), sql, params, n, msg, cap))) {
            free(r);
            return NULL;
        }
        return r;
    }
    if (!(r->db = bl_ledger_open_reader(w->ledger_path, msg, cap))) {
        free(r);
        return NULL;
    }
    if (sqlite3_prepare_v2(r->db, sql, -1, &r->st, NULL) != SQLITE_OK) {
        snprintf(msg, cap, "%s", sqlite3_errmsg(r->db));
        bl_rows_free(r);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (params[i].is_int)
            sqlite3_bind_int64(r->st, i + 1, params[i].i);
        else if (params[i].text)
            sqlite3_bind_text(r->st, i + 1, params[i].text, -1, SQLITE_TRANSIENT);
    }
    return r;
}

int bl_rows_next(bl_rows_t *r)
{
    if (r->pg)
        return bl_pg_next(r->pg);
    int rc = sqlite3_step(r->st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

const char *bl_rows_text(bl_rows_t *r, int col)
{
    if (r->pg)
        return bl_pg_text(r->pg, col);
    const unsigned char *t = sqlite3_column_text(r->st, col);
    return t ? (const char *)t : "";
}

int64_t bl_rows_int(bl_rows_t *r, int col)
{
    return r->pg ? bl_pg_int(r->pg, col) : sqlite3_column_int64(r->st, col);
}

const char *bl_rows_error(bl_rows_t *r)
{
    return r->db ? sqlite3_errmsg(r->db) : "server.database";
}

void bl_rows_free(bl_rows_t *r)
{
    if (!r)
        return;
    bl_pg_rows_free(r->pg);
    sqlite3_finalize(r->st);
    sqlite3_close(r->db);
    free(r);
}
