#include "bl_writer.h"
#include "bl_pg.h"
#include "util/file.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bl_writer_t *bl_writer_create(const ig_host_t *host)
{
    bl_writer_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->host = host;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->invoice_mu, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->committed_cv, NULL);
    return w;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* A batch the ledger refused even at exit goes to a side file, so it can still be replayed. */
static void save_unsaved(bl_writer_t *w, const bl_record_t *recs, size_t n)
{
    char path[1100];
    snprintf(path, sizeof(path), "%s.unsaved.jsonl", w->ledger_path);
    FILE *f = ig_file_append_private(path);
    if (f != NULL) {
        ig_buf_t b = {0};
        for (size_t i = 0; i < n; i++) {
            bl_record_json(&b, &recs[i]);
            ig_buf_put(&b, "\n", 1);
        }
        fwrite(b.p, 1, b.len, f);
        ig_buf_free(&b);
        fclose(f);
    }
    w->host->log(IG_LOG_ERROR, "billing", "%zu usage records could not be committed; written to %s%s", n, path,
                 f ? "" : " (which failed too: they are lost)");
}

/*
 * PostgreSQL away for long: rather than let the queue reach maxQueued and drop what comes next, the
 * writer moves what waits, once half of maxQueued does, to .unsaved.jsonl (its own thread's I/O, never
 * a worker's). Those records are numbered first, like a batch, so the file names them as the ledger would.
 */
static void spill_if_full(bl_writer_t *w)
{
    pthread_mutex_lock(&w->mu);
    if (w->qlen < w->max_queued / 2) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    bl_record_t *q = w->q;
    size_t n = w->qlen;
    w->q = NULL;
    w->qcap = w->qlen = 0;
    pthread_mutex_unlock(&w->mu);
    bl_pg_number(w->pg, q, n);
    save_unsaved(w, q, n);
    free(q);
    pthread_mutex_lock(&w->mu);
    w->unsaved += n;
    pthread_cond_broadcast(&w->committed_cv);
    pthread_mutex_unlock(&w->mu);
}

/* A second between attempts; with PostgreSQL, spilling the queue whenever it reaches half of maxQueued
 * meanwhile (bl_writer_push wakes us then), so a fast stream of records never reaches the drop. */
static void retry_pause(bl_writer_t *w)
{
    struct timespec ts;
    deadline_in(&ts, 1000);
    pthread_mutex_lock(&w->mu);
    for (;;) { /* the whole second, at exit too: a locked SQLite file gets its three more chances */
        if (w->pg && w->qlen >= w->max_queued / 2) {
            pthread_mutex_unlock(&w->mu);
            spill_if_full(w);
            pthread_mutex_lock(&w->mu);
            continue;
        }
        if (pthread_cond_timedwait(&w->wake, &w->mu, &ts) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&w->mu);
}

/* Commits one batch, retrying once a second while the ledger refuses (disk full, locked...).
 * 0 when committed; -1 when it went to the .unsaved.jsonl side file at exit instead. */
static int commit_batch(bl_writer_t *w, bl_record_t *batch, size_t n)
{
    char msg[400];
    if (w->pg)
        bl_pg_number(w->pg, batch, n); /* once: a retry sends the same ids, which the ledger then skips */
    for (unsigned attempt = 0;; attempt++) {
        if ((w->pg ? bl_pg_append(w->pg, batch, n, attempt > 0, msg, sizeof(msg))
                   : bl_ledger_append(&w->ledger, batch, n, msg, sizeof(msg))) == 0)
            break;
        w->host->log(IG_LOG_ERROR, "billing", "%s (batch of %zu records, retrying)", msg, n);
        pthread_mutex_lock(&w->mu);
        int stopping = w->stopping;
        pthread_mutex_unlock(&w->mu);
        if (stopping && attempt >= 3) {
            save_unsaved(w, batch, n);
            return -1;
        }
        retry_pause(w);
    }
    bl_export_write(&w->export, w->host, batch, n);
    bl_webhook_send(w->webhook, batch, n);
    return 0;
}

static void *run(void *arg)
{
    bl_writer_t *w = arg;
    bl_record_t *batch = NULL;
    size_t bcap = 0;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (w->qlen < w->flush_records && !w->flush_now && !w->stopping) {
            struct timespec ts;
            deadline_in(&ts, w->flush_ms);
            while (w->qlen < w->flush_records && !w->flush_now && !w->stopping) {
                if (pthread_cond_timedwait(&w->wake, &w->mu, &ts) == ETIMEDOUT)
                    break;
            }
        }
        w->flush_now = 0;
        if (w->qlen == 0) {
            if (w->stopping)
                break;
            continue;
        }
        /* swap the buffers: record() goes on filling the other one while this batch is written */
        bl_record_t *tmp = w->q;
        size_t tcap = w->qcap, n = w->qlen;
        w->q = batch;
        w->qcap = bcap;
        w->qlen = 0;
        batch = tmp;
        bcap = tcap;
        pthread_mutex_unlock(&w->mu);
        int rc = commit_batch(w, batch, n);
        pthread_mutex_lock(&w->mu);
        if (rc == 0)
            w->committed += n;
        else
            w->unsaved += n; /* not in the ledger: the final count must not say committed */
        pthread_cond_broadcast(&w->committed_cv);
    }
    pthread_mutex_unlock(&w->mu);
    free(batch);
    return NULL;
}

