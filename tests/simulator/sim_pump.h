/* sim_pump: the one stream engine behind every generation stream (vLLM's SSE chunks, Ollama's
 * NDJSON and SSE): tokens paced by a per-stream uv timer from the time the request runs (a running
 * slot of sim_sched), grouped into events as the engine groups them, h2o's proceed callback as
 * backpressure (at most one send in flight, at most one batch buffered), the faults that strike a
 * stream halfway, and a client that leaves.  The engine modules only write the events' bytes.
 *
 * Life cycle: the owner callocs a struct whose first member is the sim_pump_t (so free() of the
 * pump frees the owner) and calls sim_pump_start; h2o's request pool holds a slot whose dispose
 * callback closes the timer, whose close callback frees it all. */
#ifndef SIM_PUMP_H
#define SIM_PUMP_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "sim_buf.h"
#include "sim_sched.h"

struct sim_worker;

/* What strikes a stream once half its tokens are out. */
typedef enum sim_cut {
    SIM_CUT_NONE = 0,
    SIM_CUT_DIE,   /* the connection is shut down: no end, no [DONE] */
    SIM_CUT_ERROR, /* the engine's error event (ops->put_error), then the stream ends cleanly */
    SIM_CUT_STALL, /* nothing more is sent until the client leaves */
} sim_cut_t;

typedef struct sim_pump sim_pump_t;

/* Writers of the engine's bytes into p->out; every one appends whole events. */
typedef struct sim_pump_ops {
    void (*put_start)(sim_pump_t *p);                           /* before the first token (vLLM chat: the role chunk); may be NULL */
    void (*put_tokens)(sim_pump_t *p, uint32_t first, uint32_t last); /* one event carrying tokens first..last (1-based) */
    void (*put_end)(sim_pump_t *p);                             /* after the last token: usage chunk, [DONE], Ollama's done event */
    void (*put_error)(sim_pump_t *p);                           /* SIM_CUT_ERROR's event(s); NULL: the cut dies instead */
} sim_pump_ops_t;

typedef struct sim_pump_params {
    const char *content_type;
    uint32_t tokens;      /* >= 1 */
    unsigned ttft_ms;     /* from the moment the request runs to its first token */
    sim_cut_t cut;        /* after tokens / 2 */
    uint32_t per_chunk;   /* tokens per event (>= 1) */
    int merge;            /* every token due at once goes into one event (vLLM V1 with a slow reader) */
    uint32_t drip_after;  /* "sim_drip_after": after this many tokens, one event per drip_ms (0: off) */
    unsigned drip_ms;
    const char *user;     /* counted in sim_usage when count_usage (copied; may be NULL) */
    size_t user_len;
    int count_usage;
} sim_pump_params_t;

struct sim_pump {
    h2o_generator_t super; /* first: h2o hands it back to proceed/stop */
    h2o_req_t *req;        /* NULL once the client is gone or the request disposed */
    h2o_linklist_t link;   /* in worker->streams while alive */
    uv_timer_t timer;
    ig_buf_t out;         /* the send in flight; rewritten only after proceed */
    const sim_pump_ops_t *ops;
    sim_seq_t seq;         /* its running slot */
    uint64_t t0;           /* loop time (ms) the first token is due; set when the request runs */
    double ms_per_token;   /* 0 = unpaced */
    uint32_t total, sent, cut_at;
    sim_cut_t cut;
    uint32_t per_chunk;
    unsigned ttft_ms, drip_ms;
    uint32_t drip_after;
    uint64_t next_drip;    /* loop time the next dripped event is due */
    unsigned merge : 1, admitted : 1, headers_sent : 1, start_sent : 1, inflight : 1, done : 1, stalled : 1;
    unsigned in_pump : 1, repump : 1, free_pending : 1, count_usage : 1;
    char user[64];
    size_t user_len;
};

/* Sends the response headers (200, content_type) and starts pacing once the request runs. */
void sim_pump_start(sim_pump_t *p, h2o_req_t *req, const sim_pump_ops_t *ops, const sim_pump_params_t *params);

/* Ends (as cancelled) the worker's streams whose client has gone away while they wait for their
 * next token: with HTTP/1, h2o would only notice at the next write, which may be far off. */
void sim_pump_check_clients(struct sim_worker *w);

#endif
