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
#include "util/query.h"

/* GET /admin/usage (the route: route_offload of bl_usage_handle) */
int bl_route_usage(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);
int bl_usage_handle(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);
/* /admin/invoices and below (bl_invoice_route.c; the route: route_offload of bl_invoices_handle) */
int bl_route_invoices(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);
int bl_invoices_handle(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);

/* What the routes need of the plugin's generation state. */
typedef struct {
    const ig_host_t *host;
    bl_writer_t *writer;
    const char *currency;
} bl_report_ctx_t;

/* GET /admin/invoices?month=[&customer=][&format=]: invoices computed from the ledger for the month
 * (the behaviour before invoice runs; q already checked against the route's parameters). */
int bl_report_invoices_computed(const bl_report_ctx_t *c, ig_http_exchange_t *x, const ig_query_t *q, ig_error_t *err);

/*
 * One customer's usage over [start_ms, end_ms), grouped by "day", "model" or not ("none"): the rows
 * (`{"day":...,"requests":...},...`) into rows, the sums' fields into total. Waits for the writer and
 * reads the ledger: never on the event loop. 0, or -1 with msg.
 */
int bl_usage_of_customer(const bl_report_ctx_t *c, const char *customer, int64_t start_ms, int64_t end_ms,
                         const char *group, ig_buf_t *rows, ig_buf_t *total, char *msg, size_t msgcap);


#endif
