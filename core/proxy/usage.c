/* usage.c — a request's usage to its rate limiters, billing plugins and request log (usage.h). */
#include "proxy/usage.h"

void ig_usage_settle(const ig_generation_t *gen, ig_ratelimit_stage_t *limits, ig_request_log_t *log,
                     const ig_usage_t *usage, ig_usage_record_t *rec, int stream_error_status, int left_early)
{
    ig_ratelimit_complete(limits, usage);
    /* The request's one status, for the access log, /metrics (both from log) and the record: the
     * engine's error inside a stream already answered 200; else 499 when the client left before the
     * answer was complete, even if a 200 and part of a stream had gone out; else the response's. */
    if (stream_error_status) {
        log->status = stream_error_status;
        log->outcome = "the engine reported an error mid-stream";
    } else if (left_early || log->req->res.status == 0) {
        log->status = 499;
        if (log->outcome == NULL)
            log->outcome = "client closed";
    }
    if (rec == NULL)
        return; /* never reached an engine: nothing consumed, nothing billed */
    log->usage = rec->usage;
    log->has_usage = 1;
    rec->status = log->status ? log->status : log->req->res.status;
    if (stream_error_status)
        rec->complete = 0;
    for (size_t i = 0; i < gen->nbillings; i++) {
        const ig_plugin_instance_t *inst = gen->billings[i];
        ((const ig_billing_vtable_t *)inst->desc->vtable)->record(inst->state, rec);
    }
}
