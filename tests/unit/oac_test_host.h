/*
 * oac_test_host.h — what the unit tests and fuzz targets of plugins/common (openai_compat.c,
 * oac_rerank.c) drive engine requests with: a fake host whose request pool is a list of blocks freed
 * at the end, errors formatted as the core formats them, a sink that captures what the client gets,
 * and an engine answer fed to the response hooks in two pieces.
 */
#ifndef OAC_TEST_HOST_H
#define OAC_TEST_HOST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "infergate/plugin.h"
#include "openai_compat.h"
#include "util/buf.h"
#include "util/json.h"

#define OAC_TEST_POOL_MAX 256

/* ig_engine_req_t.pool: blocks are not zeroed, as the core's pool does not zero them. */
typedef struct {
    void *blocks[OAC_TEST_POOL_MAX];
    size_t n;
} oac_test_pool_t;

static inline void *oac_test_palloc(void *pool, size_t n)
{
    oac_test_pool_t *p = pool;
    if (p->n == OAC_TEST_POOL_MAX)
        abort();
    return p->blocks[p->n++] = malloc(n ? n : 1);
}

static inline void oac_test_pool_free(oac_test_pool_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->blocks[i]);
    p->n = 0;
}

__attribute__((format(printf, 2, 3))) static inline int oac_test_error(ig_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static const ig_host_t oac_test_host = {.palloc = oac_test_palloc, .error = oac_test_error, .json = &ig_json_api};

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
