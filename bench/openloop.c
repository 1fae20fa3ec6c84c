/*
 * openloop — an open-loop HTTP/1.1 load generator on libuv, for bench/run.sh.
 *
 * Closed-loop tools (h2load, wrk) send the next request only when an answer
 * came back, so a slow server is offered less load exactly when it is slow
 * and its worst latencies are never measured ("coordinated omission").
 * openloop sends on a fixed schedule instead: request i is due at
 * t0 + i / rate, whatever the server does, and its latency is measured from
 * that due time. When no connection is free at the due time, the request
 * waits in a queue and the wait counts in its latency.
 *
 *   rate mode:    --rate R --duration S [--warmup S] [--connections N]
 *                 N keep-alive connections are opened first; requests due in
 *                 the first S_warmup seconds are sent but not recorded.
 *   streams mode: --streams N --ramp S
 *                 N requests (typically "stream": true), each on its own new
 *                 connection, started evenly over S seconds and held until
 *                 the server ends them; reports time to first body byte
 *                 (time to first token) and the peak number open at once.
 *
 * Timing: a timerfd (CLOCK_MONOTONIC, absolute deadlines, 1 ns timer slack)
 * polled by the same libuv loop that does the I/O, so sends are not batched
 * to libuv's millisecond timers. Latencies go into a log-linear histogram
 * (64 sub-buckets per power of two: at most 1/64 = 1.6% relative error),
 * written here, in the spirit of HdrHistogram.
 *
 * In streams mode the time to the first body byte is reported twice: from the due time
 * (ttfb_us, which includes connecting) and from the write of the request (ttfb_sent_us).
 *
 * Output: one JSON object on stdout. Diagnostics on stderr.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "util/hex.h"

/* ---- histogram ---------------------------------------------------------------------------- */

#define SUB_BITS 6
#define SUB (1 << SUB_BITS)
#define NBUCKETS (SUB + (64 - SUB_BITS) * SUB)

typedef struct {
    uint64_t counts[NBUCKETS];
    uint64_t n, max;
} hist_t;

static int bucket_of(uint64_t v)
{
    if (v < SUB)
        return (int)v;
    int top = 63 - __builtin_clzll(v);
    int shift = top - SUB_BITS;
    return SUB + shift * SUB + (int)((v >> shift) & (SUB - 1));
}

/* The middle of bucket i: the value reported for anything that fell in it. */
static uint64_t bucket_value(int i)
{
    if (i < SUB)
        return (uint64_t)i;
    int shift = (i - SUB) / SUB, sub = (i - SUB) % SUB;
    uint64_t low = (uint64_t)(SUB + sub) << shift;
    return low + (((uint64_t)1 << shift) >> 1);
}

