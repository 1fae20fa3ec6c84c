/*
 * bl_writer — the billing plugin's process state (plugin.h load/unload): the queue that record()
 * fills on worker threads, and the writer thread that group-commits it to the ledger every
 * flushInterval or flushRecords records, then hands the batch to the export files and the webhook.
 * It outlives reloads; unload drains the queue and commits everything before returning.
 */
#ifndef BL_WRITER_H
#define BL_WRITER_H

#include <pthread.h>
#include <stdint.h>
#include "bl_export.h"
#include "bl_ledger.h"
#include "bl_webhook.h"

typedef struct {
    const char *ledger_path;
    const char *synchronous;   /* "NORMAL" | "FULL" */
    unsigned flush_ms;
    size_t flush_records;
    size_t max_queued;
    const char *export_dir;    /* "" = none */
    int export_jsonl, export_csv;
    bl_webhook_options_t webhook; /* url "" = none */
    const char *database;      /* server.database: the ledger in PostgreSQL (bl_pg.h); NULL: SQLite at ledger_path */
    const char *gateway_id;    /* names this gateway's records there */
} bl_writer_options_t;

typedef struct bl_writer {
    const ig_host_t *host;
    pthread_mutex_t mu;
    pthread_cond_t wake, committed_cv;
    bl_record_t *q;            /* records waiting for the writer */
    size_t qlen, qcap;
    uint64_t enqueued, committed, dropped, unsaved; /* unsaved: refused by the ledger, in .unsaved.jsonl */
    int flush_now, stopping, started;
    pthread_t thread;
    /* set once by bl_writer_start */
    char ledger_path[1024];
    char settings[1600];       /* the options it started with, to tell a reload what it cannot change */
    unsigned flush_ms;
    size_t flush_records, max_queued;
    bl_ledger_t ledger;        /* the writer thread's */
    bl_export_t export;        /* the writer thread's */
    bl_webhook_t *webhook;
    struct bl_pg_s *pg;        /* with server.database: the writer thread's PostgreSQL ledger (ledger unused) */
    pthread_mutex_t invoice_mu; /* one invoice run at a time: numbers, sinks and export files in order */
} bl_writer_t;

bl_writer_t *bl_writer_create(const ig_host_t *host);
/* Opens the ledger and starts the thread (once; later calls return 0 and change nothing). */
int bl_writer_start(bl_writer_t *w, const bl_writer_options_t *o, char *msg, size_t msgcap);
int bl_writer_started(bl_writer_t *w);
/* From any worker thread: copies rec into the queue (a short critical section, never I/O). */
void bl_writer_push(bl_writer_t *w, const bl_record_t *rec);
/* Waits up to timeout_ms until everything queued before the call is committed. 0, or -1 on timeout. */
int bl_writer_sync(bl_writer_t *w, unsigned timeout_ms);
/* Drains, commits, stops the sinks and frees. */
void bl_writer_destroy(bl_writer_t *w);

#endif
