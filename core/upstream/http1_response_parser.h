/*
 * http1_response_parser.h — an incremental HTTP/1.1 response parser.
 *
 * Written for the upstream client: it reads responses from engines and hands
 * the body on without copying. Strict where sloppiness enables response
 * smuggling (framing headers, line endings, obs-fold), bounded where a broken
 * or hostile engine could make us buffer without end (head size, header count,
 * chunk-size lines, trailers, interim responses).
 *
 * Feeding contract. The head (status line + headers) is parsed only once it
 * is complete, so that header spans can point into the caller's buffer:
 * while the head is incomplete, ig_http1_response_feed consumes nothing and
 * the caller presents the same bytes again, followed by more, on the next
 * call (the parser remembers how far it scanned, so this costs no rescans).
 * Body bytes are always consumed as they arrive and emitted de-chunked,
 * straight out of the caller's buffer. So input may be split anywhere.
 *
 * Callbacks return 0 to go on, non-zero to make feed return IG_HTTP1_STOPPED
 * right after the span (the caller pauses or aborts; to go on it feeds the
 * unconsumed rest again).
 */
#ifndef IG_HTTP1_RESPONSE_PARSER_H
#define IG_HTTP1_RESPONSE_PARSER_H

#include <stddef.h>
#include <stdint.h>

#define IG_HTTP1_MAX_HEADERS 64          /* per head, and per trailer section */
#define IG_HTTP1_DEFAULT_MAX_HEAD 65536  /* bytes, status line to the empty line */
#define IG_HTTP1_MAX_CHUNK_LINE 4096     /* chunk size + extensions */
#define IG_HTTP1_MAX_INTERIM 16          /* 1xx responses before the final one */

enum {
    IG_HTTP1_NEED_MORE = 0, /* everything useful consumed; feed more */
    IG_HTTP1_DONE = 1,      /* the response is complete; unconsumed bytes are not part of it */
    IG_HTTP1_STOPPED = 2,   /* a callback returned non-zero */

    IG_HTTP1_E_VERSION = -1,
    IG_HTTP1_E_STATUS = -2,
    IG_HTTP1_E_LINE_ENDING = -3,
    IG_HTTP1_E_HEADER = -4,
    IG_HTTP1_E_OBS_FOLD = -5,
    IG_HTTP1_E_TOO_MANY_HEADERS = -6,
    IG_HTTP1_E_HEAD_TOO_LARGE = -7,
    IG_HTTP1_E_CONTENT_LENGTH = -8,
    IG_HTTP1_E_TRANSFER_ENCODING = -9,
    IG_HTTP1_E_CL_AND_TE = -10,
    IG_HTTP1_E_CHUNK = -11,
    IG_HTTP1_E_TRAILER = -12,
    IG_HTTP1_E_TOO_MANY_INTERIM = -13,
    IG_HTTP1_E_TRUNCATED = -14 /* from ig_http1_response_eof */
};

typedef struct {
    const char *name;
    size_t name_len;
    const char *value; /* without surrounding whitespace */
    size_t value_len;
} ig_http1_header_t;

typedef struct {
    /* final (non-1xx) head; headers valid during the call only */
    int (*on_head)(void *data, int status, const ig_http1_header_t *headers, size_t nheaders);
    /* de-chunked body bytes, len > 0, pointing into the fed buffer */
    int (*on_body)(void *data, const char *p, size_t len);
} ig_http1_response_callbacks_t;

/* Fields are private; the struct is public so it can be embedded (no allocation). */
typedef struct {
    const ig_http1_response_callbacks_t *cb;
    void *data;
    uint64_t remaining;     /* Content-Length left, or current chunk's bytes left */
    uint32_t max_head;
    uint32_t head_scanned;  /* bytes of the pending head already searched for its end */
    uint32_t line_len;      /* chunk-size line length, or trailer section bytes */
    uint16_t status;
    uint8_t state;
    uint8_t minor;          /* HTTP/1.<minor> */
    uint8_t conn_close;     /* Connection: close */
    uint8_t framing;
    uint8_t interim;        /* 1xx heads skipped */
    uint8_t ntrailers;
    int8_t error;           /* sticky */
} ig_http1_response_parser_t;

/* max_head 0 means IG_HTTP1_DEFAULT_MAX_HEAD. Also resets a parser for the next response. */
void ig_http1_response_init(ig_http1_response_parser_t *p, const ig_http1_response_callbacks_t *cb, void *data,
                            uint32_t max_head);

/*
 * Parses buf (starting with the bytes left unconsumed by the previous call).
 * *consumed is set to the bytes used, also on STOPPED and errors. Returns one
 * of the codes above; an error is sticky.
 */
int ig_http1_response_feed(ig_http1_response_parser_t *p, const char *buf, size_t len, size_t *consumed);

/* The peer closed: DONE if that completes the response (close-delimited body), else IG_HTTP1_E_TRUNCATED. */
int ig_http1_response_eof(ig_http1_response_parser_t *p);

/* The final head has been parsed (on_head was called). */
int ig_http1_response_head_done(const ig_http1_response_parser_t *p);
int ig_http1_response_done(const ig_http1_response_parser_t *p);
/* The connection may carry another request: HTTP/1.1, no Connection: close, body framed by length or chunks. */
int ig_http1_response_keep_alive(const ig_http1_response_parser_t *p);

const char *ig_http1_strerror(int code);

#endif
