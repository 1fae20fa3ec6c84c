/*
 * ledger_bench — the billing writer's sustained records per second at saturation, for the SQLite
 * ledger and the PostgreSQL one, through the plugin's own writer (bl_writer.c: queue, writer thread,
 * group commit of flushRecords / flushInterval) with no gateway in front: a producer thread pushes
 * records as fast as the queue takes them (it waits while 20,000 are waiting, so nothing is
 * dropped) and the bench counts what the writer commits per second over the measured window.
 *
 *   ledger_bench sqlite PATH [seconds] [NORMAL|FULL]
 *   ledger_bench postgres URL [seconds]
 *
 * Prints one line: backend, records committed, seconds, records/s.
 */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "bl_writer.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void host_log(ig_log_level_t level, const char *plugin, const char *fmt, ...)
{
    if (level > IG_LOG_WARN)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", plugin);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static atomic_int stop;

static void *produce(void *arg)
{
    bl_writer_t *w = arg;
    bl_record_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.customer, sizeof(r.customer), "customer-%d", 7);
    snprintf(r.key_id, sizeof(r.key_id), "k_3f2a9c1b0d4e5f60");
    snprintf(r.model, sizeof(r.model), "qwen25-7b-instruct");
    snprintf(r.endpoint, sizeof(r.endpoint), "http://10.0.0.21:8000");
    r.api = "chat.completions";
    r.status = 200;
    r.complete = r.usage_known = 1;
    r.requests = 1;
    r.attempts = 1;
    r.generation = 1;
    for (uint64_t i = 0; !atomic_load(&stop); i++) {
        /* keep 20,000 waiting: the writer always finds a full queue (saturation), never drops, and each
         * commit is at most that large, so the counted window is exact to a few percent */
        pthread_mutex_lock(&w->mu);
        size_t waiting = w->qlen;
        pthread_mutex_unlock(&w->mu);
        if (waiting >= 20000) {
            struct timespec t = {0, 200000};
            nanosleep(&t, NULL);
            continue;
        }
        int64_t ms = (int64_t)time(NULL) * 1000;
        r.ts_ms = ms;
        bl_format_day(ms, r.day);
        r.id = 0;
        r.prompt_tokens = 20 + (int64_t)(i % 100);
        r.completion_tokens = 1 + (int64_t)(i % 300);
        r.cost_units = r.prompt_tokens * 8000000000 + r.completion_tokens * 24000000000;
        bl_writer_push(w, &r);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "sqlite") != 0 && strcmp(argv[1], "postgres") != 0)) {
        fprintf(stderr, "usage: %s sqlite PATH [seconds] [NORMAL|FULL] | postgres URL [seconds]\n", argv[0]);
        return 2;
    }
    int pg = strcmp(argv[1], "postgres") == 0;
    unsigned secs = argc > 3 ? (unsigned)atoi(argv[3]) : 5;
    ig_host_t host = {.size = sizeof(host), .log = host_log, .now_ms = now_ms};
    bl_writer_t *w = bl_writer_create(&host);
    char path[1100];
    snprintf(path, sizeof(path), "%s", pg ? "/tmp/ig-ledger-bench.db" : argv[2]);
    bl_writer_options_t o = {
        .ledger_path = path,
        .synchronous = !pg && argc > 4 ? argv[4] : "NORMAL",
        .flush_ms = 10, /* the plugin's defaults */
        .flush_records = 1000,
        .max_queued = 200000,
        .export_dir = "",
        .webhook = {.url = ""},
        .database = pg ? argv[2] : NULL,
        .gateway_id = "bench",
    };
    char msg[400];
    if (!w || bl_writer_start(w, &o, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "ledger_bench: %s\n", msg);
        return 1;
    }
    pthread_t t;
    pthread_create(&t, NULL, produce, w);
    /* one second of warm-up, then the window */
    struct timespec one = {1, 0};
    nanosleep(&one, NULL);
    pthread_mutex_lock(&w->mu);
    uint64_t c0 = w->committed;
    pthread_mutex_unlock(&w->mu);
    uint64_t t0 = now_ms();
    struct timespec win = {secs, 0};
    nanosleep(&win, NULL);
    pthread_mutex_lock(&w->mu);
    uint64_t c1 = w->committed, dropped = w->dropped;
    pthread_mutex_unlock(&w->mu);
    uint64_t t1 = now_ms();
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    double s = (double)(t1 - t0) / 1000.0;
    printf("%s%s%s: %" PRIu64 " records committed in %.2f s: %.0f records/s (%" PRIu64 " dropped)\n", argv[1],
           pg ? "" : " synchronous=", pg ? "" : o.synchronous, c1 - c0, s, (double)(c1 - c0) / s, dropped);
    bl_writer_destroy(w); /* commits the rest */
    return 0;
}
