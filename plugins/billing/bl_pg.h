/*
 * bl_pg — the usage ledger in PostgreSQL (server.database), shared by every gateway of a fleet.
 *
 * Writing (the writer thread's connection): each record's id is (gateway, boot, seq): the gateway's
 * id, the Unix µs its ledger writer started at, and a sequence the writer gives the record before its
 * first attempt, with a primary key on it. A batch's first attempt COPYs it straight into usage (its
 * ids cannot be there yet); a retry COPYs it into a per-connection staging table, then
 * INSERT ... ON CONFLICT DO NOTHING into usage, in one transaction: a batch retried after a commit
 * whose answer was lost is not counted twice. A lost connection is reopened by the next attempt.
 *
 * Reading (invoices and admin queries, a connection per call): bl_pg_sql_open gives a bl_sql_t that
 * runs the same SQL as SQLite's (?N parameters, rewritten as $N) and hands rows back as text.
 */
#ifndef BL_PG_H
#define BL_PG_H

#include <stddef.h>
#include <stdint.h>
#include "bl_record.h"
#include "bl_sql.h"

typedef struct bl_pg_s bl_pg_t;

/* Connects and applies the ledger's migrations. NULL with msg. */
bl_pg_t *bl_pg_open(const char *url, const char *gateway_id, char *msg, size_t cap);
void bl_pg_close(bl_pg_t *pg);
/* Gives every record of recs its sequence (recs[i].id) unless it has one: call once per batch. */
void bl_pg_number(bl_pg_t *pg, bl_record_t *recs, size_t n);
/* Inserts n numbered records in one transaction. retry: an earlier attempt of this batch failed (and
 * may have committed): records already there are skipped. 0, or -1 with msg. */
int bl_pg_append(bl_pg_t *pg, const bl_record_t *recs, size_t n, int retry, char *msg, size_t cap);
const char *bl_pg_url(const bl_pg_t *pg);

/* ---- reading: the invoice store (bl_invoice.h) and admin queries (bl_rows.h) ---- */

/* A connection of its own for one invoice call (an issue takes the ledger's lock: see bl_pg.c). 0, or
 * -1 with msg. */
int bl_pg_sql_open(const char *url, bl_sql_t *out, char *msg, size_t cap);
void bl_pg_sql_close(bl_sql_t *db);

#endif
