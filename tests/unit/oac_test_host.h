/*
 * oac_test_host.h — what the unit tests and fuzz targets of plugins/common (openai_compat.c,
 * oac_rerank.c) drive engine requests with: a fake host (test_host.h's pool and errors, the JSON
 * scanner), a sink that captures what the client gets, and an engine answer fed to the response
 * hooks in two pieces.
 */
#ifndef OAC_TEST_HOST_H
#define OAC_TEST_HOST_H

#include "infergate/plugin.h"
#include "openai_compat.h"
#include "test_host.h"
#include "util/buf.h"
#include "util/json.h"

/* Requests pass a test_pool_t (test_host.h) as their pool. */
static const ig_host_t oac_test_host = {.size = sizeof(ig_host_t), .palloc = test_pool_palloc, .error = test_host_error, .json = &ig_json_api};

/* What the client gets: out.p, out.len (util/buf.h); ig_buf_free(&s.out) at the end. */
typedef struct {
    ig_sink_t sink;
    ig_buf_t out;
} oac_test_sink_t;

static inline void oac_test_sink_write(ig_sink_t *s, const char *p, size_t n)
{
    ig_buf_put(&((oac_test_sink_t *)s)->out, p, n);
}

#define OAC_TEST_SINK {.sink = {oac_test_sink_write}}

/* The engine answers status with body: body[0..split) and the rest as two reads, then the end. */
static inline void oac_test_answer(ig_engine_req_t *r, int status, const char *body, size_t len, size_t split,
                                   int complete, oac_test_sink_t *s)
{
    r->upstream_status = status;
    oac_on_response_data(r, body, split, &s->sink);
    oac_on_response_data(r, body + split, len - split, &s->sink);
    oac_on_response_end(r, complete, &s->sink);
}

#endif
