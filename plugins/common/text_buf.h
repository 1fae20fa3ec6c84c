/*
 * text_buf.h — a growable, NUL-terminated byte buffer (malloc'd) for the text plugins build:
 * admin API answers, invoices, CSV and JSONL exports, webhook bodies. Out of memory is sticky
 * (failed = 1, the text is incomplete) so writers check once, at the end.
 */
#ifndef IG_TEXT_BUF_H
#define IG_TEXT_BUF_H

#include <stddef.h>
#include "infergate/json.h"

typedef struct {
    char *p;
    size_t len, cap;
    int failed;
    const ig_json_api_t *json; /* for writers that escape JSON strings without being handed the API */
} ig_text_buf_t;

void ig_text_buf_put(ig_text_buf_t *b, const char *s, size_t n);
void ig_text_buf_puts(ig_text_buf_t *b, const char *s);
void ig_text_buf_printf(ig_text_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0..n) as a JSON string literal, quotes included, escaped by the core's JSON module. */
void ig_text_buf_json_str(ig_text_buf_t *b, const ig_json_api_t *json, const char *s, size_t n);
/* s as a CSV field (quoted when it holds a comma, quote or line break). */
void ig_text_buf_csv_str(ig_text_buf_t *b, const char *s);
void ig_text_buf_free(ig_text_buf_t *b);

#endif
