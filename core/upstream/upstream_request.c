/*
 * upstream_request.c — what goes on the wire for a request: the serialised
 * head and the list of body pieces handed to uv_write.
 *
 * The head is built once per request (inline in the request struct when it
 * fits, so a request on a reused connection allocates nothing) and kept for
 * the transparent retry. The body is never copied: its spans are listed as
 * they are. Anything that could inject a header line (CR/LF or other CTLs in
 * the method, path, Host or an extra header) refuses the whole request.
 */
#include "upstream/upstream_conn.h"

#include <stdlib.h>
#include <string.h>

void ig_upstream_req_release(ig_upstream_req_t *r)
{
    if (r->bufs != NULL) {
        if (r->bufs[0].base != r->inline_head)
            free(r->bufs[0].base);
        if (r->bufs != r->inline_bufs)
            free(r->bufs);
    }
    r->bufs = NULL;
    r->nbufs = 0;
}

static int is_token(ig_str_t s)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c) != NULL)
            return 0;
    }
    return 1;
}

/* No CTLs, spaces or DEL: anything else would let a path or value inject header lines. */
static int is_visible(ig_str_t s, int allow_space)
{
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == 0x7f || (c < 0x20 && !(allow_space && c == '\t')) || (c == ' ' && !allow_space))
            return 0;
    }
    return 1;
}

static int str_ieq(ig_str_t s, const char *lower)
{
    size_t n = strlen(lower);
    if (s.len != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

/* Framing and routing are ours: a caller's copy of these would contradict what we send. */
static int client_owned(ig_str_t name)
{
    return str_ieq(name, "host") || str_ieq(name, "content-length") || str_ieq(name, "connection") ||
           str_ieq(name, "transfer-encoding");
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

int ig_upstream_req_build(ig_upstream_req_t *r, const ig_upstream_request_t *in)
{
    const ig_endpoint_t *ep = in->endpoint;
    uint64_t body_len = 0;
    size_t npieces = 0;
    char digits[24];
    size_t ndigits = 0;

    r->bufs = NULL;
    r->nbufs = 0;
    if (!is_token(in->method) || in->path.len == 0 || !is_visible(in->path, 0) || ep->host_header == NULL ||
        !is_visible((ig_str_t){ep->host_header, strlen(ep->host_header)}, 0))
        return 1;
    for (size_t i = 0; i < in->nbody; i++) {
        body_len += in->body[i].len;
        npieces += in->body[i].len != 0;
    }
    int with_length = !(body_len == 0 && str_ieq(in->method, "get"));
    if (with_length) {
        char rev[24];
        uint64_t v = body_len;
        do {
            rev[ndigits++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        for (size_t i = 0; i < ndigits; i++)
            digits[i] = rev[ndigits - 1 - i];
    }

    size_t host_len = strlen(ep->host_header);
    size_t len = in->method.len + 1 + in->path.len + sizeof(" HTTP/1.1\r\nHost: ") - 1 + host_len + 2 + 2;
    if (with_length)
        len += sizeof("Content-Length: ") - 1 + ndigits + 2;
    for (size_t i = 0; i < in->nheaders; i++) {
        const ig_upstream_header_t *h = &in->headers[i];
        if (!is_token(h->name) || !is_visible(h->value, 1))
            return 1;
        if (!client_owned(h->name))
            len += h->name.len + 2 + h->value.len + 2;
    }

    char *head = len <= sizeof(r->inline_head) ? r->inline_head : malloc(len);
    uv_buf_t *bufs = 1 + npieces <= IG_UPSTREAM_INLINE_BUFS ? r->inline_bufs : malloc((1 + npieces) * sizeof(uv_buf_t));
    if (head == NULL || bufs == NULL) {
        if (head != r->inline_head)
            free(head);
        if (bufs != r->inline_bufs)
            free(bufs);
        return -1;
    }

    char *p = head;
    p = put(p, in->method.ptr, in->method.len);
    *p++ = ' ';
    p = put(p, in->path.ptr, in->path.len);
    p = put(p, " HTTP/1.1\r\nHost: ", sizeof(" HTTP/1.1\r\nHost: ") - 1);
    p = put(p, ep->host_header, host_len);
    p = put(p, "\r\n", 2);
    if (with_length) {
        p = put(p, "Content-Length: ", sizeof("Content-Length: ") - 1);
        p = put(p, digits, ndigits);
        p = put(p, "\r\n", 2);
    }
    for (size_t i = 0; i < in->nheaders; i++) {
        const ig_upstream_header_t *h = &in->headers[i];
        if (client_owned(h->name))
            continue;
        p = put(p, h->name.ptr, h->name.len);
        p = put(p, ": ", 2);
        p = put(p, h->value.ptr, h->value.len);
        p = put(p, "\r\n", 2);
    }
    p = put(p, "\r\n", 2);

    bufs[0] = uv_buf_init(head, (unsigned)len);
    r->nbufs = 1;
    for (size_t i = 0; i < in->nbody; i++) {
        if (in->body[i].len == 0)
            continue;
        bufs[r->nbufs].base = (char *)in->body[i].ptr; /* uv_write does not write through it */
        bufs[r->nbufs].len = in->body[i].len;
        r->nbufs++;
    }
    r->bufs = bufs;
    return 0;
}
