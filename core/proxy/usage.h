/*
 * usage.h — the usage stage: what a request consumed, settled once when it ends, however it ended
 * (answered, refused, failed, cut, or left by its client).
 *
 *  - every rate limiter that admitted it gets complete() with the engine's usage (fields -1 where
 *    unknown), whether or not an engine was reached;
 *  - a request that reached an engine (at least one attempt was made) yields exactly one usage
 *    record, to every billing plugin of the generation it began on, and its usage goes to the
 *    request log (the access log line and /metrics);
 *  - the request has one status, the same in the access log, /metrics and the record: an engine
 *    error inside a stream already answered 200 (stream_error_status) makes it a failed request with
 *    that status (and the record not complete); a client that left before its answer was complete
 *    (left_early) makes it 499, even when a 200 and part of a stream had gone out.
 * Worker thread, from the request's dispose; the generation is still held.
 */
#ifndef IG_USAGE_H
#define IG_USAGE_H

#include "config/generation.h"
#include "observe/request_log.h"
#include "proxy/ratelimit.h"

/* Whether gen has billing plugins: only then is more of the record than its usage read. */
static inline int ig_usage_billed(const ig_generation_t *gen)
{
    return gen->nbillings != 0;
}

/*
 * rec: the request's usage record, or NULL when it never reached an engine (usage: what limiters get);
 * its status is set here. stream_error_status: the engine's ig_engine_req_t.stream_error_status; when
 * not 0 the request failed after its 200 went out, and is logged, counted and billed with that
 * status, not complete. left_early: the client left before the final bytes were handed to h2o.
 */
void ig_usage_settle(const ig_generation_t *gen, ig_ratelimit_stage_t *limits, ig_request_log_t *log,
                     const ig_usage_t *usage, ig_usage_record_t *rec, int stream_error_status, int left_early);

#endif
