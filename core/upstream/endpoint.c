#include "upstream/endpoint.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "config/config_values.h"
#include "observe/log.h"

/*
 * Endpoints are never freed while the registry lives: a generation may drop
 * an endpoint that a worker's connection pool still indexes by id, and the
 * next generation may list it again with its health history intact. The
 * number of distinct endpoint URLs is small (what configs ever named).
 */
struct ig_endpoint_registry_s {
    pthread_mutex_t lock; /* taken on reload only, never on the request path */
    ig_endpoint_t **items;
    uint32_t count, cap;
};

ig_endpoint_registry_t *ig_endpoint_registry_create(void)
{
    ig_endpoint_registry_t *reg = calloc(1, sizeof(*reg));
    if (reg != NULL)
        pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

static void endpoint_free(ig_endpoint_t *ep)
{
    free(ep->url);
    free(ep->host);
    free(ep->host_header);
    free(ep);
}

void ig_endpoint_registry_free(ig_endpoint_registry_t *reg)
{
    if (reg == NULL)
        return;
    for (uint32_t i = 0; i < reg->count; i++)
        endpoint_free(reg->items[i]);
    free(reg->items);
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

/* The same rules the config applies (config_values.c), so an endpoint accepted there parses here. */
static int parse_url(const char *url, char **host, uint16_t *port, char *msg, size_t msgsize)
{
    char h[256];
    if (ig_parse_http_url(url, h, sizeof(h), port, msg, msgsize) != 0)
        return -1;
    *host = strdup(h);
    return *host == NULL ? -1 : 0;
}

ig_endpoint_t *ig_endpoint_acquire(ig_endpoint_registry_t *reg, const char *url, char *msg, size_t msgsize)
{
    char *host = NULL;
    uint16_t port;
    if (parse_url(url, &host, &port, msg, msgsize) != 0)
        return NULL;
    /* one canonical key: a trailing slash does not make another endpoint */
    size_t ulen = strlen(url);
    if (ulen > 0 && url[ulen - 1] == '/')
        ulen--;

    ig_endpoint_t *ep = NULL;
    pthread_mutex_lock(&reg->lock);
    for (uint32_t i = 0; i < reg->count; i++) {
        if (strlen(reg->items[i]->url) == ulen && memcmp(reg->items[i]->url, url, ulen) == 0) {
            ep = reg->items[i];
            break;
        }
    }
    if (ep == NULL) {
        if (reg->count == reg->cap) {
            uint32_t cap = reg->cap ? reg->cap * 2 : 16;
            ig_endpoint_t **items = realloc(reg->items, cap * sizeof(*items));
            if (items == NULL)
                goto oom;
            reg->items = items;
            reg->cap = cap;
        }
        if ((ep = calloc(1, sizeof(*ep))) == NULL)
            goto oom;
        ep->url = strndup(url, ulen);
        ep->host = host;
        host = NULL;
        ep->port = port;
        size_t hhlen = strlen(ep->host) + 16;
        ep->host_header = malloc(hhlen);
        if (ep->url == NULL || ep->host_header == NULL) {
            endpoint_free(ep);
            goto oom;
        }
        if (strchr(ep->host, ':') != NULL)
            snprintf(ep->host_header, hhlen, "[%s]:%u", ep->host, port);
        else
            snprintf(ep->host_header, hhlen, "%s:%u", ep->host, port);
        atomic_init(&ep->healthy, 1);
        atomic_init(&ep->eject_after, 3); /* the default threshold, until a health checker sets the configured one */
        ep->id = reg->count;
        reg->items[reg->count++] = ep;
    }
    atomic_fetch_add(&ep->refcount, 1);
    pthread_mutex_unlock(&reg->lock);
    free(host);
    return ep;
oom:
    pthread_mutex_unlock(&reg->lock);
    free(host);
    snprintf(msg, msgsize, "endpoint \"%s\": out of memory", url);
    return NULL;
}

void ig_endpoint_release(ig_endpoint_registry_t *reg, ig_endpoint_t *ep)
{
    (void)reg;
    atomic_fetch_sub(&ep->refcount, 1);
}

uint32_t ig_endpoint_registry_capacity(ig_endpoint_registry_t *reg)
{
    pthread_mutex_lock(&reg->lock);
    uint32_t n = reg->count;
    pthread_mutex_unlock(&reg->lock);
    return n;
}

uint64_t ig_endpoint_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int ig_endpoint_mark_healthy(ig_endpoint_t *ep)
{
    int expected = 0;
    return atomic_compare_exchange_strong(&ep->healthy, &expected, 1);
}

int ig_endpoint_mark_unhealthy(ig_endpoint_t *ep)
{
    int expected = 1;
    return atomic_compare_exchange_strong(&ep->healthy, &expected, 0);
}

void ig_endpoint_record_success(ig_endpoint_t *ep)
{
    atomic_fetch_add_explicit(&ep->requests_total, 1, memory_order_relaxed);
    if (atomic_load_explicit(&ep->consecutive_failures, memory_order_relaxed) != 0)
        atomic_store_explicit(&ep->consecutive_failures, 0, memory_order_relaxed);
    if (atomic_load_explicit(&ep->ejections, memory_order_relaxed) != 0)
        atomic_store_explicit(&ep->ejections, 0, memory_order_relaxed);
}

void ig_endpoint_record_failure(ig_endpoint_t *ep)
{
    atomic_fetch_add_explicit(&ep->requests_total, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ep->failures_total, 1, memory_order_relaxed);
    unsigned n = atomic_fetch_add_explicit(&ep->consecutive_failures, 1, memory_order_relaxed) + 1;
    unsigned limit = atomic_load_explicit(&ep->eject_after, memory_order_relaxed);
    if (limit == 0 || n < limit || !atomic_load_explicit(&ep->healthy, memory_order_relaxed))
        return;
    if (ig_endpoint_mark_unhealthy(ep)) {
        /* the recovery probes wait longer after each ejection that a request did not vindicate */
        atomic_store_explicit(&ep->ejected_at_ms, ig_endpoint_now_ms(), memory_order_relaxed);
        atomic_store_explicit(&ep->probe_successes, 0, memory_order_relaxed);
        unsigned k = atomic_fetch_add_explicit(&ep->ejections, 1, memory_order_relaxed) + 1;
        ig_log_warn("endpoint %s is unhealthy: %u requests in a row failed (ejection %u; back after recovery probes)",
                    ep->url, n, k);
    }
}
