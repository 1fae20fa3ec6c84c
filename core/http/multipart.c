#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include "http/multipart.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int fail(char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int span_ieq(const char *p, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (n != m)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)p[i]) != lit[i])
            return 0;
    return 1;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static int is_tchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

/* RFC 2046 bchars (space allowed, but not last). */
static int is_bchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c != 0 && strchr("'()+_,-./:=? ", c) != NULL);
}

/*
 * One `; key=value` parameter from p (at ';' or whitespace before it). The value is a token or a
 * quoted-string, returned without its quotes (escapes kept). Returns the position after it, NULL at
 * the end of input, or (const char *)-1 on a syntax error.
 */
#define PARAM_ERR ((const char *)-1)
static const char *next_param(const char *p, const char *end, ig_str_t *key, ig_str_t *val)
{
    while (p < end && is_ows(*p))
        p++;
    if (p == end)
        return NULL;
    if (*p != ';')
        return PARAM_ERR;
    p++;
    while (p < end && is_ows(*p))
        p++;
    if (p == end)
        return NULL; /* a trailing ';' is tolerated, as browsers and curl never send one anyway */
    const char *k = p;
    while (p < end && is_tchar((unsigned char)*p) && *p != '=')
        p++;
    if (p == k || p == end || *p != '=')
        return PARAM_ERR;
    *key = (ig_str_t){k, (size_t)(p - k)};
    p++;
    if (p < end && *p == '"') {
        const char *v = ++p;
        while (p < end && *p != '"') {
            if (*p == '\r' || *p == '\n')
                return PARAM_ERR;
            if (*p == '\\') {
                if (++p == end)
                    return PARAM_ERR;
            }
            p++;
        }
        if (p == end)
            return PARAM_ERR;
        *val = (ig_str_t){v, (size_t)(p - v)};
        return p + 1;
    }
    const char *v = p;
    while (p < end && is_tchar((unsigned char)*p))
        p++;
    if (p == v)
        return PARAM_ERR;
    *val = (ig_str_t){v, (size_t)(p - v)};
    return p;
}

int ig_multipart_boundary(const char *ct, size_t len, ig_str_t *boundary, char *msg, size_t cap)
{
    const char *p = ct, *end = ct + len;
    while (p < end && is_ows(*p))
        p++;
    const char *t = p;
    while (p < end && *p != ';' && !is_ows(*p))
        p++;
    if (!span_ieq(t, (size_t)(p - t), "multipart/form-data"))
        return 1;
    ig_str_t key, val;
    int found = 0;
    for (;;) {
        const char *q = next_param(p, end, &key, &val);
        if (q == NULL)
            break;
        if (q == PARAM_ERR)
            return fail(msg, cap, "the Content-Type header's parameters are malformed");
        p = q;
        if (span_ieq(key.ptr, key.len, "boundary")) {
            if (found)
                return fail(msg, cap, "the Content-Type header gives the boundary twice");
            found = 1;
            *boundary = val;
        }
    }
    if (!found)
        return fail(msg, cap, "the multipart/form-data Content-Type header has no boundary parameter");
    if (boundary->len == 0 || boundary->len > IG_MULTIPART_MAX_BOUNDARY || boundary->ptr[boundary->len - 1] == ' ')
        return fail(msg, cap, "the multipart boundary must be 1 to 70 characters, not ending in a space");
    for (size_t i = 0; i < boundary->len; i++)
        if (!is_bchar((unsigned char)boundary->ptr[i]))
            return fail(msg, cap, "the multipart boundary has a character RFC 2046 does not allow");
    return 0;
}

/* Does "--boundary" start at p? */
static int delimiter_at(const ig_multipart_iter_t *it, const char *p)
{
    return (size_t)(it->end - p) >= 2 + it->boundary.len && p[0] == '-' && p[1] == '-' &&
           memcmp(p + 2, it->boundary.ptr, it->boundary.len) == 0;
}

/* The next "\r\n--boundary" at or after p, or NULL. */
static const char *find_delimiter(const ig_multipart_iter_t *it, const char *p)
{
    size_t n = 4 + it->boundary.len;
    char pat[4 + IG_MULTIPART_MAX_BOUNDARY];
    memcpy(pat, "\r\n--", 4);
    memcpy(pat + 4, it->boundary.ptr, it->boundary.len);
    return memmem(p, (size_t)(it->end - p), pat, n);
}

int ig_multipart_init(ig_multipart_iter_t *it, const char *body, size_t len, ig_str_t boundary, char *msg, size_t cap)
{
    memset(it, 0, sizeof(*it));
    it->body = body;
    it->end = body + len;
    it->boundary = boundary;
    if (boundary.len == 0 || boundary.len > IG_MULTIPART_MAX_BOUNDARY)
        return fail(msg, cap, "invalid multipart boundary");
    if (len > 0 && delimiter_at(it, body)) {
        it->cur = body;
        return 0;
    }
    const char *d = len > 0 ? find_delimiter(it, body) : NULL;
    if (d == NULL)
        return fail(msg, cap, "the body does not contain the multipart boundary its Content-Type announces");
    it->cur = d + 2;
    return 0;
}

