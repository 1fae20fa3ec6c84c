#include "bl_webhook.h"
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct batch {
    struct batch *next;
    ig_buf_t body;
    char key[64]; /* Idempotency-Key: the ids of its first and last record */
} batch_t;

struct bl_webhook {
    const ig_host_t *host;
    bl_webhook_options_t o;
    char host_name[256], port[8], path[1024];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    batch_t *head, *tail;
    unsigned npending;
    int stopping;
    uint64_t stop_deadline_ms;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int parse_url(bl_webhook_t *w, const char *url, char *msg, size_t msgcap)
{
    if (strncmp(url, "http://", 7) != 0) {
        snprintf(msg, msgcap, "webhookUrl \"%.200s\": only http:// URLs are supported", url);
        return -1;
    }
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *colon = memchr(h, ':', hl);
    size_t namelen = colon ? (size_t)(colon - h) : hl;
    if (namelen == 0 || namelen >= sizeof(w->host_name)) {
        snprintf(msg, msgcap, "webhookUrl \"%.200s\": no host", url);
        return -1;
    }
    memcpy(w->host_name, h, namelen);
    w->host_name[namelen] = '\0';
    size_t pl = colon ? hl - namelen - 1 : 0;
    if (colon && (pl == 0 || pl >= sizeof(w->port))) {
        snprintf(msg, msgcap, "webhookUrl \"%.200s\": bad port", url);
        return -1;
    }
    if (colon) {
        memcpy(w->port, colon + 1, pl);
        w->port[pl] = '\0';
    } else {
        strcpy(w->port, "80");
    }
    snprintf(w->path, sizeof(w->path), "%s", slash ? slash : "/");
    return 0;
}

/* Waits for fd to be ready for events; 0, or -1 on timeout or error. */
static int wait_fd(int fd, short events, unsigned timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    int rc;
    do {
        rc = poll(&p, 1, (int)timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc == 1 ? 0 : -1;
}

/* One blocking POST; the HTTP status, or -1 with msg. */
static int post_once(bl_webhook_t *w, const batch_t *b, char *msg, size_t msgcap)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(w->host_name, w->port, &hints, &res);
    if (rc != 0) {
        snprintf(msg, msgcap, "%s: %s", w->host_name, gai_strerror(rc));
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        freeaddrinfo(res);
        snprintf(msg, msgcap, "socket: %s", strerror(errno));
        return -1;
    }
    int err = 0;
    socklen_t el = sizeof(err);
    if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 && errno != EINPROGRESS)
        err = errno;
    else if (wait_fd(fd, POLLOUT, w->o.timeout_ms) != 0)
        err = ETIMEDOUT;
    else
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    freeaddrinfo(res);
    if (err != 0) {
        close(fd);
        snprintf(msg, msgcap, "connect %s:%s: %s", w->host_name, w->port, strerror(err));
        return -1;
    }
    ig_buf_t req = {0};
    ig_buf_printf(&req,
                  "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\nIdempotency-Key: %s\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                  w->path, w->host_name, w->port, b->key, b->body.len);
    ig_buf_put(&req, b->body.p, b->body.len);
    size_t off = 0;
    while (off < req.len && !req.failed) {
        if (wait_fd(fd, POLLOUT, w->o.timeout_ms) != 0)
            break;
        ssize_t n = send(fd, req.p + off, req.len - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    int sent = off == req.len && !req.failed;
    ig_buf_free(&req);
    if (!sent) {
        close(fd);
        snprintf(msg, msgcap, "sending to %s:%s failed or timed out", w->host_name, w->port);
        return -1;
    }
    char head[64];
    size_t hl = 0;
    while (hl < 12) { /* "HTTP/1.1 200" is all we need */
        if (wait_fd(fd, POLLIN, w->o.timeout_ms) != 0)
            break;
        ssize_t n = recv(fd, head + hl, sizeof(head) - 1 - hl, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        hl += (size_t)n;
    }
    close(fd);
    head[hl] = '\0';
    int status;
    if (hl < 12 || sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(msg, msgcap, "%s:%s gave no HTTP answer within %u ms", w->host_name, w->port, w->o.timeout_ms);
        return -1;
    }
    return status;
}

static void *run(void *arg)
{
    bl_webhook_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->head == NULL || (w->stopping && now_ms() >= w->stop_deadline_ms))
            break;
        batch_t *b = w->head;
        pthread_mutex_unlock(&w->mu);
        unsigned delay = w->o.backoff_ms;
        int delivered = 0;
        char msg[1400] = "";
        for (unsigned attempt = 1; attempt <= w->o.max_attempts; attempt++) {
            int status = post_once(w, b, msg, sizeof(msg));
            if (status >= 200 && status < 300) {
                delivered = 1;
                break;
            }
            if (status > 0)
                snprintf(msg, sizeof(msg), "%s:%s%s answered %d", w->host_name, w->port, w->path, status);
            w->host->log(IG_LOG_WARN, "billing", "webhook batch %s, attempt %u of %u: %s", b->key, attempt,
                         w->o.max_attempts, msg);
            if (attempt == w->o.max_attempts)
                break;
            /* back off, but wake for shutdown so the drain deadline is kept */
            pthread_mutex_lock(&w->mu);
            uint64_t until = now_ms() + delay;
            if (w->stopping && until > w->stop_deadline_ms)
                until = w->stop_deadline_ms;
            while (now_ms() < until) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                uint64_t left = until - now_ms();
                ts.tv_sec += (time_t)(left / 1000);
                ts.tv_nsec += (long)(left % 1000) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&w->cv, &w->mu, &ts);
                if (w->stopping && now_ms() >= w->stop_deadline_ms)
                    break;
            }
            int give_up = w->stopping && now_ms() >= w->stop_deadline_ms;
            pthread_mutex_unlock(&w->mu);
            if (give_up)
                break;
            delay = delay * 2 > 30000 ? 30000 : delay * 2;
        }
        if (!delivered)
            w->host->log(IG_LOG_ERROR, "billing", "webhook batch %s dropped after its attempts (%s); the ledger has it",
                         b->key, msg);
        pthread_mutex_lock(&w->mu);
        w->head = b->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->npending--;
        ig_buf_free(&b->body);
        free(b);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

bl_webhook_t *bl_webhook_start(const ig_host_t *host, const bl_webhook_options_t *o, char *msg, size_t msgcap)
{
    bl_webhook_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(msg, msgcap, "webhook: out of memory");
        return NULL;
    }
    w->host = host;
    w->o = *o;
    w->o.url = NULL;
    if (w->o.max_attempts == 0)
        w->o.max_attempts = 1;
    if (parse_url(w, o->url, msg, msgcap) != 0) {
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(msg, msgcap, "webhook: cannot start its thread");
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

static void enqueue(bl_webhook_t *w, batch_t *b);

void bl_webhook_send(bl_webhook_t *w, const bl_record_t *recs, size_t n)
{
    if (w == NULL || n == 0)
        return;
    batch_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return;
    ig_buf_puts(&b->body, "{\"object\":\"usage.batch\",\"records\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            ig_buf_put(&b->body, ",", 1);
        bl_record_json(&b->body, &recs[i]);
    }
    ig_buf_puts(&b->body, "]}");
    snprintf(b->key, sizeof(b->key), "usage-%" PRId64 "-%" PRId64, recs[0].id, recs[n - 1].id);
    enqueue(w, b);
}

void bl_webhook_send_body(bl_webhook_t *w, const char *body, size_t len, const char *key)
{
    if (w == NULL)
        return;
    batch_t *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return;
    ig_buf_put(&b->body, body, len);
    snprintf(b->key, sizeof(b->key), "%s", key);
    enqueue(w, b);
}

static void enqueue(bl_webhook_t *w, batch_t *b)
{
    pthread_mutex_lock(&w->mu);
    if (w->npending >= w->o.max_pending && w->head != NULL && w->head->next != NULL) {
        /* drop the oldest waiting batch (not the one being sent, which is head) */
        batch_t *old = w->head->next;
        w->head->next = old->next;
        if (w->tail == old)
            w->tail = w->head;
        w->npending--;
        w->host->log(IG_LOG_ERROR, "billing", "webhook: more than %u batches waiting, dropped %s (the ledger has it)",
                     w->o.max_pending, old->key);
        ig_buf_free(&old->body);
        free(old);
    }
    if (w->tail)
        w->tail->next = b;
    else
        w->head = b;
    w->tail = b;
    w->npending++;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void bl_webhook_stop(bl_webhook_t *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    w->stop_deadline_ms = now_ms() + w->o.drain_ms;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    while (w->head) {
        batch_t *b = w->head;
        w->head = b->next;
        w->host->log(IG_LOG_ERROR, "billing", "webhook batch %s not delivered before exit (the ledger has it)", b->key);
        ig_buf_free(&b->body);
        free(b);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
