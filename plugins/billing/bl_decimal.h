/*
 * bl_decimal — exact money arithmetic for the ledger. Prices are OpenRouter-style decimal strings
 * ("0.000008" per token); they are parsed into integers of 1e-15 (femto) currency units, multiplied
 * by token counts in 128-bit integers, and printed back as decimal strings. No double anywhere.
 */
#ifndef BL_DECIMAL_H
#define BL_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

#define BL_DEC_SCALE_DIGITS 15
#define BL_DEC_SCALE ((int64_t)1000000000000000LL) /* 1e15 units per currency unit */

typedef __int128 bl_i128_t;

/* "12.000008" → 12000008000000000. NULL or "" is 0. 0, or -1 on anything but digits with at most
 * one '.', more than 15 significant fractional digits, or a value over INT64_MAX units. */
int bl_dec_parse(const char *s, int64_t *units);

/* Prices of one model, in units (0 where the model sets none). */
typedef struct {
    int64_t prompt, completion, request, input_cache_read, audio_per_second;
    int has_cache_read; /* cached tokens are billed at the prompt price without it */
} bl_prices_t;

typedef struct {
    int64_t prompt_tokens, completion_tokens, cached_tokens; /* >= 0 */
    int64_t audio_ms;                                         /* >= 0 */
    int64_t requests;                                         /* request fees charged: 0 or 1 */
} bl_quantities_t;

/* Exact cost in units; the one rounding is audio (price per second × ms / 1000, half up). */
bl_i128_t bl_dec_cost(const bl_prices_t *p, const bl_quantities_t *q);

/* Writes v (units, >= 0) as a decimal string without trailing fractional zeros ("0", "12.5",
 * "0.000008"). Needs at most 42 bytes; returns the length. */
size_t bl_dec_format(bl_i128_t v, char *buf, size_t cap);

#endif
