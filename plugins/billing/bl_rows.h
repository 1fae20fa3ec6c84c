/*
 * bl_rows — the rows of an admin query, from whichever ledger the writer keeps: its SQLite file (a
 * read-only connection of the query's own) or PostgreSQL (a connection of its own), through bl_sql.h.
 * The SQL is written once, with
 * SQLite's ?N placeholders, in what both understand.
 */
#ifndef BL_ROWS_H
#define BL_ROWS_H

#include "bl_pg.h"
#include "bl_writer.h"

typedef struct bl_rows_s bl_rows_t;

/* params: bl_sql_param_t (text, NULL for SQL NULL, or integers). NULL with msg. */
bl_rows_t *bl_rows_open(const bl_writer_t *w, const char *sql, const bl_sql_param_t *params, int n, char *msg,
                        size_t cap);
/* 1: a row; 0: the end; -1: an error (bl_rows_error says which). */
int bl_rows_next(bl_rows_t *r);
const char *bl_rows_text(bl_rows_t *r, int col); /* never NULL ("" for NULL) */
int64_t bl_rows_int(bl_rows_t *r, int col);
const char *bl_rows_error(bl_rows_t *r);
void bl_rows_free(bl_rows_t *r);

#endif