/* Parses Content-Disposition: form-data; name="..."[; filename="..."]. */
static int parse_disposition(const char *p, const char *end, ig_form_part_t *part, char *msg, size_t cap)
{
    while (p < end && is_ows(*p))
        p++;
    const char *t = p;
    while (p < end && *p != ';' && !is_ows(*p))
        p++;
    if (!span_ieq(t, (size_t)(p - t), "form-data"))
        return fail(msg, cap, "a part's Content-Disposition is not form-data");
    ig_str_t key, val;
    for (;;) {
        const char *q = next_param(p, end, &key, &val);
        if (q == NULL)
            break;
        if (q == PARAM_ERR)
            return fail(msg, cap, "a part's Content-Disposition parameters are malformed");
        p = q;
        if (span_ieq(key.ptr, key.len, "name")) {
            part->name = val; /* never NULL, even when empty: a quoted "" points past its quote */
        } else if (span_ieq(key.ptr, key.len, "filename")) {
            part->filename = val; /* filename="" still marks a file part */
        } else if (span_ieq(key.ptr, key.len, "filename*") && part->filename.ptr == NULL) {
            part->filename = val; /* RFC 5987 (utf-8''...): kept encoded, it marks a file all the same */
        }
    }
    return 0;
}

/* Header lines of one part, from p up to its blank line; *body_start is set after the blank line. */
static int parse_headers(const char *p, const char *end, ig_form_part_t *part, const char **body_start, char *msg,
                         size_t cap)
{
    const char *limit = (size_t)(end - p) > IG_MULTIPART_MAX_HEADERS ? p + IG_MULTIPART_MAX_HEADERS : end;
    int has_disposition = 0;
    for (;;) {
        const char *eol = memchr(p, '\r', (size_t)(limit - p));
        if (eol == NULL || eol + 1 >= end || eol[1] != '\n')
            return fail(msg, cap, limit < end ? "a part's headers are longer than %d bytes"
                                              : "a part's headers are not terminated by a blank line (CRLF CRLF)",
                        IG_MULTIPART_MAX_HEADERS);
        if (eol == p) {
            if (!has_disposition)
                return fail(msg, cap, "a part has no Content-Disposition header");
            if (part->name.ptr == NULL)
                return fail(msg, cap, "a part's Content-Disposition has no name parameter");
            *body_start = eol + 2;
            return 0;
        }
        if (is_ows(*p))
            return fail(msg, cap, "a part's header is folded over lines (obsolete and refused)");
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || colon == p)
            return fail(msg, cap, "a part's header line has no name");
        for (const char *c = p; c < colon; c++)
            if (!is_tchar((unsigned char)*c))
                return fail(msg, cap, "a part's header name has an invalid character");
        for (const char *c = colon + 1; c < eol; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                return fail(msg, cap, "a part's header value has a control character");
        const char *v = colon + 1, *ve = eol;
        while (v < ve && is_ows(*v))
            v++;
        while (ve > v && is_ows(ve[-1]))
            ve--;
        if (span_ieq(p, (size_t)(colon - p), "content-disposition")) {
            if (has_disposition)
                return fail(msg, cap, "a part has two Content-Disposition headers");
            has_disposition = 1;
            if (parse_disposition(v, ve, part, msg, cap) != 0)
                return -1;
        } else if (span_ieq(p, (size_t)(colon - p), "content-type")) {
            part->content_type = (ig_str_t){v, (size_t)(ve - v)};
        }
        p = eol + 2;
    }
}

int ig_multipart_next(ig_multipart_iter_t *it, ig_form_part_t *part, char *msg, size_t cap)
{
    if (it->cur == NULL)
        return 0;
    memset(part, 0, sizeof(*part));
    const char *p = it->cur + 2 + it->boundary.len;
    if (it->end - p >= 2 && p[0] == '-' && p[1] == '-') {
        it->cur = NULL; /* close delimiter: what follows is the epilogue */
        return 0;
    }
    while (p < it->end && is_ows(*p))
        p++; /* transport padding */
    if (it->end - p < 2 || p[0] != '\r' || p[1] != '\n')
        return fail(msg, cap, it->end - p < 2 ? "the body ends inside a multipart delimiter line"
                                              : "a multipart delimiter line is not followed by CRLF");
    const char *content = NULL;
    if (parse_headers(p + 2, it->end, part, &content, msg, cap) != 0)
        return -1;
    const char *next = find_delimiter(it, content);
    if (next == NULL)
        return fail(msg, cap, "the body ends before part %zu's closing boundary (truncated upload?)", it->index + 1);
    part->value = (ig_str_t){content, (size_t)(next - content)};
    part->whole = (ig_str_t){it->cur, (size_t)(next - it->cur)};
    it->cur = next + 2;
    it->index++;
    return 1;
}

int ig_form_name_is(const ig_form_part_t *part, const char *name)
{
    size_t n = strlen(name);
    return part->name.len == n && memcmp(part->name.ptr, name, n) == 0;
}
