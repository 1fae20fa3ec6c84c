/*
 * arena.c — chunked bump allocator. Chunks grow geometrically so a large
 * config costs few mallocs; an allocation bigger than a chunk gets a chunk
 * of its own so the current chunk's free space is not wasted.
 */
#include "util/arena.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 16
#define ARENA_FIRST_CHUNK 4096
#define ARENA_MAX_CHUNK (1u << 20)

typedef struct chunk_s {
    struct chunk_s *next;
    size_t size, used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} chunk_t;

struct ig_arena_s {
    chunk_t *head;       /* current chunk; older ones follow */
    size_t next_size;
    size_t total;
};

ig_arena_t *ig_arena_create(void)
{
    ig_arena_t *a = calloc(1, sizeof(*a));
    if (a)
        a->next_size = ARENA_FIRST_CHUNK;
    return a;
}

void ig_arena_destroy(ig_arena_t *a)
{
    if (!a)
        return;
    chunk_t *c = a->head;
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

static chunk_t *new_chunk(size_t size)
{
    if (size > SIZE_MAX - sizeof(chunk_t))
        return NULL;
    chunk_t *c = malloc(sizeof(chunk_t) + size);
    if (!c)
        return NULL;
    c->size = size;
    c->used = 0;
    c->next = NULL;
    return c;
}

void *ig_arena_alloc(ig_arena_t *a, size_t n)
{
    if (n == 0)
        n = 1; /* distinct non-NULL pointers for empty arrays */
    if (n > SIZE_MAX - ARENA_ALIGN)
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    chunk_t *c = a->head;
    if (!c || c->size - c->used < need) {
        if (need > a->next_size / 4) {
            /* big: own chunk, linked behind the current one so its space stays usable */
            chunk_t *big = new_chunk(need);
            if (!big)
                return NULL;
            big->used = need;
            if (c) {
                big->next = c->next;
                c->next = big;
            } else {
                a->head = big;
            }
            a->total += need;
            memset(big->data, 0, need);
            return big->data;
        }
        c = new_chunk(a->next_size);
        if (!c)
            return NULL;
        c->next = a->head;
        a->head = c;
        if (a->next_size < ARENA_MAX_CHUNK)
            a->next_size *= 2;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    memset(p, 0, need);
    return p;
}

void *ig_arena_array(ig_arena_t *a, size_t count, size_t size)
{
    if (size && count > SIZE_MAX / size)
        return NULL;
    return ig_arena_alloc(a, count * size);
}

char *ig_arena_strndup(ig_arena_t *a, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = ig_arena_alloc(a, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *ig_arena_strdup(ig_arena_t *a, const char *s)
{
    return s ? ig_arena_strndup(a, s, strlen(s)) : NULL;
}

char *ig_arena_printf(ig_arena_t *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = n < 0 ? NULL : ig_arena_alloc(a, (size_t)n + 1);
    if (p)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

size_t ig_arena_used(const ig_arena_t *a)
{
    return a->total;
}
