/* reload_status.c — the outcome of reloads, for the admin API and /metrics (reload_status.h). */
#include "observe/reload_status.h"
#include <stdio.h>
#include <string.h>
#include <time.h>

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ig_reload_status_init(ig_reload_status_t *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->lock, NULL);
}

void ig_reload_status_destroy(ig_reload_status_t *r)
{
    pthread_mutex_destroy(&r->lock);
}

void ig_reload_status_ok(ig_reload_status_t *r, uint64_t took_us)
{
    pthread_mutex_lock(&r->lock);
    r->last_ok_at = unix_ms();
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->ok, 1);
    atomic_store(&r->last_us, took_us);
}

void ig_reload_status_failed(ig_reload_status_t *r, const char *path, const ig_errors_t *errs)
{
    pthread_mutex_lock(&r->lock);
    if (errs->count == 0)
        snprintf(r->last_error, sizeof(r->last_error), "%s: reload failed", path);
    else if (errs->count == 1)
        snprintf(r->last_error, sizeof(r->last_error), "%s", errs->items[0]);
    else
        snprintf(r->last_error, sizeof(r->last_error), "%s (and %zu more errors in the log)", errs->items[0],
                 errs->count - 1);
    r->last_error_at = unix_ms();
    pthread_mutex_unlock(&r->lock);
    atomic_fetch_add(&r->failed, 1);
}

void ig_reload_status_read(const ig_reload_status_t *r, ig_reload_snapshot_t *out)
{
    ig_reload_status_t *m = (ig_reload_status_t *)r; /* the lock is not part of what const protects */
    pthread_mutex_lock(&m->lock);
    memcpy(out->last_error, r->last_error, sizeof(out->last_error));
    out->last_error_at = r->last_error_at;
    out->last_ok_at = r->last_ok_at;
    pthread_mutex_unlock(&m->lock);
}
