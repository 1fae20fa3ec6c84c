/*
 * http1_response_parser.c — see http1_response_parser.h.
 *
 * The head is parsed in one go once its terminating empty line is in the
 * buffer: simpler and safer than a byte-at-a-time header machine, and it lets
 * header spans point into the buffer. Until then we only search for the end
 * (remembering where we stopped) and reject bare LFs early so a peer that is
 * not speaking HTTP/1.1 with CRLF fails fast instead of at the size limit.
 * The body, chunk framing and trailers are a byte-level state machine,
 * because they stream.
 */
#include "upstream/http1_response_parser.h"

#include <string.h>
#include "util/hex.h"

enum {
    S_HEAD,
    S_BODY_LENGTH,
    S_BODY_CLOSE,
    S_CHUNK_SIZE,      /* first hex digit of a chunk size */
    S_CHUNK_SIZE_MORE, /* further hex digits */
    S_CHUNK_WS,        /* whitespace after the size (before ';' or CR) */
    S_CHUNK_EXT,       /* chunk extensions: accepted, ignored */
    S_CHUNK_SIZE_LF,
    S_CHUNK_DATA,
    S_CHUNK_DATA_CR,
    S_CHUNK_DATA_LF,
    S_TRAILER_START,   /* start of a trailer line, or the final CRLF */
    S_TRAILER_NAME,
    S_TRAILER_VALUE,
    S_TRAILER_LF,
    S_TRAILER_END_LF,
    S_DONE
};

enum { F_NONE, F_LENGTH, F_CHUNKED, F_CLOSE };

void ig_http1_response_init(ig_http1_response_parser_t *p, const ig_http1_response_callbacks_t *cb, void *data,
                            uint32_t max_head)
{
    memset(p, 0, sizeof(*p));
    p->cb = cb;
    p->data = data;
    p->max_head = max_head ? max_head : IG_HTTP1_DEFAULT_MAX_HEAD;
    p->state = S_HEAD;
}

/* RFC 9110 tchar: the characters of a token (header names). */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
        return 1;
    default:
        return 0;
    }
}

/* field-vchar / SP / HTAB: what a header value, reason phrase or chunk extension may hold (no CTLs). */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int name_is(const ig_http1_header_t *h, const char *lower, size_t len)
{
    if (h->name_len != len)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)h->name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

static int token_is(const char *s, size_t n, const char *lower)
{
    size_t len = strlen(lower);
    if (n != len)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        if (c != (unsigned char)lower[i])
            return 0;
    }
    return 1;
}

/* Content-Length: 1*DIGIT exactly. Lists ("5, 5") are refused rather than reconciled. */
static int parse_content_length(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

/* Connection: a comma-separated token list; we only care whether it says close. */
static int connection_says_close(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
            i++;
        size_t start = i;
        while (i < n && s[i] != ',' && s[i] != ' ' && s[i] != '\t')
            i++;
        if (token_is(s + start, i - start, "close"))
            return 1;
    }
    return 0;
}

/*
 * Searches the pending head for its end (CRLFCRLF). Returns 1 with *end set
 * to the head's length, 0 when more bytes are needed, or an error.
 */