int bl_writer_start(bl_writer_t *w, const bl_writer_options_t *o, char *msg, size_t msgcap)
{
    if (w->started)
        return 0;
    snprintf(w->ledger_path, sizeof(w->ledger_path), "%s", o->ledger_path);
    w->flush_ms = o->flush_ms ? o->flush_ms : 1;
    w->flush_records = o->flush_records ? o->flush_records : 1;
    w->max_queued = o->max_queued;
    if (o->database) {
        if (!(w->pg = bl_pg_open(o->database, o->gateway_id, msg, msgcap)))
            return -1;
    } else if (bl_ledger_open(&w->ledger, w->ledger_path, o->synchronous, msg, msgcap) != 0) {
        return -1;
    }
    snprintf(w->export.dir, sizeof(w->export.dir), "%s", o->export_dir ? o->export_dir : "");
    w->export.jsonl = o->export_jsonl;
    w->export.csv = o->export_csv;
    if (o->webhook.url && o->webhook.url[0]) {
        w->webhook = bl_webhook_start(w->host, &o->webhook, msg, msgcap);
        if (w->webhook == NULL) {
            bl_ledger_close(&w->ledger);
            bl_pg_close(w->pg);
            w->pg = NULL;
            return -1;
        }
    }
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(msg, msgcap, "cannot start the ledger writer thread");
        bl_webhook_stop(w->webhook);
        w->webhook = NULL;
        bl_ledger_close(&w->ledger);
        bl_pg_close(w->pg);
        w->pg = NULL;
        return -1;
    }
    w->started = 1;
    return 0;
}

int bl_writer_started(bl_writer_t *w) { return w->started; }

void bl_writer_push(bl_writer_t *w, const bl_record_t *rec)
{
    pthread_mutex_lock(&w->mu);
    if (w->qlen >= w->max_queued || (w->qlen == w->qcap && w->qcap >= w->max_queued)) {
        uint64_t d = ++w->dropped;
        pthread_mutex_unlock(&w->mu);
        if ((d & (d - 1)) == 0) /* 1, 2, 4, ...: say it without flooding the log */
            w->host->log(IG_LOG_ERROR, "billing", "ledger queue full (maxQueued %zu): %" PRIu64 " usage records dropped",
                         w->max_queued, d);
        return;
    }
    if (w->qlen == w->qcap) {
        size_t cap = w->qcap ? w->qcap * 2 : 256;
        if (cap > w->max_queued)
            cap = w->max_queued;
        bl_record_t *q = realloc(w->q, cap * sizeof(*q));
        if (q == NULL) {
            w->dropped++;
            pthread_mutex_unlock(&w->mu);
            w->host->log(IG_LOG_ERROR, "billing", "out of memory: a usage record was dropped");
            return;
        }
        w->q = q;
        w->qcap = cap;
    }
    w->q[w->qlen++] = *rec;
    w->enqueued++;
    if (w->qlen == w->flush_records || w->qlen == w->max_queued / 2) /* a batch is ready / time to spill */
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->mu);
}

int bl_writer_sync(bl_writer_t *w, unsigned timeout_ms)
{
    if (!w->started)
        return 0;
    struct timespec ts;
    deadline_in(&ts, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    uint64_t target = w->enqueued;
    w->flush_now = 1;
    pthread_cond_signal(&w->wake);
    while (w->committed + w->unsaved < target && rc == 0)
        if (pthread_cond_timedwait(&w->committed_cv, &w->mu, &ts) == ETIMEDOUT)
            rc = -1;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void bl_writer_destroy(bl_writer_t *w)
{
    if (w == NULL)
        return;
    if (w->started) {
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->host->log(w->dropped || w->unsaved ? IG_LOG_ERROR : IG_LOG_INFO, "billing",
                     "ledger %s: %" PRIu64 " usage records committed, %" PRIu64 " dropped, %" PRIu64
                     " in .unsaved.jsonl",
                     w->pg ? "in server.database" : w->ledger_path, w->committed, w->dropped, w->unsaved);
        bl_ledger_close(&w->ledger);
        bl_pg_close(w->pg);
        bl_export_close(&w->export);
        bl_webhook_stop(w->webhook);
    }
    free(w->q);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->invoice_mu);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->committed_cv);
    free(w);
}
