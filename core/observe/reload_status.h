/*
 * reload_status.h — how reloads went: counts, when the last one succeeded and how long it took, and
 * the last failure as `file:line: message`. Written by the main thread (server.c), read by handlers
 * on worker threads (GET /admin/generation, /metrics): counters are atomics, the rest is under a lock.
 */
#ifndef IG_RELOAD_STATUS_H
#define IG_RELOAD_STATUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include "config/errors.h"

typedef struct {
    atomic_uint_fast64_t ok, failed;
    atomic_uint_fast64_t last_us;    /* how long the last successful reload took (parse to swap) */
    pthread_mutex_t lock;            /* for the fields below */
    char last_error[1024];           /* "file:line: message" (the first error; more in the log), "" when none */
    int64_t last_error_at;           /* unix ms, 0 = never failed */
    int64_t last_ok_at;              /* unix ms of the last successful reload, 0 = none */
} ig_reload_status_t;

/* A consistent copy of the locked part. */
typedef struct {
    char last_error[1024];
    int64_t last_error_at, last_ok_at;
} ig_reload_snapshot_t;

void ig_reload_status_init(ig_reload_status_t *r);
void ig_reload_status_destroy(ig_reload_status_t *r);
void ig_reload_status_ok(ig_reload_status_t *r, uint64_t took_us);
/* path names the file when errs is empty. */
void ig_reload_status_failed(ig_reload_status_t *r, const char *path, const ig_errors_t *errs);
void ig_reload_status_read(const ig_reload_status_t *r, ig_reload_snapshot_t *out);

#endif
