#include "observe/log.h"
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* The one process-wide setting outside a generation: the generation sets it on activation. */
static atomic_int log_level = IG_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ig_log_set_level(ig_log_level_t level)
{
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

ig_log_level_t ig_log_get_level(void)
{
    return (ig_log_level_t)atomic_load_explicit(&log_level, memory_order_relaxed);
}

int ig_log_level_parse(const char *s, ig_log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (ig_log_level_t)i;
            return 0;
        }
    }
    return -1;
}

static void log_v(ig_log_level_t level, const char *plugin, const char *fmt, va_list ap)
{
    if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ [%s] %s%s", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
                     level_names[level], plugin ? plugin : "", plugin ? ": " : "");
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';
    /* one write per line keeps lines from different threads whole */
    fwrite(line, 1, len, stderr);
}

void ig_log(ig_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(level, NULL, fmt, ap);
    va_end(ap);
}

void ig_log_plugin(ig_log_level_t level, const char *plugin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_v(level, plugin, fmt, ap);
    va_end(ap);
}
