/*
 * billing — one usage record per request that reached an engine, in an SQLite ledger (WAL, group
 * commit on a writer thread, off the request path), with its exact cost from the model's pricing;
 * usage and invoice queries for admins, export files and a webhook, and the public model listing
 * in OpenRouter's provider format. See README.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "bl_listing.h"
#include "bl_me.h"
#include "bl_report.h"
#include "bl_writer.h"
#include "infergate/plugin.h"

/* plugins.options.billing */
typedef struct {
    const char *ledger_file, *synchronous, *currency, *export_dir, *webhook_url;
    int64_t flush_interval_ms, flush_records, max_queued;
    ig_str_list_t export_formats;
    int64_t webhook_attempts, webhook_backoff_ms, webhook_timeout_ms, webhook_pending, webhook_drain_ms;
} bl_options_t;

#define BL_OPT(field) offsetof(bl_options_t, field)
static const ig_option_decl_t billing_options[] = {
    {"ledgerFile", IG_OPT_STRING, "ledger.db", "SQLite ledger, relative to server.stateDir", 0, 0, BL_OPT(ledger_file)},
    {"synchronous", IG_OPT_STRING, "NORMAL",
     "SQLite synchronous mode: NORMAL (commits survive a process kill) or FULL (also power loss)", 0, 0,
     BL_OPT(synchronous)},
    {"flushInterval", IG_OPT_DURATION, "10ms", "group commit at least this often", 1, 60000, BL_OPT(flush_interval_ms)},
    {"flushRecords", IG_OPT_INT, "1000", "or as soon as this many records wait", 1, 1000000, BL_OPT(flush_records)},
    {"maxQueued", IG_OPT_INT, "1000000", "records waiting for the writer beyond which new ones are dropped (and logged)",
     1000, 100000000, BL_OPT(max_queued)},
    {"currency", IG_OPT_STRING, "USD", "currency the prices are in, shown on usage and invoices", 0, 0,
     BL_OPT(currency)},
    {"exportDir", IG_OPT_STRING, "", "directory for usage-YYYY-MM-DD.jsonl/.csv files; empty: none", 0, 0,
     BL_OPT(export_dir)},
    {"exportFormats", IG_OPT_STRING_LIST, "[jsonl, csv]", "which files: jsonl, csv", 0, 0, BL_OPT(export_formats)},
    {"webhookUrl", IG_OPT_STRING, "", "http:// URL each committed batch is POSTed to; empty: none", 0, 0,
     BL_OPT(webhook_url)},
    {"webhookMaxAttempts", IG_OPT_INT, "8", "tries per batch", 1, 1000, BL_OPT(webhook_attempts)},
    {"webhookBackoff", IG_OPT_DURATION, "500ms", "first retry delay, doubled each time up to 30s", 1, 60000,
     BL_OPT(webhook_backoff_ms)},
    {"webhookTimeout", IG_OPT_DURATION, "5s", "connect, send and answer timeout", 1, 300000, BL_OPT(webhook_timeout_ms)},
    {"webhookMaxPending", IG_OPT_INT, "10000", "batches waiting before the oldest is dropped", 1, 10000000,
     BL_OPT(webhook_pending)},
    {"webhookDrainTimeout", IG_OPT_DURATION, "5s", "at exit, how long pending batches are tried", 0, 600000,
     BL_OPT(webhook_drain_ms)},
    {NULL},
};

/* Per configuration generation. The report context comes first: the routes read it. */
typedef struct {
    bl_report_ctx_t ctx;
} billing_state_t;

static int billing_load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    bl_writer_t *w = bl_writer_create(host);
    if (w == NULL)
        return host->error(err, "billing: out of memory");
    *process_state = w;
    return 0;
}

static void billing_unload(void *process_state)
{
    bl_writer_destroy(process_state); /* drains the queue into the ledger */
}