static int find_head_end(ig_http1_response_parser_t *p, const char *buf, size_t len, size_t *end)
{
    /* refuse a peer that is not speaking HTTP/1.x as soon as its first bytes say so */
    if (memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
        return IG_HTTP1_E_VERSION;
    /* only the first max_head bytes can belong to an acceptable head: looking further would make the
     * error depend on how the input was split (a bad byte past the limit seen or not) */
    size_t window = len < p->max_head ? len : p->max_head;
    size_t i = p->head_scanned;
    while (i < window) {
        const char *lf = memchr(buf + i, '\n', window - i);
        if (lf == NULL)
            break;
        size_t k = (size_t)(lf - buf);
        if (k == 0 || buf[k - 1] != '\r')
            return IG_HTTP1_E_LINE_ENDING;
        if (k >= 3 && buf[k - 2] == '\n') { /* that LF was checked to follow a CR when we passed it */
            *end = k + 1;
            return 1;
        }
        i = k + 1;
    }
    if (len >= p->max_head)
        return IG_HTTP1_E_HEAD_TOO_LARGE;
    p->head_scanned = (uint32_t)len;
    return 0;
}

/*
 * Parses a complete head buf[0..hlen) that ends with CRLFCRLF. Every scan
 * below stops at a CR at the latest, and the buffer's last CRLF bounds them
 * all, so no index check is needed against hlen inside the lines.
 */
static int parse_head(ig_http1_response_parser_t *p, const char *buf, size_t hlen, ig_http1_header_t *hdrs,
                      size_t *nhdrs)
{
    const char *s = buf;
    size_t n = 0;
    int has_cl = 0, has_te = 0;
    uint64_t cl = 0;

    /* status-line = HTTP-version SP 3DIGIT SP [ reason-phrase ] CRLF; a missing SP before an empty reason is tolerated */
    if (memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
        return IG_HTTP1_E_VERSION;
    p->minor = (uint8_t)(s[7] - '0');
    s += 9;
    for (int i = 0; i < 3; i++)
        if (s[i] < '0' || s[i] > '9')
            return IG_HTTP1_E_STATUS;
    p->status = (uint16_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    if (p->status < 100 || p->status > 599)
        return IG_HTTP1_E_STATUS;
    s += 3;
    if (*s == ' ') {
        s++;
        while (*s != '\r') {
            if (!is_field_char((unsigned char)*s))
                return IG_HTTP1_E_STATUS;
            s++;
        }
    }
    if (s[0] != '\r' || s[1] != '\n')
        return IG_HTTP1_E_STATUS;
    s += 2;

    p->conn_close = 0;
    while (!(s[0] == '\r' && s[1] == '\n')) {
        ig_http1_header_t h;
        if (*s == ' ' || *s == '\t')
            return IG_HTTP1_E_OBS_FOLD; /* a continuation line: obsolete, and a smuggling vector */
        h.name = s;
        while (is_tchar((unsigned char)*s))
            s++;
        h.name_len = (size_t)(s - h.name);
        if (h.name_len == 0 || *s != ':') /* also refuses whitespace before the colon */
            return IG_HTTP1_E_HEADER;
        s++;
        while (*s == ' ' || *s == '\t')
            s++;
        h.value = s;
        while (*s != '\r') {
            if (!is_field_char((unsigned char)*s))
                return IG_HTTP1_E_HEADER;
            s++;
        }
        if (s[1] != '\n')
            return IG_HTTP1_E_LINE_ENDING;
        const char *vend = s;
        while (vend > h.value && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        h.value_len = (size_t)(vend - h.value);
        s += 2;
        if (n == IG_HTTP1_MAX_HEADERS)
            return IG_HTTP1_E_TOO_MANY_HEADERS;
        hdrs[n++] = h;

        if (name_is(&h, "content-length", 14)) {
            if (has_cl || parse_content_length(h.value, h.value_len, &cl) != 0)
                return IG_HTTP1_E_CONTENT_LENGTH;
            has_cl = 1;
        } else if (name_is(&h, "transfer-encoding", 17)) {
            /* only plain "chunked": other codings would reach the client undecoded */
            if (has_te || !token_is(h.value, h.value_len, "chunked"))
                return IG_HTTP1_E_TRANSFER_ENCODING;
            has_te = 1;
        } else if (name_is(&h, "connection", 10)) {
            if (connection_says_close(h.value, h.value_len))
                p->conn_close = 1;
        }
    }
    if ((size_t)(s + 2 - buf) != hlen)
        return IG_HTTP1_E_HEADER; /* unreachable: hlen ends at the first empty line */
    if (has_cl && has_te)
        return IG_HTTP1_E_CL_AND_TE; /* RFC 9112 6.3: ambiguous framing, the classic smuggling case */
    if (has_te && p->minor == 0)
        return IG_HTTP1_E_TRANSFER_ENCODING; /* RFC 9112 6.1: faulty framing in HTTP/1.0 */

    if ((p->status >= 100 && p->status < 200) || p->status == 204 || p->status == 304)
        p->framing = F_NONE;
    else if (has_te)
        p->framing = F_CHUNKED;
    else if (has_cl)
        p->framing = F_LENGTH;
    else
        p->framing = F_CLOSE;
    p->remaining = cl;
    *nhdrs = n;
    return 0;
}

static int fail(ig_http1_response_parser_t *p, int code, size_t off, size_t *consumed)
{
    p->error = (int8_t)code;
    *consumed = off;
    return code;
}

int ig_http1_response_feed(ig_http1_response_parser_t *p, const char *buf, size_t len, size_t *consumed)
{
    size_t off = 0;

    *consumed = 0;
    if (p->error)
        return p->error;
    for (;;) {
        if (p->state == S_DONE) {
            *consumed = off;
            return IG_HTTP1_DONE;
        }
        if (off == len) {
            *consumed = off;
            return IG_HTTP1_NEED_MORE;
        }
        if (p->state == S_HEAD) {
            ig_http1_header_t hdrs[IG_HTTP1_MAX_HEADERS];
            size_t hlen = 0, nh = 0;
            int rc = find_head_end(p, buf + off, len - off, &hlen);
            if (rc < 0)
                return fail(p, rc, off, consumed);
            if (rc == 0) {
                *consumed = off; /* the caller keeps the partial head and feeds it again */
                return IG_HTTP1_NEED_MORE;
            }
            rc = parse_head(p, buf + off, hlen, hdrs, &nh);
            if (rc < 0)
                return fail(p, rc, off, consumed);
            off += hlen;
            p->head_scanned = 0;
            if (p->status < 200) {
                /* interim response (100 Continue, 103 Early Hints): skip; we never ask to switch protocols */
                if (p->status == 101)
                    return fail(p, IG_HTTP1_E_STATUS, off, consumed);
                if (++p->interim > IG_HTTP1_MAX_INTERIM)
                    return fail(p, IG_HTTP1_E_TOO_MANY_INTERIM, off, consumed);
                continue;
            }
            switch (p->framing) {
            case F_NONE:
                p->state = S_DONE;
                break;
            case F_LENGTH:
                p->state = p->remaining ? S_BODY_LENGTH : S_DONE;
                break;
            case F_CHUNKED:
                p->state = S_CHUNK_SIZE;
                p->line_len = 0;
                break;
            default:
                p->state = S_BODY_CLOSE;
                break;
            }
            /* state first, so a parser stopped inside on_head resumes in the right place */
            if (p->cb && p->cb->on_head && p->cb->on_head(p->data, p->status, hdrs, nh) != 0) {
                *consumed = off;
                return IG_HTTP1_STOPPED;
            }
            continue;
        }

        /* body: spans of data states are emitted whole; framing bytes go one at a time */
        if (p->state == S_BODY_LENGTH || p->state == S_BODY_CLOSE || p->state == S_CHUNK_DATA) {
            size_t n = len - off;
            if (p->state != S_BODY_CLOSE && n > p->remaining)
                n = (size_t)p->remaining;
            const char *span = buf + off;
            off += n;
            if (p->state != S_BODY_CLOSE) {
                p->remaining -= n;
                if (p->remaining == 0)
                    p->state = p->state == S_BODY_LENGTH ? S_DONE : S_CHUNK_DATA_CR;
            }
            if (p->cb && p->cb->on_body && p->cb->on_body(p->data, span, n) != 0) {
                *consumed = off;
                return IG_HTTP1_STOPPED;
            }
            continue;
        }

        unsigned char c = (unsigned char)buf[off++];
        switch (p->state) {
        case S_CHUNK_SIZE:
        case S_CHUNK_SIZE_MORE: {
            int v = ig_hex_digit(c);
            if (v >= 0) {
                if (p->state == S_CHUNK_SIZE)
                    p->remaining = 0;
                if (p->remaining > (UINT64_MAX >> 4))
                    return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
                p->remaining = (p->remaining << 4) | (uint64_t)v;
                p->state = S_CHUNK_SIZE_MORE;
            } else if (p->state == S_CHUNK_SIZE) {
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            } else if (c == ';') {
                p->state = S_CHUNK_EXT;
            } else if (c == ' ' || c == '\t') {
                p->state = S_CHUNK_WS;
            } else if (c == '\r') {
                p->state = S_CHUNK_SIZE_LF;
            } else {
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            }
            break;
        }
        case S_CHUNK_WS:
            if (c == ';')
                p->state = S_CHUNK_EXT;
            else if (c == '\r')
                p->state = S_CHUNK_SIZE_LF;
            else if (c != ' ' && c != '\t')
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            break;
        case S_CHUNK_EXT:
            if (c == '\r')
                p->state = S_CHUNK_SIZE_LF;
            else if (!is_field_char(c))
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            break;
        case S_CHUNK_SIZE_LF:
            if (c != '\n')
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            if (p->remaining == 0) {
                p->state = S_TRAILER_START;
                p->line_len = 0; /* now counts trailer bytes */
                p->ntrailers = 0;
            } else {
                p->state = S_CHUNK_DATA;
            }
            break;
        case S_CHUNK_DATA_CR:
            if (c != '\r')
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            p->state = S_CHUNK_DATA_LF;
            break;
        case S_CHUNK_DATA_LF:
            if (c != '\n')
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
            p->state = S_CHUNK_SIZE;
            p->line_len = 0;
            break;
        /* trailers are checked for syntax and dropped: nothing downstream uses them */
        case S_TRAILER_START:
            if (c == '\r') {
                p->state = S_TRAILER_END_LF;
            } else if (is_tchar(c)) {
                if (++p->ntrailers > IG_HTTP1_MAX_HEADERS)
                    return fail(p, IG_HTTP1_E_TRAILER, off, consumed);
                p->state = S_TRAILER_NAME;
            } else {
                return fail(p, c == ' ' || c == '\t' ? IG_HTTP1_E_OBS_FOLD : IG_HTTP1_E_TRAILER, off, consumed);
            }
            break;
        case S_TRAILER_NAME:
            if (c == ':')
                p->state = S_TRAILER_VALUE;
            else if (!is_tchar(c))
                return fail(p, IG_HTTP1_E_TRAILER, off, consumed);
            break;
        case S_TRAILER_VALUE:
            if (c == '\r')
                p->state = S_TRAILER_LF;
            else if (!is_field_char(c))
                return fail(p, IG_HTTP1_E_TRAILER, off, consumed);
            break;
        case S_TRAILER_LF:
            if (c != '\n')
                return fail(p, IG_HTTP1_E_LINE_ENDING, off, consumed);
            p->state = S_TRAILER_START;
            break;
        case S_TRAILER_END_LF:
            if (c != '\n')
                return fail(p, IG_HTTP1_E_LINE_ENDING, off, consumed);
            p->state = S_DONE;
            break;
        default:
            return fail(p, IG_HTTP1_E_CHUNK, off, consumed); /* unreachable */
        }
        /* bound the framing bytes we accept without progress: size lines and the trailer section */
        if (p->state >= S_CHUNK_SIZE && p->state <= S_CHUNK_SIZE_LF) {
            if (++p->line_len > IG_HTTP1_MAX_CHUNK_LINE)
                return fail(p, IG_HTTP1_E_CHUNK, off, consumed);
        } else if (p->state >= S_TRAILER_START && p->state <= S_TRAILER_END_LF) {
            if (++p->line_len > p->max_head)
                return fail(p, IG_HTTP1_E_TRAILER, off, consumed);
        }
    }
}

int ig_http1_response_eof(ig_http1_response_parser_t *p)
{
    if (p->error)
        return p->error;
    if (p->state == S_BODY_CLOSE)
        p->state = S_DONE;
    if (p->state == S_DONE)
        return IG_HTTP1_DONE;
    p->error = IG_HTTP1_E_TRUNCATED;
    return IG_HTTP1_E_TRUNCATED;
}

int ig_http1_response_head_done(const ig_http1_response_parser_t *p)
{
    return p->state != S_HEAD;
}

int ig_http1_response_done(const ig_http1_response_parser_t *p)
{
    return p->state == S_DONE && !p->error;
}

int ig_http1_response_keep_alive(const ig_http1_response_parser_t *p)
{
    return p->state == S_DONE && !p->error && p->minor >= 1 && !p->conn_close && p->framing != F_CLOSE;
}

const char *ig_http1_strerror(int code)
{
    switch (code) {
    case IG_HTTP1_NEED_MORE: return "incomplete";
    case IG_HTTP1_DONE: return "complete";
    case IG_HTTP1_STOPPED: return "stopped";
    case IG_HTTP1_E_VERSION: return "not an HTTP/1.x response";
    case IG_HTTP1_E_STATUS: return "bad status line";
    case IG_HTTP1_E_LINE_ENDING: return "line not ended by CRLF";
    case IG_HTTP1_E_HEADER: return "bad header line";
    case IG_HTTP1_E_OBS_FOLD: return "folded header line";
    case IG_HTTP1_E_TOO_MANY_HEADERS: return "too many headers";
    case IG_HTTP1_E_HEAD_TOO_LARGE: return "response head too large";
    case IG_HTTP1_E_CONTENT_LENGTH: return "bad or repeated Content-Length";
    case IG_HTTP1_E_TRANSFER_ENCODING: return "unsupported Transfer-Encoding";
    case IG_HTTP1_E_CL_AND_TE: return "both Content-Length and Transfer-Encoding";
    case IG_HTTP1_E_CHUNK: return "bad chunked encoding";
    case IG_HTTP1_E_TRAILER: return "bad trailer";
    case IG_HTTP1_E_TOO_MANY_INTERIM: return "too many 1xx responses";
    case IG_HTTP1_E_TRUNCATED: return "response truncated";
    default: return "unknown error";
    }
}
