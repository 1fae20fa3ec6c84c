/*
 * json.c — strict validator and zero-copy helpers behind infergate/json.h.
 *
 * Design:
 *  - ig_json_validate is an iterative state machine with a fixed-size stack of
 *    container kinds (IG_JSON_MAX_DEPTH bytes), so hostile nesting costs
 *    neither recursion nor heap.
 *  - Nearly every byte of a request body sits inside a string, so string
 *    bodies are scanned 16 bytes at a time (SSE2) or 8 (portable SWAR); only
 *    '"', '\\', control bytes and non-ASCII bytes take the slow path.
 *  - The helpers assume validated input but never trust it: every read is
 *    bounded by the end of the caller's span, and containers are skipped by
 *    counting brackets, not by recursion.
 *
 * Documented choices (the header leaves them open):
 *  - ig_json_object_get returns the LAST member with a matching key. RFC 8259
 *    leaves duplicates undefined; last-wins is what JSON.parse, Python's json
 *    and Go's encoding/json do, so the gateway sees the same "model" as the
 *    backend it forwards the body to.
 *  - ig_json_path: a missing member or an out-of-range index gives 0; stepping
 *    into a scalar, a non-numeric segment on an array, or an empty segment
 *    ("a..b", trailing '.') gives -1. "" names the root itself. Keys that
 *    contain '.' cannot be addressed.
 *  - ig_json_int64 / ig_json_double / ig_json_bool judge the value by its span,
 *    not by its type field. ig_json_double returns -1 when the number is out
 *    of double range (would be +-inf); underflow rounds to 0 or a subnormal.
 *  - ig_json_string_unescape: the decoded text is never longer than
 *    v->len - 2, so that is always a sufficient cap. When buf is too small it
 *    returns -1 but still sets *outlen to the length needed; the contents of
 *    buf are then unspecified.
 *  - ig_json_escape passes valid UTF-8 through unchanged and replaces each
 *    byte that is not part of a well-formed UTF-8 sequence (RFC 3629: no
 *    overlongs, no surrogates, nothing above U+10FFFF) with the escape
 *    \ufffd, so the output is valid JSON for any input. It escapes '"', '\\'
 *    and C0 controls (\b \f \n \r \t, others as \u00XX); '/' and DEL are left
 *    alone. s == NULL is treated as an empty string.
 */
#include "infergate/json.h"
#include "util/json.h"
#include "util/hex.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* IG_JSON_PORTABLE forces the plain-C scanners (used to test them on x86). */
#if defined(__SSE2__) && !defined(IG_JSON_PORTABLE)
#include <emmintrin.h>
#define IG_JSON_SSE2 1
#endif

#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && !defined(IG_JSON_PORTABLE_BYTES)
#define IG_JSON_SWAR_LE 1
#endif

#if defined(__GNUC__)
#define IG_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define IG_COLD __attribute__((cold, noinline))
#else
#define IG_UNLIKELY(x) (x)
#define IG_COLD
#endif

/* ------------------------------------------------------------------------ */
/* Byte classes                                                             */
/* ------------------------------------------------------------------------ */

/* JSON whitespace: space, tab, LF, CR (nothing else, not even VT or FF). */
static const unsigned char ig_json_ws[256] = {
    ['\t'] = 1, ['\n'] = 1, ['\r'] = 1, [' '] = 1,
};

static inline const char *ig_json_skip_ws(const char *p, const char *e)
{
    while (p < e && ig_json_ws[(unsigned char)*p])
        p++;
    return p;
}

static inline int ig_json_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Four hex digits at p (caller guarantees 4 readable bytes); -1 if not hex. */
static long ig_json_hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int d = ig_hex_digit(p[i]);
        if (d < 0)
            return -1;
        v = (v << 4) | d;
    }
    return v;
}

/*
 * Length (1..4) of the well-formed UTF-8 sequence at p per RFC 3629 table 3-7
 * (no overlongs, no surrogates, max U+10FFFF), or 0 if ill-formed/truncated.
 */
