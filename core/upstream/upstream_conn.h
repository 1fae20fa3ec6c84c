/*
 * upstream_conn.h — internals shared by upstream_conn.c (one connection and
 * the request on it), upstream_request.c (the bytes sent) and
 * upstream_pool.c (idle lists, ig_upstream_start).
 * Not for other modules: they use upstream.h.
 *
 * A request lives inside its connection (ig_upstream_req_t is embedded in
 * ig_upstream_conn_t), so a request on a reused connection allocates
 * nothing. The transparent retry keeps the same struct and only swaps the
 * socket, so the caller's req pointer stays valid throughout.
 */
#ifndef IG_UPSTREAM_CONN_H
#define IG_UPSTREAM_CONN_H

#include "upstream/http1_response_parser.h"
#include "upstream/upstream.h"

#define IG_UPSTREAM_RBUF_SIZE 65536        /* the pool's read buffer, shared by its connections (see rbuf below) */
#define IG_UPSTREAM_LEFTOVER_MIN 1024      /* smallest buffer a connection keeps unparsed bytes in */
#define IG_UPSTREAM_MAX_HEAD 65536         /* response head limit: the read buffer grows up to this */
#define IG_UPSTREAM_INLINE_HEAD 256        /* request head bytes stored in place; longer ones are malloc'd */
#define IG_UPSTREAM_INLINE_BUFS 7          /* head + 6 body pieces in place; more are malloc'd */

typedef struct ig_upstream_conn_s ig_upstream_conn_t;

/*
 * A pending connect or write. Borrowed from the pool's free list for the
 * duration of the operation only: a long stream, the common case, holds
 * none, which keeps the per-request state under 1 KB.
 */
typedef union ig_upstream_op_u {
    uv_connect_t connect;
    uv_write_t write;
    union ig_upstream_op_u *next_free;
} ig_upstream_op_t;

struct ig_upstream_req_s {
    ig_upstream_callbacks_t cb;
    void *data;
    ig_endpoint_t *endpoint;   /* valid while the request runs (its generation holds it) */
    uv_buf_t *bufs;            /* [0] is the request head, then the body pieces */
    unsigned nbufs;
    uint32_t connect_timeout_ms, first_byte_timeout_ms, idle_timeout_ms; /* limits when the request started */
    uv_buf_t inline_bufs[IG_UPSTREAM_INLINE_BUFS];
    char inline_head[IG_UPSTREAM_INLINE_HEAD];
};

typedef enum {
    IG_CONN_NEW,        /* handles initialised, nothing started */
    IG_CONN_CONNECTING,
    IG_CONN_ACTIVE,     /* a request is in flight */
    IG_CONN_IDLE,       /* in its endpoint's idle list, reading to notice the peer closing */
    IG_CONN_CLOSING
} ig_upstream_conn_state_t;

struct ig_upstream_conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;          /* connect / first byte / idle / keep-alive timeouts, and deferred work */
    ig_upstream_pool_t *pool;
    ig_upstream_conn_t *idle_prev, *idle_next;
    uint64_t ep_key;           /* identifies the address connected to, to detect a recycled endpoint id */
    uint64_t last_read;        /* uv_now of the last read, for the lazily re-armed idle timer */
    uint32_t ep_id;
    ig_http1_response_parser_t parser;
    /*
     * Reads land in the pool's shared buffer (one per worker thread: a read is
     * parsed before the loop runs anything else), so a connection waiting
     * between SSE events holds no buffer at all. Only bytes the parser could not
     * take yet (a partial head or chunk line, or what a paused request has not
     * delivered) move to a buffer of the connection's own. rbuf is NULL, the
     * pool's buffer during a read, or that own buffer.
     */
    char *rbuf;
    uint32_t rcap, rstart, rlen; /* unparsed bytes are rbuf[rstart..rlen) */
    uint8_t state;             /* ig_upstream_conn_state_t */
    uint8_t timer_mode;
    uint8_t deferred_result;   /* ig_upstream_result_t delivered by the deferred-failure timer */
    uint8_t open_handles;      /* tcp + timer until closed; the struct is freed at 0 */
    uint16_t flags;
    ig_upstream_req_t req;
};

typedef struct {
    ig_upstream_conn_t *head; /* most recently idled first: LIFO reuse keeps few connections warm */
    unsigned count;
} ig_upstream_idle_list_t;

struct ig_upstream_pool_s {
    uv_loop_t *loop;
    ig_upstream_limits_t limits;
    ig_upstream_idle_list_t *idle; /* indexed by endpoint id, grown on demand */
    uint32_t nidle;
    size_t live;                   /* connections not yet freed */
    ig_upstream_op_t *free_ops;    /* reused connect/write requests */
    char *rbuf;                    /* IG_UPSTREAM_RBUF_SIZE bytes every connection reads into (see the conn's rbuf) */
    int closing;
};

/* ---- upstream_request.c ---- */

/*
 * Serialises the head and lists the body pieces for uv_write (the body is
 * never copied). Returns 0, 1 for a request that must not be sent (it would
 * inject header lines), -1 when out of memory (nothing allocated then).
 */
int ig_upstream_req_build(ig_upstream_req_t *r, const ig_upstream_request_t *in);
/* Frees what ig_upstream_req_build allocated; idempotent. */
void ig_upstream_req_release(ig_upstream_req_t *r);

/* ---- upstream_conn.c, for the pool ---- */

/* A connection struct with open handles, not connected; NULL on allocation failure. */
ig_upstream_conn_t *ig_upstream_conn_create(ig_upstream_pool_t *pool, const ig_endpoint_t *ep);
/*
 * Starts req on conn (new: connects first; idle: writes at once). Returns -1
 * without side effects on allocation failure, leaving conn as it was.
 */
int ig_upstream_conn_start(ig_upstream_conn_t *conn, const ig_upstream_request_t *req,
                           const ig_upstream_callbacks_t *cb, void *data);
/* Closes the handles; frees conn (and tells the pool) once libuv is done with them. */
void ig_upstream_conn_close(ig_upstream_conn_t *conn);
/* Key of the address an endpoint designates (host + port). */
uint64_t ig_upstream_endpoint_key(const ig_endpoint_t *ep);

/* ---- upstream_pool.c, for connections ---- */

/* Adds conn to its endpoint's idle list; -1 when it must be closed instead (limit, closing, no memory). */
int ig_upstream_pool_idle_add(ig_upstream_pool_t *pool, ig_upstream_conn_t *conn);
void ig_upstream_pool_idle_remove(ig_upstream_pool_t *pool, ig_upstream_conn_t *conn);
/* A connect/write request (NULL when out of memory), and giving it back from its callback. */
ig_upstream_op_t *ig_upstream_pool_op_get(ig_upstream_pool_t *pool);
void ig_upstream_pool_op_put(ig_upstream_pool_t *pool, ig_upstream_op_t *op);
/* conn's memory is gone; frees a closing pool after its last connection. */
void ig_upstream_pool_conn_freed(ig_upstream_pool_t *pool);

#endif
