/*
 * util/url.h — percent-decoding (RFC 3986) of a path segment or a query value.
 */
#ifndef IG_UTIL_URL_H
#define IG_UTIL_URL_H

#include <stddef.h>

/* '+' decodes to a space, as in a form-encoded query (application/x-www-form-urlencoded). */
#define IG_URL_PLUS_SPACE 1u

/*
 * s[0..n) percent-decoded into out (cap bytes, NUL-terminated). 0 with *outlen (may be NULL), or -1:
 * a '%' not followed by two hex digits, a NUL in the result (it would cut the C string short), or no
 * room for the result and its NUL.
 */
int ig_url_decode(const char *s, size_t n, unsigned flags, char *out, size_t cap, size_t *outlen);

#endif