static size_t ig_json_utf8_len(const unsigned char *p, size_t avail)
{
    unsigned c = p[0];
    unsigned lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c < 0xC2)                   /* stray continuation or overlong lead */
        return 0;
    if (c < 0xE0)
        return (avail >= 2 && (p[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (c == 0xE0) lo = 0xA0;   /* overlong */
        if (c == 0xED) hi = 0x9F;   /* UTF-16 surrogates */
        if (avail < 3 || p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80)
            return 0;
        return 3;
    }
    if (c < 0xF5) {
        if (c == 0xF0) lo = 0x90;   /* overlong */
        if (c == 0xF4) hi = 0x8F;   /* above U+10FFFF */
        if (avail < 4 || p[1] < lo || p[1] > hi ||
            (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

static size_t ig_json_utf8_encode(unsigned long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ------------------------------------------------------------------------ */
/* Block scanners: skip bytes that need no attention, many at a time        */
/* ------------------------------------------------------------------------ */

/* Bytes that end a plain run inside a string: '"', '\\', < 0x20, >= 0x80. */
static inline int ig_json_str_special(unsigned char c)
{
    return c < 0x20 || c >= 0x80 || c == '"' || c == '\\';
}

#if !defined(IG_JSON_SSE2)
#define IG_ONES  0x0101010101010101ULL
#define IG_HIGHS 0x8080808080808080ULL

static inline uint64_t ig_json_load64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x);
    return x;
}

/* High bit set in each byte position that is zero (exact for the lowest one). */
static inline uint64_t ig_json_zero_bytes(uint64_t x)
{
    return (x - IG_ONES) & ~x & IG_HIGHS;
}
#endif

/* Advances p over plain string bytes (see ig_json_str_special). */
static inline const char *ig_json_skip_plain(const char *p, const char *e)
{
#if defined(IG_JSON_SSE2)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    const __m128i space = _mm_set1_epi8(0x20);
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* Signed compare: bytes >= 0x80 are negative, so "< 0x20" also
         * catches every non-ASCII byte. */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                              _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmplt_epi8(x, space));
        int bits = _mm_movemask_epi8(m);
        if (bits)
            return p + __builtin_ctz((unsigned)bits);
        p += 16;
    }
#else
    while (e - p >= 8) {
        uint64_t x = ig_json_load64(p);
        uint64_t m = ig_json_zero_bytes(x ^ (IG_ONES * '"')) |
                     ig_json_zero_bytes(x ^ (IG_ONES * '\\')) |
                     ((x - IG_ONES * 0x20) & ~x & IG_HIGHS) | (x & IG_HIGHS);
        if (m) {
#if defined(IG_JSON_SWAR_LE)
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
#endif
    while (p < e && !ig_json_str_special((unsigned char)*p))
        p++;
    return p;
}

/* Advances p to the next '"' or '\\' (or e). Used on trusted input. */
static inline const char *ig_json_find_quote_or_bslash(const char *p, const char *e)
{
#if defined(IG_JSON_SSE2)
    const __m128i quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    while (e - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        int bits = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, quote),
                                                  _mm_cmpeq_epi8(x, bslash)));
        if (bits)
            return p + __builtin_ctz((unsigned)bits);
        p += 16;
    }
#else
    while (e - p >= 8) {
        uint64_t x = ig_json_load64(p);
        uint64_t m = ig_json_zero_bytes(x ^ (IG_ONES * '"')) |
                     ig_json_zero_bytes(x ^ (IG_ONES * '\\'));
        if (m) {
#if defined(IG_JSON_SWAR_LE)
            return p + (__builtin_ctzll(m) >> 3);
#else
            break;
#endif
        }
        p += 8;
    }
#endif
    while (p < e && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* ------------------------------------------------------------------------ */
/* Validation                                                               */
/* ------------------------------------------------------------------------ */

/* Records "<what> at byte N" and returns -1. Cold: only runs on bad input. */
static IG_COLD int ig_json_fail(ig_json_error_t *err, const char *base,
                                const char *at, const char *fmt, ...)
{
    char what[80];
    va_list ap;

    if (!err)
        return -1;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    err->offset = (size_t)(at - base);
    snprintf(err->msg, sizeof err->msg, "%s at byte %zu", what, err->offset);
    return -1;
}

/* Describes an unexpected byte: printable ASCII quoted, anything else in hex. */
static IG_COLD int ig_json_fail_byte(ig_json_error_t *err, const char *base,
                                     const char *at, const char *expected)
{
    unsigned char c = (unsigned char)*at;

    if (c > 0x20 && c < 0x7F)
        return ig_json_fail(err, base, at, "unexpected '%c', %s", c, expected);
    return ig_json_fail(err, base, at, "unexpected byte 0x%02X, %s", c, expected);
}

/* Checks one escape at p ('\\'); returns the byte after it or NULL. */
static const char *ig_json_check_escape(const char *p, const char *e,
                                        const char *base, ig_json_error_t *err)
{
    long cp, lo;

    if (e - p < 2) {
        ig_json_fail(err, base, e, "unterminated escape sequence in string");
        return NULL;
    }
    switch (p[1]) {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        return p + 2;
    case 'u':
        break;
    default:
        if ((unsigned char)p[1] > 0x20 && (unsigned char)p[1] < 0x7F)
            ig_json_fail(err, base, p, "invalid escape '\\%c' in string", p[1]);
        else
            ig_json_fail(err, base, p, "invalid escape (byte 0x%02X after '\\') in string",
                         (unsigned char)p[1]);
        return NULL;
    }
    if (e - p < 6 || (cp = ig_json_hex4(p + 2)) < 0) {
        ig_json_fail(err, base, p, "\\u escape needs 4 hex digits");
        return NULL;
    }
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        ig_json_fail(err, base, p, "lone low surrogate \\u%04lX in string", cp);
        return NULL;
    }
    if (cp < 0xD800 || cp > 0xDBFF)
        return p + 6;
    /* A high surrogate must be followed directly by an escaped low one. */
    if (e - p < 12 || p[6] != '\\' || p[7] != 'u' ||
        (lo = ig_json_hex4(p + 8)) < 0xDC00 || lo > 0xDFFF) {
        ig_json_fail(err, base, p, "high surrogate \\u%04lX not followed by a low surrogate", cp);
        return NULL;
    }
    return p + 12;
}

/* Validates a string body; p is just past the opening quote at open. */
static const char *ig_json_check_string(const char *p, const char *e, const char *open,
                                        const char *base, ig_json_error_t *err)
{
    for (;;) {
        p = ig_json_skip_plain(p, e);
        if (IG_UNLIKELY(p == e)) {
            ig_json_fail(err, base, e, "unterminated string (opened at byte %zu)",
                         (size_t)(open - base));
            return NULL;
        }
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c == '\\') {
            p = ig_json_check_escape(p, e, base, err);
            if (!p)
                return NULL;
        } else if (c < 0x20) {
            ig_json_fail(err, base, p, "unescaped control character 0x%02X in string", c);
            return NULL;
        } else {
            /* Non-ASCII: consume the whole run so CJK text stays in this loop. */
            do {
                size_t k = ig_json_utf8_len((const unsigned char *)p, (size_t)(e - p));
                if (!k) {
                    ig_json_fail(err, base, p, "invalid UTF-8 (byte 0x%02X) in string",
                                 (unsigned char)*p);
                    return NULL;
                }
                p += k;
            } while (p < e && (unsigned char)*p >= 0x80);
        }
    }
}

/* Validates a number starting at p ('-' or digit); returns the byte after it. */
static const char *ig_json_check_number(const char *p, const char *e,
                                        const char *base, ig_json_error_t *err)
{
    if (*p == '-') {
        p++;
        if (p == e || !ig_json_is_digit(*p)) {
            ig_json_fail(err, base, p, "expected a digit after '-'");
            return NULL;
        }
    }
    if (*p == '0') {
        if (p + 1 < e && ig_json_is_digit(p[1])) {
            ig_json_fail(err, base, p, "leading zero in number");
            return NULL;
        }
        p++;
    } else {
        while (p < e && ig_json_is_digit(*p))
            p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (p == e || !ig_json_is_digit(*p)) {
            ig_json_fail(err, base, p, "expected a digit after '.' in number");
            return NULL;
        }
        while (p < e && ig_json_is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p == e || !ig_json_is_digit(*p)) {
            ig_json_fail(err, base, p, "expected a digit in number exponent");
            return NULL;
        }
        while (p < e && ig_json_is_digit(*p))
            p++;
    }
    return p;
}

/* Checks that the literal word (true/false/null) is at p. */
static const char *ig_json_check_literal(const char *p, const char *e, const char *word,
                                         size_t len, const char *base, ig_json_error_t *err)
{
    if ((size_t)(e - p) < len || memcmp(p, word, len) != 0) {
        ig_json_fail(err, base, p, "invalid literal (expected '%s')", word);
        return NULL;
    }
    return p + len;
}

/* Parses `"key" ws ':' ws` at p; returns the byte after it or NULL. */
static const char *ig_json_check_key(const char *p, const char *e, const char *base,
                                     ig_json_error_t *err, const char *expected)
{
    if (p == e) {
        ig_json_fail(err, base, p, "unexpected end of input, %s", expected);
        return NULL;
    }
    if (*p != '"') {
        ig_json_fail_byte(err, base, p, expected);
        return NULL;
    }
    p = ig_json_check_string(p + 1, e, p, base, err);
    if (!p)
        return NULL;
    p = ig_json_skip_ws(p, e);
    if (p == e || *p != ':') {
        ig_json_fail(err, base, p, "expected ':' after object key");
        return NULL;
    }
    return ig_json_skip_ws(p + 1, e);
}

int ig_json_validate(const char *s, size_t n, ig_json_error_t *err)
{
    /* Kind of each open container, '{' or '['; depth counts the open ones. */
    unsigned char stack[IG_JSON_MAX_DEPTH];
    size_t depth = 0;
    const char *p, *e;

    if (err) {
        err->offset = 0;
        err->msg[0] = '\0';
    }
    if (!s) {
        if (err)
            snprintf(err->msg, sizeof err->msg, "%s at byte 0",
                     n ? "NULL buffer" : "empty input, expected a JSON value");
        return -1;
    }
    e = s + n;
    if (n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
        return ig_json_fail(err, s, s, "UTF-8 byte order mark is not allowed");
    p = ig_json_skip_ws(s, e);
    if (p == e)
        return ig_json_fail(err, s, p, n ? "expected a JSON value, found only whitespace"
                                         : "empty input, expected a JSON value");

    /* A goto state machine: `value` expects a value at p, `after` has just
     * finished one and decides what may follow from the enclosing container. */
value:
    if (IG_UNLIKELY(p == e))
        return ig_json_fail(err, s, p, "unexpected end of input, expected a value");
    switch (*p) {
    case '"':
        p = ig_json_check_string(p + 1, e, p, s, err);
        break;
    case '{':
    case '[':
        if (IG_UNLIKELY(depth == IG_JSON_MAX_DEPTH))
            return ig_json_fail(err, s, p, "nesting deeper than %d levels", IG_JSON_MAX_DEPTH);
        stack[depth++] = (unsigned char)*p;
        if (*p == '[') {
            p = ig_json_skip_ws(p + 1, e);
            if (p < e && *p == ']') {
                p++;
                depth--;
                goto after;
            }
            goto value;
        }
        p = ig_json_skip_ws(p + 1, e);
        if (p < e && *p == '}') {
            p++;
            depth--;
            goto after;
        }
        p = ig_json_check_key(p, e, s, err, "expected a string key or '}'");
        if (!p)
            return -1;
        goto value;
    case '-': case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
        p = ig_json_check_number(p, e, s, err);
        break;
    case 't':
        p = ig_json_check_literal(p, e, "true", 4, s, err);
        break;
    case 'f':
        p = ig_json_check_literal(p, e, "false", 5, s, err);
        break;
    case 'n':
        p = ig_json_check_literal(p, e, "null", 4, s, err);
        break;
    default:
        return ig_json_fail_byte(err, s, p, "expected a value");
    }
    if (!p)
        return -1;

after:
    p = ig_json_skip_ws(p, e);
    if (depth == 0) {
        if (p != e)
            return ig_json_fail_byte(err, s, p, "expected end of input after the value");
        return 0;
    }
    if (stack[depth - 1] == '{') {
        if (p < e && *p == ',') {
            p = ig_json_skip_ws(p + 1, e);
            if (p < e && *p == '}')
                return ig_json_fail(err, s, p, "trailing comma before '}'");
            p = ig_json_check_key(p, e, s, err, "expected a string key after ','");
            if (!p)
                return -1;
            goto value;
        }
        if (p < e && *p == '}') {
            p++;
            depth--;
            goto after;
        }
        if (p == e)
            return ig_json_fail(err, s, p, "unexpected end of input, expected ',' or '}'");
        return ig_json_fail_byte(err, s, p, "expected ',' or '}' after object member");
    }
    if (p < e && *p == ',') {
        p = ig_json_skip_ws(p + 1, e);
        if (p < e && *p == ']')
            return ig_json_fail(err, s, p, "trailing comma before ']'");
        goto value;
    }
    if (p < e && *p == ']') {
        p++;
        depth--;
        goto after;
    }
    if (p == e)
        return ig_json_fail(err, s, p, "unexpected end of input, expected ',' or ']'");
    return ig_json_fail_byte(err, s, p, "expected ',' or ']' after array element");
}

/* ------------------------------------------------------------------------ */
/* Skipping values on trusted input (bounded, non-recursive)                */
/* ------------------------------------------------------------------------ */

/* p at the opening quote; returns the byte after the closing quote or NULL. */
static const char *ig_json_skip_string(const char *p, const char *e)
{
    p++;
    for (;;) {
        p = ig_json_find_quote_or_bslash(p, e);
        if (p == e)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (e - p < 2)      /* a backslash needs the byte it escapes */
            return NULL;
        p += 2;             /* \uXXXX: the hex digits are plain bytes */
    }
}

/* Bracket classes for skipping containers: 1 string, 2 open, 3 close. */
static const unsigned char ig_json_bracket[256] = {
    ['"'] = 1, ['{'] = 2, ['['] = 2, ['}'] = 3, [']'] = 3,
};

/* p at '{' or '['; counts brackets outside strings (kinds are not matched:
 * the input is trusted, this only has to stay in bounds and terminate). */
static const char *ig_json_skip_container(const char *p, const char *e)
{
    size_t depth = 0;

    while (p < e) {
        switch (ig_json_bracket[(unsigned char)*p]) {
        case 1:
            p = ig_json_skip_string(p, e);
            if (!p)
                return NULL;
            continue;
        case 2:
            depth++;
            break;
        case 3:
            if (--depth == 0)
                return p + 1;
            break;
        default:
            break;
        }
        p++;
    }
    return NULL;
}

static int ig_json_is_number_byte(char c)
{
    return ig_json_is_digit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

/* p < e at a non-whitespace byte; returns the end of the value there or NULL. */
static const char *ig_json_skip_value(const char *p, const char *e, ig_json_type_t *type)
{
    switch (*p) {
    case '"':
        *type = IG_JSON_STRING;
        return ig_json_skip_string(p, e);
    case '{':
        *type = IG_JSON_OBJECT;
        return ig_json_skip_container(p, e);
    case '[':
        *type = IG_JSON_ARRAY;
        return ig_json_skip_container(p, e);
    case 't':
        *type = IG_JSON_TRUE;
        return (e - p >= 4 && memcmp(p, "true", 4) == 0) ? p + 4 : NULL;
    case 'f':
        *type = IG_JSON_FALSE;
        return (e - p >= 5 && memcmp(p, "false", 5) == 0) ? p + 5 : NULL;
    case 'n':
        *type = IG_JSON_NULL;
        return (e - p >= 4 && memcmp(p, "null", 4) == 0) ? p + 4 : NULL;
    default:
        if (*p != '-' && !ig_json_is_digit(*p))
            return NULL;
        *type = IG_JSON_NUMBER;
        while (p < e && ig_json_is_number_byte(*p))
            p++;
        return p;
    }
}

static void ig_json_set_value(ig_json_value_t *v, ig_json_type_t type, const char *ptr, size_t len)
{
    if (v) {
        v->type = type;
        v->ptr = ptr;
        v->len = len;
    }
}

int ig_json_parse_value(const char *s, size_t n, ig_json_value_t *out)
{
    const char *p, *e, *end;
    ig_json_type_t type = IG_JSON_INVALID;

    ig_json_set_value(out, IG_JSON_INVALID, NULL, 0);
    if (!s || !out)
        return -1;
    e = s + n;
    p = ig_json_skip_ws(s, e);
    if (p == e)
        return -1;
    end = ig_json_skip_value(p, e, &type);
    if (!end)
        return -1;
    ig_json_set_value(out, type, p, (size_t)(end - p));
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Iteration, lookup, paths                                                 */
/* ------------------------------------------------------------------------ */

/* it->done: 0 iterating, 1 finished, -1 malformed (every later call fails). */
enum { IG_ITER_RUNNING = 0, IG_ITER_DONE = 1, IG_ITER_BROKEN = -1 };

int ig_json_iter_init(ig_json_iter_t *it, const ig_json_value_t *c)
{
    char open, close;

    if (!it)
        return -1;
    it->cur = it->end = NULL;
    it->is_object = 0;
    it->done = IG_ITER_BROKEN;
    if (!c || !c->ptr || c->len < 2)
        return -1;
    open = c->ptr[0];
    close = c->ptr[c->len - 1];
    if (c->type == IG_JSON_OBJECT && open == '{' && close == '}')
        it->is_object = 1;
    else if (!(c->type == IG_JSON_ARRAY && open == '[' && close == ']'))
        return -1;
    it->cur = c->ptr + 1;
    it->end = c->ptr + c->len - 1;
    it->done = IG_ITER_RUNNING;
    return 0;
}

static int ig_json_iter_broken(ig_json_iter_t *it)
{
    it->done = IG_ITER_BROKEN;
    return -1;
}

int ig_json_iter_next(ig_json_iter_t *it, ig_json_value_t *key, ig_json_value_t *val)
{
    const char *p, *e, *end;
    ig_json_type_t type = IG_JSON_INVALID;

    ig_json_set_value(key, IG_JSON_INVALID, NULL, 0);
    ig_json_set_value(val, IG_JSON_INVALID, NULL, 0);
    if (!it)
        return -1;
    if (it->done != IG_ITER_RUNNING)
        return it->done == IG_ITER_DONE ? 0 : -1;
    e = it->end;
    p = ig_json_skip_ws(it->cur, e);
    if (p == e) {
        it->done = IG_ITER_DONE;
        return 0;
    }
    if (it->is_object) {
        if (*p != '"' || !(end = ig_json_skip_string(p, e)))
            return ig_json_iter_broken(it);
        ig_json_set_value(key, IG_JSON_STRING, p, (size_t)(end - p));
        p = ig_json_skip_ws(end, e);
        if (p == e || *p != ':')
            return ig_json_iter_broken(it);
        p = ig_json_skip_ws(p + 1, e);
        if (p == e)
            return ig_json_iter_broken(it);
    }
    end = ig_json_skip_value(p, e, &type);
    if (!end)
        return ig_json_iter_broken(it);
    ig_json_set_value(val, type, p, (size_t)(end - p));

    /* Consume the separator now; anything else is reported on the next call
     * so this (well-formed) member is still delivered. */
    p = ig_json_skip_ws(end, e);
    if (p < e && *p == ',')
        p++;
    else if (p < e)
        it->done = IG_ITER_BROKEN;
    it->cur = p;
    return 1;
}

int ig_json_object_get(const ig_json_value_t *obj, const char *key, size_t keylen,
                       ig_json_value_t *out)
{
    ig_json_iter_t it;
    ig_json_value_t k, v, found;
    int r, hit = 0;

    ig_json_set_value(&found, IG_JSON_INVALID, NULL, 0);
    if (!obj || obj->type != IG_JSON_OBJECT || (!key && keylen))
        goto fail;
    if (ig_json_iter_init(&it, obj) < 0)
        goto fail;
    /* Last match wins, like the backends we forward to (see top of file). */
    while ((r = ig_json_iter_next(&it, &k, &v)) == 1) {
        if (ig_json_string_eq(&k, key, keylen)) {
            found = v;
            hit = 1;
        }
    }
    if (r < 0)
        goto fail;
    if (out)
        *out = found;
    return hit;
fail:
    ig_json_set_value(out, IG_JSON_INVALID, NULL, 0);
    return -1;
}

/* Element idx (decimal digits in seg) of an array: 1 found, 0 out of range, -1 malformed. */
static int ig_json_array_at(const ig_json_value_t *arr, const char *seg, size_t len,
                            ig_json_value_t *out)
{
    ig_json_iter_t it;
    size_t idx = 0;
    int r;

    for (size_t i = 0; i < len; i++) {
        if (!ig_json_is_digit(seg[i]))
            return -1;
        if (idx > (SIZE_MAX - 9) / 10)
            return 0;               /* larger than any array can be */
        idx = idx * 10 + (size_t)(seg[i] - '0');
    }
    if (ig_json_iter_init(&it, arr) < 0)
        return -1;
    while ((r = ig_json_iter_next(&it, NULL, out)) == 1) {
        if (idx-- == 0)
            return 1;
    }
    return r;
}

int ig_json_path(const ig_json_value_t *root, const char *path, ig_json_value_t *out)
{
    ig_json_value_t cur, next;
    const char *seg, *dot;

    ig_json_set_value(&next, IG_JSON_INVALID, NULL, 0);
    if (!root || !path) {
        ig_json_set_value(out, IG_JSON_INVALID, NULL, 0);
        return -1;
    }
    cur = *root;
    seg = *path ? path : NULL;      /* "" names the root itself */
    while (seg) {
        size_t len;
        int r;

        dot = strchr(seg, '.');
        len = dot ? (size_t)(dot - seg) : strlen(seg);
        if (len == 0)
            r = -1;
        else if (cur.type == IG_JSON_OBJECT)
            r = ig_json_object_get(&cur, seg, len, &next);
        else if (cur.type == IG_JSON_ARRAY)
            r = ig_json_array_at(&cur, seg, len, &next);
        else
            r = -1;
        if (r != 1) {
            ig_json_set_value(out, IG_JSON_INVALID, NULL, 0);
            return r;
        }
        cur = next;
        seg = dot ? dot + 1 : NULL;
    }
    if (out)
        *out = cur;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                  */
/* ------------------------------------------------------------------------ */

static int ig_json_span_ok(const ig_json_value_t *v)
{
    return v && v->ptr && v->len > 0;
}

int ig_json_int64(const ig_json_value_t *v, int64_t *out)
{
    const char *p, *e;
    uint64_t mag = 0, limit = (uint64_t)INT64_MAX;
    int neg = 0;

    if (!ig_json_span_ok(v))
        return -1;
    p = v->ptr;
    e = p + v->len;
    if (*p == '-') {
        neg = 1;
        limit = (uint64_t)INT64_MAX + 1;
        p++;
    }
    if (p == e || (*p == '0' && e - p > 1))     /* no digits / leading zero */
        return -1;
    for (; p < e; p++) {
        unsigned d;
        if (!ig_json_is_digit(*p))
            return -1;                          /* fraction, exponent, junk */
        d = (unsigned)(*p - '0');
        if (mag > (limit - d) / 10)
            return -1;                          /* overflow */
        mag = mag * 10 + d;
    }
    if (out) {
        if (!neg)
            *out = (int64_t)mag;
        else if (mag == (uint64_t)INT64_MAX + 1)
            *out = INT64_MIN;
        else
            *out = -(int64_t)mag;
    }
    return 0;
}

#if FLT_EVAL_METHOD == 0
/* Powers of ten that are exact doubles (10^22 is the largest). */
static const double ig_json_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};
#endif

/* Significant digits handed to strtod: 768 decide any double's rounding,
 * one more carries a "something non-zero was dropped" sticky digit. */
#define IG_JSON_MAX_SIG 768
/* Exponents are saturated far beyond any span's digit count so the
 * arithmetic below cannot overflow yet still saturates to 0 or inf. */
#define IG_JSON_EXP_CAP 1000000000000000LL

int ig_json_double(const ig_json_value_t *v, double *out)
{
    char buf[IG_JSON_MAX_SIG + 32];
    const char *p, *e, *int_start, *int_end, *frac_start = NULL, *frac_end = NULL;
    long long exp10 = 0, nfrac = 0;
    size_t nsig = 0, ndropped = 0;
    uint64_t mant = 0;
    int neg = 0, sticky = 0;
    double d;

    if (!ig_json_span_ok(v))
        return -1;
    p = v->ptr;
    e = p + v->len;

    /* Grammar first: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? and nothing else. */
    if (*p == '-') {
        neg = 1;
        p++;
    }
    int_start = p;
    while (p < e && ig_json_is_digit(*p))
        p++;
    int_end = p;
    if (int_end == int_start || (*int_start == '0' && int_end - int_start > 1))
        return -1;
    if (p < e && *p == '.') {
        frac_start = ++p;
        while (p < e && ig_json_is_digit(*p))
            p++;
        frac_end = p;
        if (frac_end == frac_start)
            return -1;
        nfrac = (long long)(frac_end - frac_start);
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        const char *exp_start;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            eneg = (*p++ == '-');
        exp_start = p;
        for (; p < e && ig_json_is_digit(*p); p++) {
            if (exp10 < IG_JSON_EXP_CAP)
                exp10 = exp10 * 10 + (*p - '0');
        }
        if (p == exp_start)
            return -1;
        if (eneg)
            exp10 = -exp10;
    }
    if (p != e)
        return -1;

    /* Collect significant digits (leading zeros dropped) of int ++ frac. */
    for (int part = 0; part < 2; part++) {
        const char *q = part ? frac_start : int_start;
        const char *qe = part ? frac_end : int_end;
        for (; q && q < qe; q++) {
            if (nsig == 0 && *q == '0')
                continue;
            if (nsig < IG_JSON_MAX_SIG) {
                if (nsig < 19)
                    mant = mant * 10 + (uint64_t)(*q - '0');
                buf[nsig++] = *q;
            } else {
                ndropped++;
                sticky |= (*q != '0');
            }
        }
    }
    if (nsig == 0) {
        if (out)
            *out = neg ? -0.0 : 0.0;
        return 0;
    }
    /* value = digits * 10^e10 */
    long long e10 = exp10 - nfrac + (long long)ndropped;

#if FLT_EVAL_METHOD == 0
    /* Clinger's fast path: both operands exact, so one IEEE operation rounds
     * correctly. Covers nearly every number a request carries. */
    if (nsig <= 19 && mant <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        d = (double)mant;
        d = e10 < 0 ? d / ig_json_pow10[-e10] : d * ig_json_pow10[e10];
        if (out)
            *out = neg ? -d : d;
        return 0;
    }
#endif
    if (sticky) {
        buf[nsig++] = '1';
        e10--;
    }
    /* Integer mantissa plus exponent: no radix character, so strtod's result
     * does not depend on the current locale. */
    if (e10 > 100000) e10 = 100000;
    if (e10 < -100000) e10 = -100000;
    snprintf(buf + nsig, sizeof buf - nsig, "e%lld", e10);
    d = strtod(buf, NULL);
    if (isinf(d))
        return -1;
    if (out)
        *out = neg ? -d : d;
    return 0;
}

int ig_json_bool(const ig_json_value_t *v, int *out)
{
    int b;

    if (!ig_json_span_ok(v))
        return -1;
    if (v->len == 4 && memcmp(v->ptr, "true", 4) == 0)
        b = 1;
    else if (v->len == 5 && memcmp(v->ptr, "false", 5) == 0)
        b = 0;
    else
        return -1;
    if (out)
        *out = b;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

/* The inner bytes of a string span, or 0 if v is not a quoted span. */
static int ig_json_string_inner(const ig_json_value_t *v, const char **p, const char **e)
{
    if (!v || !v->ptr || v->len < 2 || v->ptr[0] != '"' || v->ptr[v->len - 1] != '"')
        return 0;
    *p = v->ptr + 1;
    *e = v->ptr + v->len - 1;
    return 1;
}

/* Decodes the escape at p ('\\') into out (up to 4 bytes); NULL if malformed. */
static const char *ig_json_decode_escape(const char *p, const char *e, char *out, size_t *k)
{
    long cp, lo;

    if (e - p < 2)
        return NULL;
    *k = 1;
    switch (p[1]) {
    case '"':  out[0] = '"';  return p + 2;
    case '\\': out[0] = '\\'; return p + 2;
    case '/':  out[0] = '/';  return p + 2;
    case 'b':  out[0] = '\b'; return p + 2;
    case 'f':  out[0] = '\f'; return p + 2;
    case 'n':  out[0] = '\n'; return p + 2;
    case 'r':  out[0] = '\r'; return p + 2;
    case 't':  out[0] = '\t'; return p + 2;
    case 'u':  break;
    default:   return NULL;
    }
    if (e - p < 6 || (cp = ig_json_hex4(p + 2)) < 0)
        return NULL;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return NULL;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (e - p < 12 || p[6] != '\\' || p[7] != 'u' ||
            (lo = ig_json_hex4(p + 8)) < 0xDC00 || lo > 0xDFFF)
            return NULL;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        *k = ig_json_utf8_encode((unsigned long)cp, out);
        return p + 12;
    }
    *k = ig_json_utf8_encode((unsigned long)cp, out);
    return p + 6;
}

int ig_json_string_unescape(const ig_json_value_t *v, char *buf, size_t cap, size_t *outlen)
{
    const char *p, *e;
    size_t o = 0;
    int fits = 1;

    if (outlen)
        *outlen = 0;
    if (!ig_json_string_inner(v, &p, &e))
        return -1;
    if (!buf)
        cap = 0;
    while (p < e) {
        const char *bs = memchr(p, '\\', (size_t)(e - p));
        size_t run = (size_t)((bs ? bs : e) - p);
        char tmp[4];
        size_t k;

        if (fits && run <= cap - o) {
            if (run)
                memcpy(buf + o, p, run);
        } else {
            fits = 0;
        }
        o += run;
        if (!bs)
            break;
        p = ig_json_decode_escape(bs, e, tmp, &k);
        if (!p)
            return -1;
        if (fits && k <= cap - o)
            memcpy(buf + o, tmp, k);
        else
            fits = 0;
        o += k;
    }
    if (outlen)
        *outlen = o;
    if (!fits)
        return -1;
    if (o < cap)
        buf[o] = '\0';
    return 0;
}

int ig_json_unescape_prefix(const char *s, size_t n, char *buf, size_t cap, size_t *outlen)
{
    const char *p = s, *e = s + n;
    size_t o = 0;
    int rc = 0;

    while (p < e && o < cap) {
        const char *bs = memchr(p, '\\', (size_t)(e - p));
        size_t run = (size_t)((bs ? bs : e) - p);
        char tmp[4];
        size_t k;

        if (run > cap - o) {
            /* the buffer ends inside this run: cut before the character that does not fit whole */
            run = cap - o;
            while (run > 0 && ((unsigned char)p[run] & 0xC0) == 0x80)
                run--;
            memcpy(buf + o, p, run);
            o += run;
            break;
        }
        if (run)
            memcpy(buf + o, p, run);
        o += run;
        if (!bs)
            break;
        p = ig_json_decode_escape(bs, e, tmp, &k);
        if (!p) {
            rc = -1;
            break;
        }
        if (k > cap - o)
            break;
        memcpy(buf + o, tmp, k);
        o += k;
    }
    if (outlen)
        *outlen = o;
    return rc;
}

int ig_json_string_eq(const ig_json_value_t *v, const char *s, size_t n)
{
    const char *p, *e;
    size_t o = 0;

    if (!ig_json_string_inner(v, &p, &e) || (!s && n))
        return 0;
    /* Decoding never lengthens text, so a longer s cannot match. */
    if (n > (size_t)(e - p))
        return 0;
    while (p < e) {
        const char *bs = memchr(p, '\\', (size_t)(e - p));
        size_t run = (size_t)((bs ? bs : e) - p);
        char tmp[4];
        size_t k;

        if (run > n - o || (run && memcmp(p, s + o, run) != 0))
            return 0;
        o += run;
        if (!bs)
            break;
        p = ig_json_decode_escape(bs, e, tmp, &k);
        if (!p || k > n - o || memcmp(tmp, s + o, k) != 0)
            return 0;
        o += k;
    }
    return o == n;
}

/* Short escapes for C0 controls; 0 means use \u00XX. */
static const char ig_json_short_escape[0x20] = {
    ['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r',
};

/* Emits k bytes when out is non-NULL; always counts them. */
static inline void ig_json_put(char *out, size_t *o, const char *src, size_t k)
{
    if (out)
        memcpy(out + *o, src, k);
    *o += k;
}

/* One routine both measures (out == NULL) and writes, so the two can't disagree. */
static size_t ig_json_escape_run(const char *s, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const char *p = s, *e = s + n;
    size_t o = 0;

    ig_json_put(out, &o, "\"", 1);
    while (p < e) {
        const char *q = ig_json_skip_plain(p, e);
        unsigned char c;

        ig_json_put(out, &o, p, (size_t)(q - p));
        p = q;
        if (p == e)
            break;
        c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            ig_json_put(out, &o, esc, 2);
            p++;
        } else if (c < 0x20) {
            if (ig_json_short_escape[c]) {
                char esc[2] = { '\\', ig_json_short_escape[c] };
                ig_json_put(out, &o, esc, 2);
            } else {
                char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
                ig_json_put(out, &o, esc, 6);
            }
            p++;
        } else {
            size_t k = ig_json_utf8_len((const unsigned char *)p, (size_t)(e - p));
            if (k) {
                ig_json_put(out, &o, p, k);
                p += k;
            } else {
                ig_json_put(out, &o, "\\ufffd", 6);
                p++;
            }
        }
    }
    ig_json_put(out, &o, "\"", 1);
    return o;
}

size_t ig_json_escape(const char *s, size_t n, char *buf, size_t cap)
{
    size_t need;

    if (!s) {
        s = "";
        n = 0;
    }
    if (!buf)
        cap = 0;
    /* Every input byte grows to at most 6 output bytes: when the buffer is
     * that large, write in a single pass instead of measuring first. */
    if (n <= (SIZE_MAX - 2) / 6 && cap >= 6 * n + 2)
        return ig_json_escape_run(s, n, buf);
    need = ig_json_escape_run(s, n, NULL);
    if (need <= cap)
        ig_json_escape_run(s, n, buf);
    return need;
}

/* ------------------------------------------------------------------------ */

int ig_json_validate_value(const char *s, size_t n, ig_json_error_t *err, ig_json_value_t *out)
{
    if (ig_json_validate(s, n, err) != 0)
        return -1;
    /* valid: one value and nothing but whitespace around it, so trimming finds its span */
    const char *b = s, *e = s + n;
    while (b < e && (*b == ' ' || *b == '\t' || *b == '\n' || *b == '\r'))
        b++;
    while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        e--;
    ig_json_type_t t;
    switch (*b) {
    case '{': t = IG_JSON_OBJECT; break;
    case '[': t = IG_JSON_ARRAY; break;
    case '"': t = IG_JSON_STRING; break;
    case 't': t = IG_JSON_TRUE; break;
    case 'f': t = IG_JSON_FALSE; break;
    case 'n': t = IG_JSON_NULL; break;
    default: t = IG_JSON_NUMBER; break;
    }
    *out = (ig_json_value_t){t, b, (size_t)(e - b)};
    return 0;
}

const ig_json_api_t ig_json_api = {
    .size = sizeof(ig_json_api_t),
    .validate = ig_json_validate,
    .validate_value = ig_json_validate_value,
    .parse_value = ig_json_parse_value,
    .iter_init = ig_json_iter_init,
    .iter_next = ig_json_iter_next,
    .object_get = ig_json_object_get,
    .path = ig_json_path,
    .int64 = ig_json_int64,
    .dbl = ig_json_double,
    .boolean = ig_json_bool,
    .string_unescape = ig_json_string_unescape,
    .string_eq = ig_json_string_eq,
    .escape = ig_json_escape,
};