static void hist_add(hist_t *h, uint64_t v)
{
    h->counts[bucket_of(v)]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

static uint64_t hist_pct(const hist_t *h, double p)
{
    if (h->n == 0)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->n)
        rank = h->n;
    uint64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = bucket_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* {"n":..,"p50":..,...} in microseconds with one decimal */
static void hist_json(FILE *f, const char *name, const hist_t *h)
{
    static const double ps[] = {50, 90, 99, 99.9};
    static const char *const pn[] = {"p50", "p90", "p99", "p999"};
    fprintf(f, "\"%s\":{\"n\":%" PRIu64, name, h->n);
    for (int i = 0; i < 4; i++)
        fprintf(f, ",\"%s\":%.1f", pn[i], (double)hist_pct(h, ps[i]) / 1000.0);
    fprintf(f, ",\"max\":%.1f}", (double)h->max / 1000.0);
}

/* ---- options and state -------------------------------------------------------------------- */

static struct {
    char host[64];
    int port;
    char path[512];
    const char *body_file;
    const char *headers[16];
    int nheaders;
    double rate, duration, warmup, ramp, timeout;
    int connections, streams;
    const char *label;
} opt = {.rate = 0, .duration = 5, .warmup = 1, .connections = 32, .timeout = 30, .ramp = 1, .label = ""};

static char *req_buf; /* the whole request, identical for every send */
static size_t req_len;

static uv_loop_t *loop;
static struct sockaddr_in addr;
static uint64_t t0;           /* first due time */
static uint64_t interval_ns;  /* rate mode */
static uint64_t total;        /* requests (rate mode) or streams to start */
static uint64_t next_idx;     /* next request/stream to schedule */
static uint64_t warm_until;

static int tfd = -1;
static uv_poll_t tpoll;
static uv_timer_t deadline;

static hist_t lat;            /* from due time to the end of the response */
static hist_t svc;            /* from the actual send to the end */
static hist_t ttfb;           /* streams: from due time to the first body byte */
static hist_t ttfb_sent;      /* streams: from the request's write to the first body byte */

static uint64_t sent, ok, bad_status, errors, conn_errors, unanswered;
static uint64_t inflight, open_now, max_open, first_bytes;
static uint64_t body_bytes;
static uint64_t max_backlog;
static int finishing;

/* requests due but waiting for a free connection (rate mode) */
static uint64_t *backlog;
static size_t bl_head, bl_tail, bl_cap;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "openloop: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static uint64_t now_ns(void)
{
    return uv_hrtime(); /* CLOCK_MONOTONIC, like the timerfd */
}

/* ---- connections and the response parser ------------------------------------------------ */

enum { P_HEAD, P_BODY, P_BODY_EOF, P_CHUNK_SIZE, P_CHUNK_EXT, P_CHUNK_DATA, P_CHUNK_CRLF, P_TRAILER, P_DONE };

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct conn *next_idle;
    int connected, busy, closing, opened;
    size_t slot;                  /* index in all_conns */
    uint64_t due, sent_at, first_byte;
    int measured;
    /* parser */
    int ps;
    char head[8192];
    size_t head_len;
    int status, chunked, close_after;
    int64_t clen;
    uint64_t remaining, chunk_size;
    size_t trailer_line;
    char rbuf[16384];
} conn_t;

static conn_t *idle_head;
static conn_t **all_conns;
static size_t nall;

static void maybe_finish(void);
static void send_on(conn_t *c, uint64_t due);
static void new_rate_conn(void);

static void on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    all_conns[c->slot] = all_conns[--nall];
    all_conns[c->slot]->slot = c->slot;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void unlink_idle(conn_t *c)
{
    for (conn_t **pp = &idle_head; *pp; pp = &(*pp)->next_idle)
        if (*pp == c) {
            *pp = c->next_idle;
            return;
        }
}

static void make_idle(conn_t *c)
{
    c->busy = 0;
    if (bl_head != bl_tail) {
        uint64_t due = backlog[bl_head++ % bl_cap];
        send_on(c, due);
        return;
    }
    c->next_idle = idle_head;
    idle_head = c;
}

/* A request ended: with a whole response (ok), or not (the connection failed under it). */
static void request_done(conn_t *c, int whole)
{
    uint64_t now = now_ns();
    c->busy = 0;
    inflight--;
    if (c->opened)
        open_now--;
    c->opened = 0;
    if (!whole) {
        errors++;
    } else if (c->status < 200 || c->status > 299) {
        bad_status++;
    } else {
        ok++;
        if (c->measured) {
            hist_add(&lat, now - c->due);
            hist_add(&svc, now - c->sent_at);
            if (opt.streams && c->first_byte) {
                hist_add(&ttfb, c->first_byte - c->due);
                hist_add(&ttfb_sent, c->first_byte - c->sent_at);
            }
        }
    }
    if (opt.streams || c->close_after || !whole) {
        conn_close(c);
        if (!opt.streams && !finishing)
            new_rate_conn();
    } else {
        make_idle(c);
    }
    maybe_finish();
}

static int ieq_prefix(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n >= k && strncasecmp(line, name, k) == 0;
}

