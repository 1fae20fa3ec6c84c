/* usage.c — a request's usage to its rate limiters, billing plugins and request log (usage.h). */
#include "proxy/usage.h"

void ig_usage_settle(const ig_generation_t *gen, ig_ratelimit_stage_t *limits, ig_request_log_t *log,
                     const ig_usage_t *usage, ig_usage_record_t *rec, int stream_error_status)
{
    ig_ratelimit_complete(limits, usage);
    if (rec == NULL)
        return; /* never reached an engine: nothing consumed, nothing billed */
    log->usage = rec->usage;
    log->has_usage = 1;
    /* the engine failed after the 200 went out (an error event in its stream): a failed request */
    if (stream_error_status) {
        log->status = stream_error_status;
        log->outcome = "the engine reported an error mid-stream";
        rec->status = stream_error_status;
        rec->complete = 0;
    }
    for (size_t i = 0; i < gen->nbillings; i++) {
        const ig_plugin_instance_t *inst = gen->billings[i];
        ((const ig_billing_vtable_t *)inst->desc->vtable)->record(inst->state, rec);
    }
}
