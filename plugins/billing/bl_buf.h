/* bl_buf — a growable byte buffer (malloc'd) for building JSON, CSV and HTTP text. */
#ifndef BL_BUF_H
#define BL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/json.h"

typedef struct {
    char *p;
    size_t len, cap;
    int oom; /* an allocation failed: the text is incomplete */
} bl_buf_t;

void bl_buf_put(bl_buf_t *b, const char *s, size_t n);
void bl_buf_puts(bl_buf_t *b, const char *s);
void bl_buf_printf(bl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string literal, quotes included, escaped by the core's JSON module. */
void bl_buf_json_str(bl_buf_t *b, const ig_json_api_t *json, const char *s, size_t n);
/* s as a CSV field (quoted when it holds a comma, quote or line break). */
void bl_buf_csv_str(bl_buf_t *b, const char *s);
void bl_buf_free(bl_buf_t *b);

#endif
