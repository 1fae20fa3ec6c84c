#include "observe/access_log.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "util/json.h"

struct ig_access_log_s {
    int fd;       /* -1: off */
    int owns_fd;
};

ig_access_log_t *ig_access_log_open(const char *target, char *msg, size_t msgsize)
{
    ig_access_log_t *log = calloc(1, sizeof(*log));
    if (log == NULL) {
        snprintf(msg, msgsize, "out of memory");
        return NULL;
    }
    log->fd = -1;
    if (target == NULL || strcmp(target, "-") == 0) {
        log->fd = STDOUT_FILENO;
    } else if (strcmp(target, "off") != 0) {
        log->fd = open(target, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (log->fd < 0) {
            snprintf(msg, msgsize, "server.accessLog: cannot open \"%s\": %s", target, strerror(errno));
            free(log);
            return NULL;
        }
        log->owns_fd = 1;
    }
    return log;
}

void ig_access_log_close(ig_access_log_t *log)
{
    if (log == NULL)
        return;
    if (log->owns_fd)
        close(log->fd);
    free(log);
}

/* A line being built; once full, further appends are dropped (the line ends "…" and stays valid JSON-ish). */
typedef struct {
    char buf[2048];
    size_t len;
} line_t;

static const size_t line_room = sizeof(((line_t *)0)->buf) - 2; /* keep room for "}\n" */

static void put_fmt(line_t *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(line_t *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, line_room - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < line_room - l->len ? (size_t)n : line_room - l->len - 1;
}

/* A JSON string literal of at most maxlen input bytes, or null. */
static void put_str(line_t *l, const char *s, size_t n, size_t maxlen)
{
    if (s == NULL) {
        put_fmt(l, "null");
        return;
    }
    if (n > maxlen)
        n = maxlen;
    size_t need = ig_json_escape(s, n, l->buf + l->len, line_room - l->len);
    if (need <= line_room - l->len)
        l->len += need;
    else
        put_fmt(l, "\"\"");
}

void ig_access_log_write(ig_access_log_t *log, const ig_access_entry_t *e)
{
    if (log == NULL || log->fd < 0)
        return;
    line_t l = {.len = 0};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    put_fmt(&l, "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"method\":", tm.tm_year + 1900, tm.tm_mon + 1,
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    put_str(&l, e->method, e->method_len, 16);
    put_fmt(&l, ",\"path\":");
    put_str(&l, e->path, e->path_len, 256);
    put_fmt(&l, ",\"proto\":\"%s\",\"status\":%d,\"model\":",
            e->http_version >= 0x200 ? "HTTP/2" : e->http_version == 0x100 ? "HTTP/1.0" : "HTTP/1.1", e->status);
    put_str(&l, e->model, e->model_len, 200);
    put_fmt(&l, ",\"endpoint\":");
    put_str(&l, e->endpoint, e->endpoint ? strlen(e->endpoint) : 0, 200);
    put_fmt(&l, ",\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f,\"ttfb_ms\":",
            (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out, e->duration_ms);
    if (e->ttfb_ms >= 0)
        put_fmt(&l, "%.3f", e->ttfb_ms);
    else
        put_fmt(&l, "null");
    put_fmt(&l, ",\"attempts\":%u,\"outcome\":", e->attempts);
    const char *outcome = e->outcome ? e->outcome : "ok";
    put_str(&l, outcome, strlen(outcome), 128);
    if (e->customer) {
        put_fmt(&l, ",\"customer\":");
        put_str(&l, e->customer, e->customer_len, 128);
        put_fmt(&l, ",\"key_id\":");
        put_str(&l, e->key_id, e->key_id_len, 128);
    }
    if (e->prompt_tokens >= 0 || e->completion_tokens >= 0)
        put_fmt(&l, ",\"prompt_tokens\":%lld,\"completion_tokens\":%lld", (long long)e->prompt_tokens,
                (long long)e->completion_tokens);
    if (e->audio_seconds > 0)
        put_fmt(&l, ",\"audio_seconds\":%.3f", e->audio_seconds);
    l.buf[l.len++] = '}';
    l.buf[l.len++] = '\n';
    ssize_t w;
    do {
        w = write(log->fd, l.buf, l.len);
    } while (w < 0 && errno == EINTR);
}
