/*
 * bl_ledger — the usage ledger: one SQLite database (WAL) with one row per usage record. The writer
 * thread owns the read-write connection; admin routes open their own read-only connections, which
 * WAL lets run beside the writer without blocking it. The same database holds the issued invoices
 * (bl_invoice.h), created with the ledger.
 */
#ifndef BL_LEDGER_H
#define BL_LEDGER_H

#include <sqlite3.h>
#include <stddef.h>
#include "bl_record.h"

typedef struct {
    sqlite3 *db;
    sqlite3_stmt *insert;
} bl_ledger_t;

/* Opens (creating) path; synchronous is "NORMAL" or "FULL". 0, or -1 with msg. */
int bl_ledger_open(bl_ledger_t *l, const char *path, const char *synchronous, char *msg, size_t msgcap);
/* Inserts n records in one transaction (the group commit) and sets their ids. 0, or -1 with msg
 * (nothing committed). */
int bl_ledger_append(bl_ledger_t *l, bl_record_t *recs, size_t n, char *msg, size_t msgcap);
void bl_ledger_close(bl_ledger_t *l);

/* A read-only connection for queries, or NULL with msg. */
sqlite3 *bl_ledger_open_reader(const char *path, char *msg, size_t msgcap);
/* A connection of its own, read-write when writable (invoice runs: their own transactions, which
 * SQLite serializes with the writer's group commits), or NULL with msg. */
sqlite3 *bl_ledger_open_conn(const char *path, int writable, char *msg, size_t msgcap);

#endif