/* Status line and the framing headers. */
static int parse_head(conn_t *c)
{
    const char *p = c->head, *end = c->head + c->head_len;
    if (c->head_len < 12 || memcmp(p, "HTTP/1.", 7) != 0)
        return -1;
    c->status = atoi(p + 9);
    c->clen = -1;
    c->chunked = 0;
    c->close_after = p[7] == '0';
    const char *line = memchr(p, '\n', (size_t)(end - p));
    while (line != NULL && ++line < end) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (eol == NULL)
            break;
        size_t n = (size_t)(eol - line);
        const char *v;
        if (ieq_prefix(line, n, "content-length:")) {
            v = line + 15;
            c->clen = strtoll(v, NULL, 10);
        } else if (ieq_prefix(line, n, "transfer-encoding:")) {
            v = line + 18;
            if (memmem(v, (size_t)(eol - v), "chunked", 7) != NULL)
                c->chunked = 1;
        } else if (ieq_prefix(line, n, "connection:")) {
            v = line + 11;
            if (memmem(v, (size_t)(eol - v), "close", 5) != NULL)
                c->close_after = 1;
            else if (memmem(v, (size_t)(eol - v), "keep-alive", 10) != NULL)
                c->close_after = 0;
        }
        line = eol;
    }
    if (c->chunked)
        c->ps = P_CHUNK_SIZE;
    else if (c->clen >= 0)
        c->ps = c->clen == 0 ? P_DONE : P_BODY, c->remaining = (uint64_t)c->clen;
    else
        c->ps = P_BODY_EOF, c->close_after = 1;
    c->chunk_size = 0;
    return 0;
}

static void body_seen(conn_t *c, size_t n)
{
    if (n == 0)
        return;
    if (c->first_byte == 0) {
        c->first_byte = now_ns();
        first_bytes++;
    }
    body_bytes += n;
}

/* Returns bytes left over after the response ended (a protocol error: no pipelining here), or -1. */
static ssize_t feed(conn_t *c, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && c->ps != P_DONE) {
        switch (c->ps) {
        case P_HEAD:
            if (c->head_len == sizeof(c->head))
                return -1;
            c->head[c->head_len++] = p[i++];
            if (c->head_len >= 4 && memcmp(c->head + c->head_len - 4, "\r\n\r\n", 4) == 0) {
                if (parse_head(c) != 0)
                    return -1;
                if (c->status == 100) { /* an interim answer: the real one follows */
                    c->head_len = 0;
                    c->ps = P_HEAD;
                }
            }
            break;
        case P_BODY: {
            size_t m = n - i < c->remaining ? n - i : (size_t)c->remaining;
            body_seen(c, m);
            c->remaining -= m;
            i += m;
            if (c->remaining == 0)
                c->ps = P_DONE;
            break;
        }
        case P_BODY_EOF:
            body_seen(c, n - i);
            i = n;
            break;
        case P_CHUNK_SIZE: {
            char ch = p[i++];
            int h = ig_hex_digit(ch);
            if (h >= 0)
                c->chunk_size = c->chunk_size * 16 + (uint64_t)h;
            else if (ch == ';')
                c->ps = P_CHUNK_EXT;
            else if (ch == '\n') {
                if (c->chunk_size == 0) {
                    c->ps = P_TRAILER;
                    c->trailer_line = 0;
                } else {
                    c->ps = P_CHUNK_DATA;
                    c->remaining = c->chunk_size;
                }
            } else if (ch != '\r' && ch != ' ' && ch != '\t')
                return -1;
            break;
        }
        case P_CHUNK_EXT:
            if (p[i++] == '\n') {
                if (c->chunk_size == 0) {
                    c->ps = P_TRAILER;
                    c->trailer_line = 0;
                } else {
                    c->ps = P_CHUNK_DATA;
                    c->remaining = c->chunk_size;
                }
            }
            break;
        case P_CHUNK_DATA: {
            size_t m = n - i < c->remaining ? n - i : (size_t)c->remaining;
            body_seen(c, m);
            c->remaining -= m;
            i += m;
            if (c->remaining == 0)
                c->ps = P_CHUNK_CRLF;
            break;
        }
        case P_CHUNK_CRLF:
            if (p[i++] == '\n') {
                c->ps = P_CHUNK_SIZE;
                c->chunk_size = 0;
            }
            break;
        case P_TRAILER: {
            char ch = p[i++];
            if (ch == '\n') {
                if (c->trailer_line == 0)
                    c->ps = P_DONE;
                c->trailer_line = 0;
            } else if (ch != '\r') {
                c->trailer_line++;
            }
            break;
        }
        }
    }
    return (ssize_t)(n - i);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof(c->rbuf));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        if (c->busy) {
            if (nread == UV_EOF && c->ps == P_BODY_EOF) {
                request_done(c, 1);
                return;
            }
            request_done(c, 0);
            return;
        }
        /* an idle keep-alive connection the server closed: replace it */
        unlink_idle(c);
        conn_close(c);
        if (!opt.streams && !finishing)
            new_rate_conn();
        return;
    }
    if (!c->busy) { /* bytes nobody asked for */
        unlink_idle(c);
        conn_close(c);
        conn_errors++;
        return;
    }
    ssize_t left = feed(c, buf->base, (size_t)nread);
    if (left != 0) {
        request_done(c, 0);
        return;
    }
    if (c->ps == P_DONE)
        request_done(c, 1);
}

