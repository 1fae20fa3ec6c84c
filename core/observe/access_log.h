/*
 * access_log.h — one JSON line per request (time, method, path, protocol,
 * status, model, endpoint, bytes, duration, time to first byte, outcome,
 * customer and key id, tokens).
 * Each line goes out in a single write(2) so lines from worker threads never
 * interleave.
 */
#ifndef IG_ACCESS_LOG_H
#define IG_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ig_access_log_s ig_access_log_t;

typedef struct {
    const char *method;
    size_t method_len;
    const char *path;
    size_t path_len;
    int http_version;     /* 0x100, 0x101, 0x200 */
    int status;
    const char *model;    /* as the client sent it; may be NULL */
    size_t model_len;
    const char *endpoint; /* NULL when no upstream was involved */
    uint64_t bytes_in, bytes_out;
    double duration_ms;
    double ttfb_ms;       /* < 0 when nothing was sent */
    unsigned attempts;
    const char *outcome;  /* "ok", "connection refused", "client closed", ... */
    const char *customer; /* the caller's customer and key id when an auth plugin knows them; may be NULL */
    size_t customer_len;
    const char *key_id;
    size_t key_id_len;
    int64_t prompt_tokens, completion_tokens; /* -1 when unknown */
    double audio_seconds; /* transcriptions and translations; logged only when > 0 */
} ig_access_entry_t;

/* target: "-" stdout, "off", or a file path (appended). NULL with msg on error. */
ig_access_log_t *ig_access_log_open(const char *target, char *msg, size_t msgsize);
void ig_access_log_close(ig_access_log_t *log);
void ig_access_log_write(ig_access_log_t *log, const ig_access_entry_t *e);

#endif
