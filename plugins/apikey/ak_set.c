/*
 * ak_set.c — the immutable set of customers, keys and publications, and its lookups.
 */
#include "ak_set.h"
#include <stdlib.h>
#include <string.h>

ak_set_t *ak_set_new(void)
{
    ak_set_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->arena = ig_arena_create();
    if (!s->arena) {
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    return s;
}

void ak_set_free(ak_set_t *s)
{
    if (!s)
        return;
    ig_arena_destroy(s->arena);
    free(s->customers);
    free(s->keys);
    free(s->pubs);
    free(s->slots);
    free(s);
}

/* Grows *arr by one element of size sz; the new element is zeroed. */
static void *push(void **arr, size_t *n, size_t *cap, size_t sz)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 8;
        void *p = realloc(*arr, nc * sz);
        if (!p)
            return NULL;
        *arr = p;
        *cap = nc;
    }
    void *slot = (char *)*arr + (*n)++ * sz;
    memset(slot, 0, sz);
    return slot;
}

static int reserve(void **arr, size_t *cap, size_t want, size_t sz)
{
    if (want <= *cap)
        return 0;
    void *p = realloc(*arr, want * sz);
    if (!p)
        return -1;
    *arr = p;
    *cap = want;
    return 0;
}

int ak_set_reserve(ak_set_t *s, size_t customers, size_t keys, size_t pubs)
{
    return reserve((void **)&s->customers, &s->capcustomers, customers, sizeof(ak_customer_t)) ||
                   reserve((void **)&s->keys, &s->capkeys, keys, sizeof(ak_key_t)) ||
                   reserve((void **)&s->pubs, &s->cappubs, pubs, sizeof(ak_publication_t))
               ? -1
               : 0;
}

ak_customer_t *ak_set_add_customer(ak_set_t *s)
{
    return push((void **)&s->customers, &s->ncustomers, &s->capcustomers, sizeof(ak_customer_t));
}

ak_key_t *ak_set_add_key(ak_set_t *s)
{
    return push((void **)&s->keys, &s->nkeys, &s->capkeys, sizeof(ak_key_t));
}

ak_publication_t *ak_set_add_pub(ak_set_t *s)
{
    return push((void **)&s->pubs, &s->npubs, &s->cappubs, sizeof(ak_publication_t));
}

static size_t slot_of(const uint8_t h[AK_HASH_LEN], size_t nslots)
{
    uint64_t v;
    memcpy(&v, h, sizeof(v)); /* a SHA-256 is uniformly spread: its first bytes are a fine index */
    return (size_t)(v & (nslots - 1));
}

static int pub_cmp(const void *a, const void *b)
{
    return strcmp(((const ak_publication_t *)a)->model, ((const ak_publication_t *)b)->model);
}

int ak_set_seal(ak_set_t *s)
{
    size_t n = 16;
    while (n < s->nkeys * 2 + 1)
        n *= 2;
    free(s->slots);
    s->slots = calloc(n, sizeof(*s->slots));
    if (!s->slots)
        return -1;
    s->nslots = n;
    for (size_t i = 0; i < s->nkeys; i++) {
        size_t j = slot_of(s->keys[i].hash, n);
        while (s->slots[j])
            j = (j + 1) & (n - 1);
        s->slots[j] = (uint32_t)(i + 1);
    }
    if (s->npubs > 1)
        qsort(s->pubs, s->npubs, sizeof(*s->pubs), pub_cmp);
    return 0;
}

const ak_key_t *ak_set_key_by_hash(const ak_set_t *s, const uint8_t hash[AK_HASH_LEN])
{
    if (!s || !s->nslots)
        return NULL;
    const ak_key_t *found = NULL;
    for (size_t j = slot_of(hash, s->nslots); s->slots[j]; j = (j + 1) & (s->nslots - 1)) {
        const ak_key_t *k = &s->keys[s->slots[j] - 1];
        if (ak_hash_equal(k->hash, hash) && !found)
            found = k;
    }
    return found;
}

static int eq(const char *a, const char *b, size_t blen)
{
    return strlen(a) == blen && memcmp(a, b, blen) == 0;
}

const ak_key_t *ak_set_key_by_id(const ak_set_t *s, const char *id, size_t len)
{
    for (size_t i = 0; s && i < s->nkeys; i++)
        if (eq(s->keys[i].id, id, len))
            return &s->keys[i];
    return NULL;
}

const ak_customer_t *ak_set_customer(const ak_set_t *s, const char *id, size_t len)
{
    for (size_t i = 0; s && i < s->ncustomers; i++)
        if (eq(s->customers[i].id, id, len))
            return &s->customers[i];
    return NULL;
}

const ak_publication_t *ak_set_pub(const ak_set_t *s, const char *model, size_t len)
{
    size_t lo = 0, hi = s ? s->npubs : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *m = s->pubs[mid].model;
        size_t ml = strlen(m);
        int c = memcmp(m, model, ml < len ? ml : len);
        if (c == 0)
            c = ml < len ? -1 : ml > len ? 1 : 0;
        if (c == 0)
            return &s->pubs[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const ak_grant_t *ak_pub_grant(const ak_publication_t *p, const char *customer, size_t len)
{
    for (size_t i = 0; p && i < p->ngrants; i++)
        if (eq(p->grants[i].customer, customer, len))
            return &p->grants[i];
    return NULL;
}