static void on_write(uv_write_t *w, int status)
{
    conn_t *c = w->data;
    if (status < 0 && c->busy && !c->closing)
        request_done(c, 0);
}

static void send_on(conn_t *c, uint64_t due)
{
    c->busy = 1;
    c->due = due;
    c->sent_at = now_ns();
    c->first_byte = 0;
    c->measured = due >= warm_until;
    c->ps = P_HEAD;
    c->head_len = 0;
    if (opt.streams) { /* counted as sent when it was due (dispatch) */
        c->opened = 1;
        if (++open_now > max_open)
            max_open = open_now;
    } else {
        sent++;
        inflight++;
    }
    uv_buf_t b = uv_buf_init(req_buf, (unsigned)req_len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)req_len)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        request_done(c, 0);
        return;
    }
    if (n > 0)
        b = uv_buf_init(req_buf + n, (unsigned)(req_len - (size_t)n));
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0)
        request_done(c, 0);
}

static conn_t *conn_new(void)
{
    conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        die("out of memory");
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->creq.data = c;
    c->slot = nall;
    all_conns[nall++] = c;
    return c;
}

static void on_connect(uv_connect_t *r, int status)
{
    conn_t *c = r->data;
    if (c->closing)
        return;
    if (status < 0) {
        conn_errors++;
        if (opt.streams) {
            request_done(c, 0); /* counted as sent when it was due */
        } else {
            conn_close(c);
            if (!finishing)
                new_rate_conn(); /* keep the pool full; errors are counted */
        }
        return;
    }
    c->connected = 1;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (opt.streams)
        send_on(c, c->due);
    else
        make_idle(c);
}

static void new_rate_conn(void)
{
    conn_t *c = conn_new();
    if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, on_connect) != 0) {
        conn_errors++;
        conn_close(c);
    }
}

/* ---- scheduling ----------------------------------------------------------------------------- */

static uint64_t due_of(uint64_t i)
{
    if (opt.streams)
        return t0 + (uint64_t)((double)i * opt.ramp * 1e9 / (double)total);
    return t0 + i * interval_ns;
}

static void arm(uint64_t at)
{
    struct itimerspec its = {{0, 0}, {(time_t)(at / 1000000000u), (long)(at % 1000000000u)}};
    if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL) != 0)
        die("timerfd_settime: %s", strerror(errno));
}

static void dispatch(uint64_t due)
{
    if (opt.streams) {
        conn_t *c = conn_new();
        c->due = due;
        c->measured = 1;
        c->busy = 1;
        sent++;
        inflight++;
        if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&addr, on_connect) != 0) {
            conn_errors++;
            request_done(c, 0);
        }
        return;
    }
    if (idle_head != NULL) {
        conn_t *c = idle_head;
        idle_head = c->next_idle;
        send_on(c, due);
        return;
    }
    backlog[bl_tail++ % bl_cap] = due;
    uint64_t depth = bl_tail - bl_head;
    if (depth > max_backlog)
        max_backlog = depth;
}

