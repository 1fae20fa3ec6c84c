/*
 * bl_invoice — invoice runs over the ledger: drafts computed, invoices issued (numbered, stored,
 * immutable), read back by number, and their three renderings (JSON, CSV, printable HTML).
 *
 * What an invoice covers: for customer C and month M (UTC), the ledger records of C that arrived
 * before M's end and that no earlier invoice of C covers. Each issued invoice stores its period end
 * (the month's end) and the ledger's watermark at issue (the highest record id committed then); it
 * covers exactly the records with ts_ms < period_end and id <= watermark not covered before. A
 * record committed after the issue (arrived in M, written late) has a higher id: no issued invoice
 * covers it, so the customer's next invoice does. Invoices of a customer are issued in month order.
 * "id" is the database's record_order (bl_sql.h): SQLite's row id; in PostgreSQL usage.ledger_seq,
 * whose order matches commit order under the ledger's lock (bl_pg.c).
 */
#ifndef BL_INVOICE_H
#define BL_INVOICE_H

#include "bl_sql.h"
#include <stdint.h>
#include "bl_decimal.h"
#include "util/buf.h"

typedef struct {
    char model[128];
    int64_t requests, prompt, cached, completion, audio_ms;
    bl_i128_t cost;
} bl_invoice_line_t;

typedef struct {
    char number[32];     /* "INV-2026-000001"; "" for a draft */
    char customer[96];
    char month[8];
    char currency[16];
    int64_t issued_at;   /* Unix seconds; 0 for a draft */
    int64_t records;     /* ledger records it covers */
    bl_invoice_line_t *lines;
    size_t nlines;
    bl_i128_t total;     /* the sum of the lines' costs */
} bl_invoice_t;

/* A problem found by a validate run (or a reason a customer was not invoiced). */
typedef struct {
    char message[300];
    char customer[96];   /* "" when not about one */
    char model[128];     /* "" when not about one */
} bl_invoice_problem_t;

/* A model of the serving configuration, as validate checks records against it. */
typedef struct {
    const char *name;
    int priced;          /* any price set */
} bl_invoice_model_t;

typedef enum { BL_RUN_ALL = 0, BL_RUN_VALIDATE, BL_RUN_ISSUE } bl_run_mode_t;

typedef struct {
    const char *month;           /* YYYY-MM, checked */
    const char *customer;        /* NULL: every customer */
    bl_run_mode_t mode;
    const char *currency;
    int64_t now_s;               /* the issue time */
    const bl_invoice_model_t *models;
    size_t nmodels;
} bl_run_request_t;

typedef struct {
    bl_invoice_t *invoices;
    size_t ninvoices;
    size_t issued_now;           /* how many of them this run issued */
    bl_invoice_problem_t *problems;
    size_t nproblems;
} bl_run_result_t;

/* Tables and triggers (CREATE ... IF NOT EXISTS), run by the ledger when it opens. */
extern const char bl_invoice_schema[];

/* A run on db (a read-write connection). 0, or -1 with msg (nothing issued). */
int bl_invoice_run(bl_sql_t *db, const bl_run_request_t *req, bl_run_result_t *out, char *msg, size_t msgcap);
void bl_run_result_free(bl_run_result_t *r);

/* The issued invoice numbered number: 1 found, 0 not, -1 with msg. */
int bl_invoice_load(bl_sql_t *db, const char *number, bl_invoice_t *out, char *msg, size_t msgcap);
/* Issued invoices, optionally of one month and/or customer, in number order. 0, or -1 with msg. */
int bl_invoice_list(bl_sql_t *db, const char *month, const char *customer, bl_invoice_t **out, size_t *n, char *msg,
                    size_t msgcap);
void bl_invoice_free(bl_invoice_t *inv);

/* Renderings */
void bl_invoice_json(ig_buf_t *b, const bl_invoice_t *inv);
void bl_invoice_csv_header(ig_buf_t *b);
void bl_invoice_csv(ig_buf_t *b, const bl_invoice_t *inv);
void bl_invoice_html(ig_buf_t *b, const bl_invoice_t *inv);

/* Unix ms of the first instant of month "YYYY-MM" (UTC) and of the next month. */
void bl_month_bounds(const char *month, int64_t *start_ms, int64_t *end_ms);

#endif
