/*
 * upstream_pool.c — per-thread keep-alive pools: idle connections per
 * endpoint, reused most-recent-first, and ig_upstream_start.
 *
 * One pool per worker loop; nothing here is shared between threads, so no
 * locks. Idle lists are indexed by endpoint id (the registry hands out small
 * dense ids) and grow when a higher id shows up. LIFO reuse keeps the hot
 * connections hot and lets the cold tail expire on the keep-alive timer.
 */
#include "upstream/upstream_conn.h"

#include <stdlib.h>
#include <string.h>

/* Used when the caller passes no limits (tests, tools); the server passes its configuration. */
static const ig_upstream_limits_t default_limits = {
    .connect_timeout_ms = 5000,
    .first_byte_timeout_ms = 300000,
    .idle_timeout_ms = 120000,
    .max_idle_per_endpoint = 64,
    .keepalive_timeout_ms = 30000,
};

ig_upstream_pool_t *ig_upstream_pool_create(uv_loop_t *loop, const ig_upstream_limits_t *limits)
{
    ig_upstream_pool_t *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return NULL;
    pool->rbuf = malloc(IG_UPSTREAM_RBUF_SIZE);
    if (pool->rbuf == NULL) {
        free(pool);
        return NULL;
    }
    pool->loop = loop;
    pool->limits = limits ? *limits : default_limits;
    return pool;
}

static void pool_free(ig_upstream_pool_t *pool)
{
    /* every op is back: their callbacks run before the close callbacks that free the last connection */
    while (pool->free_ops != NULL) {
        ig_upstream_op_t *op = pool->free_ops;
        pool->free_ops = op->next_free;
        free(op);
    }
    free(pool->idle);
    free(pool->rbuf);
    free(pool);
}

int ig_upstream_pool_idle_add(ig_upstream_pool_t *pool, ig_upstream_conn_t *conn)
{
    if (pool->closing || pool->limits.max_idle_per_endpoint == 0 || pool->limits.keepalive_timeout_ms == 0)
        return -1;
    if (conn->ep_id >= pool->nidle) {
        size_t n = pool->nidle ? (size_t)pool->nidle * 2 : 8;
        if (n <= conn->ep_id)
            n = (size_t)conn->ep_id + 1;
        if (n > UINT32_MAX)
            return -1;
        ig_upstream_idle_list_t *idle = realloc(pool->idle, n * sizeof(*idle));
        if (idle == NULL)
            return -1;
        memset(idle + pool->nidle, 0, (n - pool->nidle) * sizeof(*idle));
        pool->idle = idle;
        pool->nidle = (uint32_t)n;
    }
    ig_upstream_idle_list_t *list = &pool->idle[conn->ep_id];
    if (list->count >= pool->limits.max_idle_per_endpoint)
        return -1;
    conn->idle_prev = NULL;
    conn->idle_next = list->head;
    if (list->head != NULL)
        list->head->idle_prev = conn;
    list->head = conn;
    list->count++;
    return 0;
}

void ig_upstream_pool_idle_remove(ig_upstream_pool_t *pool, ig_upstream_conn_t *conn)
{
    ig_upstream_idle_list_t *list = &pool->idle[conn->ep_id];
    if (conn->idle_prev != NULL)
        conn->idle_prev->idle_next = conn->idle_next;
    else
        list->head = conn->idle_next;
    if (conn->idle_next != NULL)
        conn->idle_next->idle_prev = conn->idle_prev;
    conn->idle_prev = conn->idle_next = NULL;
    list->count--;
}

ig_upstream_op_t *ig_upstream_pool_op_get(ig_upstream_pool_t *pool)
{
    ig_upstream_op_t *op = pool->free_ops;
    if (op == NULL)
        return malloc(sizeof(*op));
    pool->free_ops = op->next_free;
    return op;
}

void ig_upstream_pool_op_put(ig_upstream_pool_t *pool, ig_upstream_op_t *op)
{
    op->next_free = pool->free_ops;
    pool->free_ops = op;
}

void ig_upstream_pool_conn_freed(ig_upstream_pool_t *pool)
{
    if (--pool->live == 0 && pool->closing)
        pool_free(pool);
}

/* Closes idle connections beyond keep (the oldest: the list's tail). */
static void trim_list(ig_upstream_pool_t *pool, ig_upstream_idle_list_t *list, unsigned keep)
{
    ig_upstream_conn_t *c = list->head;
    for (unsigned i = 0; c != NULL && i < keep; i++)
        c = c->idle_next;
    while (c != NULL) {
        ig_upstream_conn_t *next = c->idle_next;
        ig_upstream_pool_idle_remove(pool, c);
        ig_upstream_conn_close(c);
        c = next;
    }
}

void ig_upstream_pool_set_limits(ig_upstream_pool_t *pool, const ig_upstream_limits_t *limits)
{
    pool->limits = *limits;
    unsigned keep = limits->keepalive_timeout_ms ? limits->max_idle_per_endpoint : 0;
    for (uint32_t i = 0; i < pool->nidle; i++)
        trim_list(pool, &pool->idle[i], keep);
}

void ig_upstream_pool_close(ig_upstream_pool_t *pool)
{
    pool->closing = 1;
    for (uint32_t i = 0; i < pool->nidle; i++)
        trim_list(pool, &pool->idle[i], 0);
    if (pool->live == 0)
        pool_free(pool);
}

/* The most recently idled connection to ep, dropping any whose id now names another address. */
static ig_upstream_conn_t *take_idle(ig_upstream_pool_t *pool, const ig_endpoint_t *ep)
{
    if (ep->id >= pool->nidle || pool->idle[ep->id].head == NULL)
        return NULL;
    uint64_t key = ig_upstream_endpoint_key(ep);
    ig_upstream_conn_t *conn;
    while ((conn = pool->idle[ep->id].head) != NULL) {
        ig_upstream_pool_idle_remove(pool, conn);
        if (conn->ep_key == key)
            return conn;
        ig_upstream_conn_close(conn);
    }
    return NULL;
}

ig_upstream_req_t *ig_upstream_start(ig_upstream_pool_t *pool, const ig_upstream_request_t *req,
                                     const ig_upstream_callbacks_t *cb, void *data)
{
    if (req->endpoint == NULL)
        return NULL;
    ig_upstream_conn_t *conn = take_idle(pool, req->endpoint);
    if (conn != NULL) {
        if (ig_upstream_conn_start(conn, req, cb, data) == 0)
            return &conn->req;
        /* out of memory for this request: the connection itself is still good */
        if (ig_upstream_pool_idle_add(pool, conn) != 0)
            ig_upstream_conn_close(conn);
        return NULL;
    }
    conn = ig_upstream_conn_create(pool, req->endpoint);
    if (conn == NULL)
        return NULL;
    if (ig_upstream_conn_start(conn, req, cb, data) != 0) {
        ig_upstream_conn_close(conn);
        return NULL;
    }
    return &conn->req;
}