static void on_tick(uv_poll_t *p, int status, int events)
{
    uint64_t exp;
    ssize_t r = read(tfd, &exp, sizeof(exp));
    (void)r;
    uint64_t now = now_ns();
    while (next_idx < total && due_of(next_idx) <= now) {
        dispatch(due_of(next_idx));
        next_idx++;
    }
    if (finishing)
        return;
    if (next_idx < total) {
        arm(due_of(next_idx));
    } else {
        uv_poll_stop(&tpoll);
        maybe_finish();
    }
}

static void stop_all(void)
{
    finishing = 1;
    if (!uv_is_closing((uv_handle_t *)&tpoll))
        uv_close((uv_handle_t *)&tpoll, NULL);
    if (!uv_is_closing((uv_handle_t *)&deadline))
        uv_close((uv_handle_t *)&deadline, NULL);
    while (nall > 0) {
        conn_t *c = all_conns[nall - 1];
        if (c->busy) {
            unanswered++;
            c->busy = 0;
        }
        conn_close(c);
    }
}

static void maybe_finish(void)
{
    if (finishing || next_idx < total || inflight != 0 || bl_head != bl_tail)
        return;
    stop_all();
}

static void on_deadline(uv_timer_t *t)
{
    fprintf(stderr, "openloop: %s: gave up waiting: %" PRIu64 " requests unanswered, %zu queued\n", opt.label,
            inflight, bl_tail - bl_head);
    unanswered += bl_tail - bl_head;
    bl_head = bl_tail;
    stop_all();
}

/* ---- setup ---------------------------------------------------------------------------------- */

static void parse_url(const char *url)
{
    if (strncmp(url, "http://", 7) != 0)
        die("only http:// URLs: %s", url);
    const char *h = url + 7, *colon = strchr(h, ':'), *slash = strchr(h, '/');
    if (colon == NULL || (slash != NULL && colon > slash) || (size_t)(colon - h) >= sizeof(opt.host))
        die("URL needs host:port: %s", url);
    memcpy(opt.host, h, (size_t)(colon - h));
    opt.port = atoi(colon + 1);
    snprintf(opt.path, sizeof(opt.path), "%s", slash ? slash : "/");
    if (uv_ip4_addr(opt.host, opt.port, &addr) != 0)
        die("host must be an IPv4 literal: %s", opt.host);
}

