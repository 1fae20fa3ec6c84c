/*
 * bl_record — one usage record as the billing plugin keeps it: a self-contained copy of the core's
 * ig_usage_record_t (which is valid only during record()), with its exact cost, and its JSON and
 * CSV forms shared by the export files and the webhook.
 */
#ifndef BL_RECORD_H
#define BL_RECORD_H

#include <stdint.h>
#include "util/buf.h"
#include "bl_decimal.h"
#include "infergate/plugin.h"

typedef struct {
    int64_t id;               /* ledger row id, set when committed (0 before) */
    int64_t ts_ms;            /* wall clock the request arrived (Unix ms) */
    char day[11];             /* its UTC day, YYYY-MM-DD */
    char customer[96];        /* "" without an auth plugin */
    char key_id[96];
    char model[128];
    char adapter[64];
    char endpoint[160];
    const char *api;          /* static: "chat.completions", ... */
    int status, stream, complete;
    int usage_known;          /* the engine reported usage (or counted chunks, see openai_compat) */
    int64_t prompt_tokens, completion_tokens, cached_tokens, audio_ms; /* >= 0 */
    int64_t requests;         /* 1 */
    int64_t ttft_us, duration_us; /* ttft -1 when nothing reached the client */
    uint32_t attempts;
    uint64_t generation;
    int64_t cost_units;       /* exact, in 1e-15 currency units (bl_decimal.h) */
} bl_record_t;

/* Fills out from the core's record; prices from the model's pricing strings. */
void bl_record_from(bl_record_t *out, const ig_usage_record_t *rec);

/* One JSON object, no trailing newline. */
void bl_record_json(ig_buf_t *b, const bl_record_t *r);
/* The CSV header line and one CSV line, both ending with "\n". */
void bl_record_csv_header(ig_buf_t *b);
void bl_record_csv(ig_buf_t *b, const bl_record_t *r);
/* s as a CSV field (quoted when it holds a comma, quote or line break). */
void bl_csv_str(ig_buf_t *b, const char *s);

/* "2026-11-25T01:02:03.456Z" */
void bl_format_time(int64_t ms, char out[32]);
/* YYYY-MM-DD of a Unix ms time, UTC */
void bl_format_day(int64_t ms, char out[11]);
/* audio ms as seconds with 3 decimals */
void bl_format_audio(int64_t ms, char out[32]);

#endif
