/*
 * errors.h — a list of error messages, for reporting every problem in a file
 * at once (like a compiler) instead of stopping at the first.
 */
#ifndef IG_ERRORS_H
#define IG_ERRORS_H

#include <stddef.h>

typedef struct {
    char **items;
    size_t count, cap;
} ig_errors_t;

/* Appends a formatted message. Out of memory is reported as a final fixed message. */
void ig_errors_add(ig_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "file:line: path: message" — the shape every config error takes. */
void ig_errors_at(ig_errors_t *errs, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ig_errors_clear(ig_errors_t *errs);
/* Joins all messages, one per line; the caller frees. */
char *ig_errors_join(const ig_errors_t *errs);

#endif
