/*
 * h1_guard.h — what infergate checks in an HTTP/1.x request head before h2o reads a byte of its body.
 *
 * h2o 2.2 frames the body itself (Transfer-Encoding wins over Content-Length, the first of two
 * Content-Lengths wins), buffers all of it before any handler runs, answers malformed heads with
 * plain text, and times the whole request at once. libh2o calls its request-head parser,
 * phr_parse_request, through the PLT, so the binary exports one of that name (listed in
 * http/h2o_hooks.list): it calls the real one, judges the head (http/h1_framing.c) and then shows h2o
 * either a refused head (a request without body, "Connection: close", answered by the router with an
 * OpenAI-shaped 400) or, when there is a body, the head without its framing headers, so h2o hands
 * the request to the router at once and the router reads the body itself (http/h1_body.c).
 * Everything happens on the worker's thread: the verdict waits in a thread-local record that the
 * router takes (ig_h1_head_take) in the same call.
 */
#ifndef IG_H1_GUARD_H
#define IG_H1_GUARD_H

#include <h2o.h>
#include "http/h1_framing.h"

typedef struct {
    const char *method;      /* the method bytes h2o was given: identifies the request */
    size_t head_len;         /* the head's length at the start of the socket's input */
    ig_h1_framing_t framing; /* body framing (when not refused) */
    const char *refused;     /* NULL, or why the head is refused (400, close) */
} ig_h1_head_t;

/* 0 with the verdict on req's head when req is the HTTP/1 request phr_parse_request judged last on
 * this thread and it was refused or has a body (taken: a second call fails); -1 otherwise. */
int ig_h1_head_take(h2o_req_t *req, ig_h1_head_t *out);

/* 0 when libh2o's calls reach the hook (the binary exports phr_parse_request); -1 otherwise. */
int ig_h1_guard_installed(void);

#endif