static int make_dir(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -1;
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

static int billing_init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **plugin_state, ig_error_t *err)
{
    const bl_options_t *o = ctx->options;
    bl_writer_t *w = ctx->process_state;
    if (w == NULL)
        return host->error(err, "billing: no process state (load() did not run)");
    const char *sync = o->synchronous;
    if (strcmp(sync, "NORMAL") != 0 && strcmp(sync, "FULL") != 0)
        return host->error(err, "plugins.options.billing.synchronous: \"%s\" is not NORMAL or FULL", sync);
    bl_writer_options_t wo = {
        .synchronous = sync,
        .flush_ms = (unsigned)o->flush_interval_ms,
        .flush_records = (size_t)o->flush_records,
        .max_queued = (size_t)o->max_queued,
        .export_dir = o->export_dir,
        .webhook = {.url = o->webhook_url,
                    .max_attempts = (unsigned)o->webhook_attempts,
                    .backoff_ms = (unsigned)o->webhook_backoff_ms,
                    .timeout_ms = (unsigned)o->webhook_timeout_ms,
                    .max_pending = (unsigned)o->webhook_pending,
                    .drain_ms = (unsigned)o->webhook_drain_ms},
    };
    for (size_t i = 0; i < o->export_formats.len; i++) {
        const char *f = o->export_formats.items[i];
        if (strcmp(f, "jsonl") == 0)
            wo.export_jsonl = 1;
        else if (strcmp(f, "csv") == 0)
            wo.export_csv = 1;
        else
            return host->error(err, "plugins.options.billing.exportFormats: \"%s\" is not jsonl or csv", f);
    }
    char path[1024];
    const char *file = o->ledger_file;
    if (file[0] == '/')
        snprintf(path, sizeof(path), "%s", file);
    else if (ctx->state_dir != NULL)
        snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, file);
    else
        return host->error(err, "billing: server.stateDir is not set, and ledgerFile \"%s\" is relative", file);
    wo.ledger_path = path; /* with server.database too: where .unsaved.jsonl goes */
    wo.database = ctx->database;
    wo.gateway_id = ctx->gateway_id;

    char settings[sizeof(w->settings)];
    snprintf(settings, sizeof(settings), "%s %s %u %zu %zu %s %d %d %s %u %u %u %u %u", path, sync, wo.flush_ms,
             wo.flush_records, wo.max_queued, wo.export_dir, wo.export_jsonl, wo.export_csv, wo.webhook.url,
             wo.webhook.max_attempts, wo.webhook.backoff_ms, wo.webhook.timeout_ms, wo.webhook.max_pending,
             wo.webhook.drain_ms);
    if (ctx->database) /* the URL may hold a password: compared, never logged */
        snprintf(settings + strlen(settings), sizeof(settings) - strlen(settings), " %s", ctx->database);
    if (!bl_writer_started(w)) {
        if (wo.export_dir[0] && make_dir(wo.export_dir) != 0)
            return host->error(err, "plugins.options.billing.exportDir: \"%s\" is not a directory and cannot be made",
                               wo.export_dir);
        char msg[400];
        if (bl_writer_start(w, &wo, msg, sizeof(msg)) != 0)
            return host->error(err, "billing: %s", msg);
        if (ctx->database)
            host->log(IG_LOG_INFO, "billing",
                      "ledger in server.database as gateway %s (group commit every %u ms or %zu records; "
                      "what the database cannot take goes to %s.unsaved.jsonl at exit)",
                      ctx->gateway_id, wo.flush_ms, wo.flush_records, path);
        else
            host->log(IG_LOG_INFO, "billing", "ledger %s (WAL, synchronous=%s, group commit every %u ms or %zu records)",
                      path, sync, wo.flush_ms, wo.flush_records);
        snprintf(w->settings, sizeof(w->settings), "%s", settings);
    } else if (strcmp(settings, w->settings) != 0) {
        /* the writer, its ledger and its sinks are process state: they keep their first options */
        host->log(IG_LOG_WARN, "billing",
                  "ledger, flush, export and webhook options changed: they take effect on restart (ledger stays %s)",
                  w->ledger_path);
    }
    billing_state_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return host->error(err, "billing: out of memory");
    s->ctx.host = host;
    s->ctx.writer = w;
    s->ctx.currency = o->currency;
    *plugin_state = s;
    return 0;
}

static void billing_fini(void *plugin_state)
{
    free(plugin_state);
}

static void billing_record(void *plugin_state, const ig_usage_record_t *rec)
{
    billing_state_t *s = plugin_state;
    bl_record_t r;
    bl_record_from(&r, rec);
    bl_writer_push(s->ctx.writer, &r);
}

static const ig_billing_vtable_t billing_vtable = {
    .size = sizeof(ig_billing_vtable_t),
    .record = billing_record,
};

static const ig_route_decl_t billing_routes[] = {
    {"/admin/usage", IG_ROUTE_ADMIN, bl_route_usage},
    {"/admin/invoices", IG_ROUTE_ADMIN, bl_route_invoices},
    {"/v1/me/usage", IG_ROUTE_PRINCIPAL, bl_route_me_usage},
    {"/public/api/models", IG_ROUTE_PUBLIC, bl_route_listing},
    {"/openrouter/models", IG_ROUTE_PUBLIC, bl_route_listing},
    {NULL},
};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "billing",
    .kind = IG_PLUGIN_BILLING,
    .version = "0.1.0",
    .description = "usage ledger (SQLite), exact costs, usage and invoice API, exports, OpenRouter listing",
    .options = billing_options,
    .options_size = sizeof(bl_options_t),
    .load = billing_load,
    .unload = billing_unload,
    .init = billing_init,
    .fini = billing_fini,
    .vtable = &billing_vtable,
    .routes = billing_routes,
};