static void build_request(void)
{
    char *body = NULL;
    size_t blen = 0;
    if (opt.body_file) {
        FILE *f = fopen(opt.body_file, "rb");
        if (f == NULL)
            die("%s: %s", opt.body_file, strerror(errno));
        struct stat st;
        fstat(fileno(f), &st);
        blen = (size_t)st.st_size;
        body = malloc(blen + 1);
        if (body == NULL || fread(body, 1, blen, f) != blen)
            die("cannot read %s", opt.body_file);
        fclose(f);
    }
    size_t cap = blen + 4096;
    req_buf = malloc(cap);
    int n = snprintf(req_buf, cap, "%s %s HTTP/1.1\r\nHost: %s:%d\r\n", body ? "POST" : "GET", opt.path, opt.host,
                     opt.port);
    if (body)
        n += snprintf(req_buf + n, cap - (size_t)n, "Content-Type: application/json\r\nContent-Length: %zu\r\n", blen);
    for (int i = 0; i < opt.nheaders; i++)
        n += snprintf(req_buf + n, cap - (size_t)n, "%s\r\n", opt.headers[i]);
    n += snprintf(req_buf + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(req_buf + n, body, blen);
    req_len = (size_t)n + blen;
    free(body);
}

static void usage(void)
{
    fprintf(stderr,
            "usage: openloop --url http://IP:PORT/PATH [--body FILE] [--header 'K: V']...\n"
            "                (--rate R --duration S [--warmup S] [--connections N]\n"
            "                 | --streams N --ramp S) [--timeout S] [--label TEXT]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (strcmp(a, name) == 0 && v != NULL && ++i)
        if (ARG("--url"))
            url = v;
        else if (ARG("--body"))
            opt.body_file = v;
        else if (ARG("--header")) {
            if (opt.nheaders < 16)
                opt.headers[opt.nheaders++] = v;
        } else if (ARG("--rate"))
            opt.rate = atof(v);
        else if (ARG("--duration"))
            opt.duration = atof(v);
        else if (ARG("--warmup"))
            opt.warmup = atof(v);
        else if (ARG("--connections"))
            opt.connections = atoi(v);
        else if (ARG("--streams"))
            opt.streams = atoi(v);
        else if (ARG("--ramp"))
            opt.ramp = atof(v);
        else if (ARG("--timeout"))
            opt.timeout = atof(v);
        else if (ARG("--label"))
            opt.label = v;
        else
            usage();
#undef ARG
    }
    if (url == NULL || (opt.rate <= 0 && opt.streams <= 0))
        usage();
    parse_url(url);
    build_request();

    /* many streams need many descriptors */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    loop = uv_default_loop();
    if (opt.streams) {
        total = (uint64_t)opt.streams;
        all_conns = calloc(total + 1, sizeof(*all_conns));
    } else {
        total = (uint64_t)(opt.rate * opt.duration + 0.5);
        interval_ns = (uint64_t)(1e9 / opt.rate);
        bl_cap = total + 1;
        backlog = malloc(bl_cap * sizeof(*backlog));
        all_conns = calloc((size_t)opt.connections * 4 + total + 16, sizeof(*all_conns));
    }
    if (all_conns == NULL || (!opt.streams && backlog == NULL))
        die("out of memory");

    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0)
        die("timerfd_create: %s", strerror(errno));
    uv_poll_init(loop, &tpoll, tfd);
    uv_timer_init(loop, &deadline);

    if (!opt.streams) {
        /* open the pool first and give it a moment, so connecting is not measured */
        for (int i = 0; i < opt.connections; i++)
            new_rate_conn();
        uint64_t until = now_ns() + 2000000000ull;
        while (now_ns() < until) {
            size_t ready = 0;
            for (conn_t *c = idle_head; c; c = c->next_idle)
                ready++;
            if (ready == (size_t)opt.connections)
                break;
            uv_run(loop, UV_RUN_NOWAIT);
            usleep(1000);
        }
    }
    t0 = now_ns() + 10000000ull; /* 10 ms from now */
    warm_until = opt.streams ? 0 : t0 + (uint64_t)(opt.warmup * 1e9);
    arm(t0);
    uv_poll_start(&tpoll, UV_READABLE, on_tick);
    double span = opt.streams ? opt.ramp : opt.duration;
    uv_timer_start(&deadline, on_deadline, (uint64_t)((span + opt.timeout) * 1000) + 10, 0);

    uv_run(loop, UV_RUN_DEFAULT);
    uint64_t elapsed = now_ns() - t0;

    FILE *o = stdout;
    fprintf(o, "{\"label\":\"%s\",\"mode\":\"%s\",", opt.label, opt.streams ? "streams" : "rate");
    if (opt.streams)
        fprintf(o, "\"streams\":%d,\"ramp_s\":%.2f,\"max_open\":%" PRIu64 ",\"first_bytes\":%" PRIu64 ",",
                opt.streams, opt.ramp, max_open, first_bytes);
    else
        fprintf(o, "\"rate\":%.0f,\"duration_s\":%.2f,\"warmup_s\":%.2f,\"connections\":%d,\"max_backlog\":%" PRIu64 ",",
                opt.rate, opt.duration, opt.warmup, opt.connections, max_backlog);
    fprintf(o,
            "\"sent\":%" PRIu64 ",\"ok\":%" PRIu64 ",\"bad_status\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"connect_errors\":%" PRIu64 ",\"unanswered\":%" PRIu64 ",\"body_bytes\":%" PRIu64
            ",\"elapsed_s\":%.3f,",
            sent, ok, bad_status, errors, conn_errors, unanswered, body_bytes, (double)elapsed / 1e9);
    hist_json(o, "latency_us", &lat);
    fprintf(o, ",");
    hist_json(o, "service_us", &svc);
    if (opt.streams) {
        fprintf(o, ",");
        hist_json(o, "ttfb_us", &ttfb);
        fprintf(o, ",");
        hist_json(o, "ttfb_sent_us", &ttfb_sent);
    }
    fprintf(o, "}\n");
    uv_loop_close(loop);
    return ok > 0 && errors + bad_status + unanswered == 0 ? 0 : 1;
}
