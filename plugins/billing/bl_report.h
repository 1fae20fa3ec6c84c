/*
 * bl_report — what the admin routes read from the ledger: usage summed per day, model or key over a
 * period, and monthly invoices per customer with a line per model. Sums are exact: tokens in 64-bit
 * integers, money in 1e-15 units summed through two 64-bit halves (SQLite has no 128-bit integer).
 */
#ifndef BL_REPORT_H
#define BL_REPORT_H

#include "util/buf.h"
#include "bl_writer.h"
#include "infergate/plugin.h"

/* GET /admin/usage */
int bl_route_usage(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);
/* GET /admin/invoices */
int bl_route_invoices(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);

/* What the routes need of the plugin's generation state. */
typedef struct {
    const ig_host_t *host;
    bl_writer_t *writer;
    const char *currency;
} bl_report_ctx_t;

/*
 * One customer's usage over [start_ms, end_ms), grouped by "day", "model" or not ("none"): the rows
 * (`{"day":...,"requests":...},...`) into rows, the sums' fields into total. Waits for the writer and
 * reads the ledger: never on the event loop. 0, or -1 with msg.
 */
int bl_usage_of_customer(const bl_report_ctx_t *c, const char *customer, int64_t start_ms, int64_t end_ms,
                         const char *group, ig_buf_t *rows, ig_buf_t *total, char *msg, size_t msgcap);

/* Copies b into the exchange's pool as its response. 0, or -1 with err. */
int bl_respond(ig_http_exchange_t *x, ig_buf_t *b, const char *content_type, ig_error_t *err);

#endif
