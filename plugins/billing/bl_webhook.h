/*
 * bl_webhook — POSTs each committed batch of records as JSON to a URL (plain http://), from its own
 * thread, retrying failures (connect errors, timeouts, non-2xx) with exponential backoff. The ledger
 * stays the source of truth: a batch that exhausts its attempts is dropped with an error in the log.
 */
#ifndef BL_WEBHOOK_H
#define BL_WEBHOOK_H

#include <stdint.h>
#include "bl_record.h"

typedef struct bl_webhook bl_webhook_t;

typedef struct {
    const char *url;           /* http://host[:port]/path */
    unsigned max_attempts;
    unsigned backoff_ms;       /* first retry delay, doubled up to 30 s */
    unsigned timeout_ms;       /* connect, send and answer, each */
    unsigned max_pending;      /* batches waiting; the oldest is dropped beyond it */
    unsigned drain_ms;         /* at exit: how long pending batches may still be tried */
} bl_webhook_options_t;

/* NULL with msg on a URL it cannot use. */
bl_webhook_t *bl_webhook_start(const ig_host_t *host, const bl_webhook_options_t *o, char *msg, size_t msgcap);
/* Queues one batch (copied into a JSON body). Never blocks on the network. */
void bl_webhook_send(bl_webhook_t *w, const bl_record_t *recs, size_t n);
/* Queues one body as it is (an issued invoice), POSTed with Idempotency-Key: key. */
void bl_webhook_send_body(bl_webhook_t *w, const char *body, size_t len, const char *key);
/* Tries what is pending for up to drain_ms, then stops the thread and frees everything. */
void bl_webhook_stop(bl_webhook_t *w);

#endif
