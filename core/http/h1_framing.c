#include "http/h1_framing.h"
#include <string.h>

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ci_is(const char *s, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    if (n != l)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lit[i])
            return 0;
    return 1;
}

/* RFC 9110 §5.6.2 tchar, as a table: every header name's every byte goes through it */
static const unsigned char tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,
    ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1,
    ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
    ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
    ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* value without leading and trailing OWS */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

/* 1*DIGIT without overflow (19 digits at most); -1 otherwise */
static int parse_length(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

/* 1 when the comma-separated list s holds token (case-insensitive) */
static int list_has(const char *s, size_t n, const char *token)
{
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && s[j] != ',')
            j++;
        const char *e = s + i;
        size_t el = j - i;
        trim(&e, &el);
        if (ci_is(e, el, token))
            return 1;
        i = j + 1;
    }
    return 0;
}

static int refuse(ig_h1_framing_t *out, const char *why)
{
    out->error = why;
    return -1;
}

int ig_h1_framing_check(const struct phr_header *headers, size_t n, int minor_version, ig_h1_framing_t *out)
{
    memset(out, 0, sizeof(*out));
    int have_length = 0, te_lines = 0, close = 0, keep_alive = 0;
    uint64_t length = 0;
    const char *te = NULL;
    size_t te_len = 0;
    for (size_t i = 0; i < n; i++) {
        const struct phr_header *h = &headers[i];
        if (h->name == NULL || h->name_len == 0)
            return refuse(out, "a header line is folded onto the previous one (obs-fold) or has no name");
        for (size_t k = 0; k < h->name_len; k++)
            if (!tchar[(unsigned char)h->name[k]])
                return refuse(out, "a header name is not a token (whitespace before the colon?)");
        size_t nl = h->name_len;
        if (nl != 14 && nl != 17 && nl != 10 && nl != 6 && nl != 7)
            continue; /* none of the names below: most headers stop here */
        const char *v = h->value;
        size_t vl = h->value_len;
        trim(&v, &vl);
        if (ci_is(h->name, h->name_len, "content-length")) {
            uint64_t l;
            if (parse_length(v, vl, &l) != 0)
                return refuse(out, "Content-Length is not a decimal number of bytes");
            if (have_length && l != length)
                return refuse(out, "two different Content-Length values");
            have_length = 1;
            length = l;
        } else if (ci_is(h->name, h->name_len, "transfer-encoding")) {
            te_lines++;
            te = v;
            te_len = vl;
        } else if (ci_is(h->name, h->name_len, "connection")) {
            close |= list_has(v, vl, "close");
            keep_alive |= list_has(v, vl, "keep-alive");
        } else if (ci_is(h->name, h->name_len, "expect")) {
            if (ci_is(v, vl, "100-continue"))
                out->expect_continue = 1;
        } else if (ci_is(h->name, h->name_len, "upgrade")) {
            out->has_upgrade = 1;
        }
    }
    if (te_lines != 0) {
        if (have_length)
            return refuse(out, "Content-Length and Transfer-Encoding together (RFC 9112 section 6.1)");
        if (minor_version == 0)
            return refuse(out, "Transfer-Encoding in an HTTP/1.0 request");
        if (te_lines > 1 || !ci_is(te, te_len, "chunked"))
            return refuse(out, "Transfer-Encoding other than a single \"chunked\"");
        out->body = IG_H1_BODY_CHUNKED;
    } else if (have_length && length != 0) {
        out->body = IG_H1_BODY_LENGTH;
        out->length = length;
    }
    out->keep_alive = minor_version >= 1 ? !close : keep_alive && !close;
    return 0;
}
