/*
 * rl_report.h — what a request is limited by (its scopes), and what the client is told: the
 * x-ratelimit-* headers of the binding scope, Retry-After and the refusal message. Shared by both
 * backends; no locks, no I/O.
 */
#ifndef RL_REPORT_H
#define RL_REPORT_H

#include <stddef.h>
#include "infergate/plugin.h"
#include "rl_window.h"

typedef enum { RL_SCOPE_KEY = 0, RL_SCOPE_CUSTOMER, RL_SCOPE_MODEL, RL_SCOPE_KEY_MODEL } rl_scope_kind_t;

/* The limits of one scope, in this order everywhere (the Redis script's arguments too). */
enum { RL_RPM = 0, RL_RPH, RL_TPM, RL_TPH, RL_BURST, RL_CONC, RL_NLIMITS };
#define RL_MAX_SCOPES 4

typedef struct {
    rl_scope_kind_t kind;
    const char *id;     /* "m:<model>", "k:<key id>", "c:<customer>", "km:<key id>:<model>" (pool) */
    size_t idlen;
    ig_str_t a, b;      /* what it is about (key or customer id, model name): label it with rl_scope_label() */
    int64_t lim[RL_NLIMITS]; /* -1: none */
} rl_scope_t;

typedef struct {
    rl_scope_t scopes[RL_MAX_SCOPES];
    size_t n;
    rl_obs_t obs[RL_MAX_SCOPES][RL_NLIMITS]; /* filled by a backend; obs.limit = scopes[].lim */
    int64_t now_ms; /* the backend's clock when it looked (monotonic, or Redis's TIME) */
} rl_view_t;

/* For messages, made only when one is written: key "k1", customer "acme", model "qwen",
 * key "k1" on model "qwen". Always NUL-terminated; returns buf. */
const char *rl_scope_label(const rl_scope_t *s, char *buf, size_t cap);

/* Decimal digits of v at buf (room for 21 bytes), NUL-terminated; returns the length. */
size_t rl_format_int(char *buf, int64_t v);

/* The scopes of r that have at least one limit, strings from r->pool. */
void rl_scopes_build(const ig_host_t *host, const ig_rl_request_t *r, rl_view_t *v);

/* A limit refuses when it exists and is used up: used >= limit (requests: the next one would be
 * one too many; tokens: the window holds at least the limit already). */
static inline int rl_obs_over(const rl_obs_t *o)
{
    return o->limit >= 0 && o->used >= o->limit;
}
int rl_view_over(const rl_view_t *v);

/* Go's time.Duration style, as OpenAI writes x-ratelimit-reset-{requests,tokens}: "20ms", "1s", "1.5s", "6m0s", "1h0m0s". */
void rl_format_duration(char *buf, size_t cap, int64_t ms);

/*
 * Which limit the headers describe. kind 0: requests (RPM, RPH, burst; a refusing concurrency limit
 * too), 1: tokens (TPM, TPH). The refusing limit with the longest wait if any, else the one with the
 * least remaining after this request (ties: the smaller limit). 0 with scope and limit set, or -1
 * when no limit of that kind applies.
 */
int rl_binding(const rl_view_t *v, int tokens, int admitted, size_t *scope, int *limit);

/*
 * Fills r->headers with x-ratelimit-{limit,remaining,reset}-{requests,tokens} and, when refused,
 * r->retry_after_s and err (the message names the scope and the limit). admitted: the backend's
 * verdict for this view.
 */
void rl_report(const ig_host_t *host, const rl_view_t *v, int admitted, ig_rl_request_t *r, ig_error_t *err);

#endif
