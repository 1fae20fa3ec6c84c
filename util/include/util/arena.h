/*
 * arena.h — a bump allocator for data that lives and dies together.
 *
 * A configuration is built once and freed as a whole when its generation
 * ends, so its strings and arrays come from one arena: no per-field free,
 * no leaks on the many error paths of validation. Memory is zeroed.
 */
#ifndef IG_ARENA_H
#define IG_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ig_arena_s ig_arena_t;

ig_arena_t *ig_arena_create(void);
void ig_arena_destroy(ig_arena_t *a);

/* Zeroed, aligned for any type. NULL when out of memory (or n == 0 on overflow paths). */
void *ig_arena_alloc(ig_arena_t *a, size_t n);
/* count * size bytes, with the multiplication checked. */
void *ig_arena_array(ig_arena_t *a, size_t count, size_t size);
char *ig_arena_strdup(ig_arena_t *a, const char *s);
char *ig_arena_strndup(ig_arena_t *a, const char *s, size_t n);
char *ig_arena_printf(ig_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Bytes handed out so far (for tests and diagnostics). */
size_t ig_arena_used(const ig_arena_t *a);

#endif
