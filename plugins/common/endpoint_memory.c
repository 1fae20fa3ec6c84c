#include "endpoint_memory.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

#define EPM_BUCKETS 256

typedef struct epm_entry_s {
    struct epm_entry_s *next;
    uint64_t hash;
    epm_state_t state;
    uint64_t since_ms;     /* when state was last set */
    size_t endpoint_len, key_len;
    char text[];           /* endpoint then key, not NUL-terminated */
} epm_entry_t;

struct epm_s {
    pthread_mutex_t lock;
    epm_entry_t *buckets[EPM_BUCKETS];
};

epm_t *epm_create(void)
{
    epm_t *m = calloc(1, sizeof(*m));
    if (m != NULL)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void epm_free(epm_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < EPM_BUCKETS; i++) {
        epm_entry_t *e = m->buckets[i];
        while (e != NULL) {
            epm_entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static uint64_t hash_of(const char *ep, size_t eplen, ig_str_t key)
{
    uint64_t h = ig_fnv1a64(IG_FNV64_OFFSET, ep, eplen);
    return ig_fnv1a64(h ^ 0xff, key.ptr, key.len);
}

/* The entry, or NULL; with create, a new UNKNOWN one (NULL only when out of memory). Lock held. */
static epm_entry_t *find(epm_t *m, const char *ep, ig_str_t key, int create)
{
    size_t eplen = strlen(ep);
    uint64_t h = hash_of(ep, eplen, key);
    epm_entry_t **slot = &m->buckets[h % EPM_BUCKETS];
    for (epm_entry_t *e = *slot; e != NULL; e = e->next)
        if (e->hash == h && e->endpoint_len == eplen && e->key_len == key.len && memcmp(e->text, ep, eplen) == 0 &&
            memcmp(e->text + eplen, key.ptr, key.len) == 0)
            return e;
    if (!create)
        return NULL;
    epm_entry_t *e = calloc(1, sizeof(*e) + eplen + key.len);
    if (e == NULL)
        return NULL;
    e->hash = h;
    e->endpoint_len = eplen;
    e->key_len = key.len;
    memcpy(e->text, ep, eplen);
    memcpy(e->text + eplen, key.ptr, key.len);
    e->next = *slot;
    *slot = e;
    return e;
}

epm_state_t epm_claim(epm_t *m, const char *endpoint, ig_str_t key, uint64_t now_ms, uint64_t stale_ms,
                      uint64_t no_ttl_ms)
{
    pthread_mutex_lock(&m->lock);
    epm_entry_t *e = find(m, endpoint, key, 1);
    epm_state_t st = EPM_NO;
    if (e != NULL) {
        st = e->state;
        if ((st == EPM_PENDING && now_ms - e->since_ms >= stale_ms) || (st == EPM_NO && now_ms - e->since_ms >= no_ttl_ms))
            st = EPM_UNKNOWN;
        if (st == EPM_UNKNOWN) {
            e->state = EPM_PENDING;
            e->since_ms = now_ms;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return st;
}

void epm_set(epm_t *m, const char *endpoint, ig_str_t key, epm_state_t state, uint64_t now_ms)
{
    pthread_mutex_lock(&m->lock);
    epm_entry_t *e = find(m, endpoint, key, 1);
    if (e != NULL) {
        e->state = state;
        e->since_ms = now_ms;
    }
    pthread_mutex_unlock(&m->lock);
}

void epm_forget(epm_t *m, const char *endpoint, ig_str_t key)
{
    pthread_mutex_lock(&m->lock);
    epm_entry_t *e = find(m, endpoint, key, 0);
    if (e != NULL)
        e->state = EPM_UNKNOWN;
    pthread_mutex_unlock(&m->lock);
}

void epm_forget_endpoint(epm_t *m, const char *endpoint)
{
    size_t eplen = strlen(endpoint);
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < EPM_BUCKETS; i++)
        for (epm_entry_t *e = m->buckets[i]; e != NULL; e = e->next)
            if (e->endpoint_len == eplen && memcmp(e->text, endpoint, eplen) == 0 && e->state != EPM_PENDING)
                e->state = EPM_UNKNOWN;
    pthread_mutex_unlock(&m->lock);
}
