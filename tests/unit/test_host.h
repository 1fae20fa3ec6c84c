/*
 * test_host.h — the pieces of ig_host_t that tests of plugins fake alike: a request pool whose blocks
 * are freed by the test, errors formatted into err->msg as the core does, a silent log, a monotonic
 * clock. Each test builds its ig_host_t from these and the few functions it fakes on its own.
 */
#ifndef TEST_HOST_H
#define TEST_HOST_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "infergate/plugin.h"

#define TEST_POOL_MAX 4096

/* A request's pool (host->palloc(pool, n)): blocks are not zeroed, as the core's pool does not zero them. */
typedef struct {
    void *blocks[TEST_POOL_MAX];
    size_t n;
} test_pool_t;

static inline void *test_pool_palloc(void *pool, size_t n)
{
    test_pool_t *p = pool;
    if (p->n == TEST_POOL_MAX)
        abort();
    return p->blocks[p->n++] = malloc(n ? n : 1);
}

static inline void test_pool_free(test_pool_t *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->blocks[i]);
    p->n = 0;
}

__attribute__((format(printf, 2, 3))) static inline int test_host_error(ig_error_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static inline void test_host_log(ig_log_level_t level, const char *plugin, const char *fmt, ...)
{
}

static inline uint64_t test_host_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
