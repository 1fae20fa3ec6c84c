/*
 * util/hex.h — hexadecimal digits: one digit's value, bytes from hex text and back.
 *
 * ig_hex_digit is inline: the HTTP/1.1 chunk-size parser and the JSON \u escapes call it per byte.
 */
#ifndef IG_UTIL_HEX_H
#define IG_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (either case), or -1. */
static inline int ig_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 2 * n hex digits (either case) at s into n bytes. 0, or -1 at a non-hex character (out is then partly written). */
int ig_hex_decode(const char *s, size_t n, uint8_t *out);

/* n bytes as 2 * n lowercase hex digits and a NUL: out holds 2 * n + 1 bytes. */
void ig_hex_encode(const uint8_t *in, size_t n, char *out);

#endif
