/*
 * errors.c — an append-only list of messages. Config loading reports every
 * problem it finds, so this never stops at the first one; it only has to
 * survive running out of memory without losing the fact that it failed.
 */
#include "config/errors.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Stored instead of a message that could not be allocated; never freed. */
static char oom_message[] = "out of memory while reporting errors";

static void add_owned(ig_errors_t *errs, char *msg)
{
    if (errs->count == errs->cap) {
        size_t ncap = errs->cap ? errs->cap * 2 : 8;
        char **items = realloc(errs->items, ncap * sizeof(*items));
        if (!items) {
            if (msg != oom_message)
                free(msg);
            /* keep at least the fact that something failed: overwrite the last slot */
            if (errs->count > 0) {
                if (errs->items[errs->count - 1] != oom_message)
                    free(errs->items[errs->count - 1]);
                errs->items[errs->count - 1] = oom_message;
            }
            return;
        }
        errs->items = items;
        errs->cap = ncap;
    }
    errs->items[errs->count++] = msg;
}

static char *vformat(const char *prefix_fmt, const char *file, int line, const char *fmt, va_list ap)
{
    char prefix[512] = "";
    int plen = 0;
    if (prefix_fmt) {
        plen = snprintf(prefix, sizeof(prefix), prefix_fmt, file ? file : "-", line);
        if (plen < 0)
            plen = 0;
        if ((size_t)plen >= sizeof(prefix))
            plen = (int)sizeof(prefix) - 1;
    }
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        n = 0;
    char *msg = malloc((size_t)plen + (size_t)n + 1);
    if (!msg)
        return oom_message;
    memcpy(msg, prefix, (size_t)plen);
    vsnprintf(msg + plen, (size_t)n + 1, fmt, ap);
    return msg;
}

void ig_errors_add(ig_errors_t *errs, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_owned(errs, vformat(NULL, NULL, 0, fmt, ap));
    va_end(ap);
}

void ig_errors_at(ig_errors_t *errs, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* a line of 0 means "the file as a whole" (cannot open it, empty document) */
    add_owned(errs, vformat(line > 0 ? "%s:%d: " : "%s: ", file, line, fmt, ap));
    va_end(ap);
}

void ig_errors_clear(ig_errors_t *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        if (errs->items[i] != oom_message)
            free(errs->items[i]);
    free(errs->items);
    errs->items = NULL;
    errs->count = errs->cap = 0;
}

char *ig_errors_join(const ig_errors_t *errs)
{
    size_t total = 1;
    for (size_t i = 0; i < errs->count; i++)
        total += strlen(errs->items[i]) + 1;
    char *out = malloc(total), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < errs->count; i++) {
        size_t n = strlen(errs->items[i]);
        memcpy(p, errs->items[i], n);
        p += n;
        *p++ = '\n';
    }
    *p = '\0';
    return out;
}
