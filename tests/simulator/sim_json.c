#include "sim_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"
#include "util/hex.h"
#include "sim_buf.h"

void sj_init(sj_doc_t *d) { memset(d, 0, sizeof(*d)); }

void sj_free(sj_doc_t *d)
{
    free(d->nodes);
    sj_init(d);
}

static int fail(sj_doc_t *d, const char *msg, size_t pos)
{
    if (d->err == NULL) {
        d->err = msg;
        d->err_pos = pos;
    }
    return -1;
}

static int new_node(sj_doc_t *d, sj_type_t type, size_t start, uint32_t *out)
{
    if (d->n == d->cap) {
        if (d->cap >= SJ_MAX_NODES)
            return fail(d, "Too many values", start);
        uint32_t cap = d->cap ? d->cap * 2 : 64;
        if (cap > SJ_MAX_NODES)
            cap = SJ_MAX_NODES;
        sj_node_t *p = realloc(d->nodes, (size_t)cap * sizeof(*p));
        if (p == NULL)
            return fail(d, "Out of memory", start);
        d->nodes = p;
        d->cap = cap;
    }
    uint32_t i = d->n++;
    sj_node_t *nd = &d->nodes[i];
    nd->type = (uint8_t)type;
    nd->escaped = 0;
    nd->start = (uint32_t)start;
    nd->len = 0;
    nd->count = 0;
    nd->end = i + 1;
    *out = i;
    return 0;
}

static inline int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
static inline int is_digit(char c) { return c >= '0' && c <= '9'; }

static size_t skip_ws(const sj_doc_t *d, size_t p)
{
    while (p < d->len && is_ws(d->src[p]))
        p++;
    return p;
}

/* Four hex digits at s (caller guarantees they exist and were validated). */
static unsigned hex4(const char *s)
{
    return (unsigned)(ig_hex_digit(s[0]) << 12 | ig_hex_digit(s[1]) << 8 | ig_hex_digit(s[2]) << 4 | ig_hex_digit(s[3]));
}

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0. */
static size_t utf8_len(const char *str, size_t avail)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    size_t n;
    unsigned min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < n)
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

/* *p points at the opening quote.  On success *p is just past the closing quote. */
static int parse_string(sj_doc_t *d, size_t *p)
{
    const char *s = d->src;
    size_t quote = *p, i = quote + 1;
    uint32_t idx;
    if (new_node(d, SJ_STRING, i, &idx) != 0)
        return -1;
    int escaped = 0;
    for (;;) {
        if (i >= d->len)
            return fail(d, "Unterminated string starting at", quote);
        unsigned char c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c == '\\') {
            if (i + 1 >= d->len)
                return fail(d, "Unterminated string starting at", quote);
            char e = s[i + 1];
            escaped = 1;
            if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                i += 2;
            } else if (e == 'u') {
                if (i + 6 > d->len)
                    return fail(d, "Invalid \\uXXXX escape", i);
                for (size_t k = i + 2; k < i + 6; k++)
                    if (ig_hex_digit(s[k]) < 0)
                        return fail(d, "Invalid \\uXXXX escape", i);
                i += 6;
            } else {
                return fail(d, "Invalid \\escape", i);
            }
            continue;
        }
        if (c < 0x20)
            return fail(d, "Invalid control character at", i);
        if (c >= 0x80) {
            size_t n = utf8_len(s + i, d->len - i);
            if (n == 0)
                return fail(d, "Invalid UTF-8", i);
            i += n;
            continue;
        }
        i++;
    }
    sj_node_t *nd = &d->nodes[idx];
    nd->len = (uint32_t)(i - (quote + 1));
    nd->escaped = (uint8_t)escaped;
    *p = i + 1;
    return 0;
}

static int parse_number(sj_doc_t *d, size_t *p)
{
    const char *s = d->src;
    size_t start = *p, i = start;
    if (i < d->len && s[i] == '-')
        i++;
    if (i >= d->len)
        return fail(d, "Expecting value", start);
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < d->len && is_digit(s[i]))
            i++;
    } else {
        return fail(d, "Expecting value", start);
    }
    /* Like Python's scanner, a '.' or 'e' not followed by digits ends the number (the caller then
     * reports the stray character). */
    if (i + 1 < d->len && s[i] == '.' && is_digit(s[i + 1])) {
        i += 2;
        while (i < d->len && is_digit(s[i]))
            i++;
    }
    if (i < d->len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < d->len && (s[j] == '+' || s[j] == '-'))
            j++;
        if (j < d->len && is_digit(s[j])) {
            while (j < d->len && is_digit(s[j]))
                j++;
            i = j;
        }
    }
    uint32_t idx;
    if (new_node(d, SJ_NUMBER, start, &idx) != 0)
        return -1;
    d->nodes[idx].len = (uint32_t)(i - start);
    *p = i;
    return 0;
}

static int parse_literal(sj_doc_t *d, size_t *p, const char *word, sj_type_t type)
{
    size_t n = strlen(word);
    if (d->len - *p < n || memcmp(d->src + *p, word, n) != 0)
        return fail(d, "Expecting value", *p);
    uint32_t idx;
    if (new_node(d, type, *p, &idx) != 0)
        return -1;
    d->nodes[idx].len = (uint32_t)n;
    *p += n;
    return 0;
}

static int parse_value(sj_doc_t *d, size_t *p, unsigned depth);

static int parse_array(sj_doc_t *d, size_t *p, unsigned depth)
{
    uint32_t idx;
    size_t start = *p;
    if (new_node(d, SJ_ARRAY, start, &idx) != 0)
        return -1;
    size_t i = skip_ws(d, start + 1);
    uint32_t count = 0;
    if (i < d->len && d->src[i] == ']') {
        i++;
    } else {
        for (;;) {
            if (parse_value(d, &i, depth + 1) != 0)
                return -1;
            count++;
            i = skip_ws(d, i);
            if (i < d->len && d->src[i] == ']') {
                i++;
                break;
            }
            if (i >= d->len || d->src[i] != ',')
                return fail(d, "Expecting ',' delimiter", i);
            i++;
        }
    }
    sj_node_t *nd = &d->nodes[idx];
    nd->count = count;
    nd->len = (uint32_t)(i - start);
    nd->end = d->n;
    *p = i;
    return 0;
}

static int parse_object(sj_doc_t *d, size_t *p, unsigned depth)
{
    uint32_t idx;
    size_t start = *p;
    if (new_node(d, SJ_OBJECT, start, &idx) != 0)
        return -1;
    size_t i = skip_ws(d, start + 1);
    uint32_t count = 0;
    if (i < d->len && d->src[i] == '}') {
        i++;
    } else {
        for (;;) {
            if (i >= d->len || d->src[i] != '"')
                return fail(d, "Expecting property name enclosed in double quotes", i);
            if (parse_string(d, &i) != 0)
                return -1;
            i = skip_ws(d, i);
            if (i >= d->len || d->src[i] != ':')
                return fail(d, "Expecting ':' delimiter", i);
            i++;
            if (parse_value(d, &i, depth + 1) != 0)
                return -1;
            count++;
            i = skip_ws(d, i);
            if (i < d->len && d->src[i] == '}') {
                i++;
                break;
            }
            if (i >= d->len || d->src[i] != ',')
                return fail(d, "Expecting ',' delimiter", i);
            i = skip_ws(d, i + 1);
        }
    }
    sj_node_t *nd = &d->nodes[idx];
    nd->count = count;
    nd->len = (uint32_t)(i - start);
    nd->end = d->n;
    *p = i;
    return 0;
}

static int parse_value(sj_doc_t *d, size_t *p, unsigned depth)
{
    size_t i = skip_ws(d, *p);
    if (depth > SJ_MAX_DEPTH)
        return fail(d, "Nesting too deep", i);
    if (i >= d->len)
        return fail(d, "Expecting value", i);
    int rc;
    switch (d->src[i]) {
    case '{': rc = parse_object(d, &i, depth); break;
    case '[': rc = parse_array(d, &i, depth); break;
    case '"': rc = parse_string(d, &i); break;
    case 't': rc = parse_literal(d, &i, "true", SJ_TRUE); break;
    case 'f': rc = parse_literal(d, &i, "false", SJ_FALSE); break;
    case 'n': rc = parse_literal(d, &i, "null", SJ_NULL); break;
    default:
        if (d->src[i] == '-' || is_digit(d->src[i]))
            rc = parse_number(d, &i);
        else
            rc = fail(d, "Expecting value", i);
    }
    *p = i;
    return rc;
}

int sj_parse(sj_doc_t *d, const char *src, size_t len)
{
    if (d->cap > SJ_KEEP_NODES) { /* don't hold on to the storage of one huge request */
        free(d->nodes);
        d->nodes = NULL;
        d->cap = 0;
    }
    d->src = src;
    d->len = len;
    d->n = 0;
    d->err = NULL;
    d->err_pos = 0;
    if (len > SJ_MAX_INPUT)
        return fail(d, "Document too large", 0);
    size_t p = 0;
    if (parse_value(d, &p, 0) != 0)
        return -1;
    p = skip_ws(d, p);
    if (p != len)
        return fail(d, "Extra data", p);
    return 0;
}

int64_t sj_obj_get(const sj_doc_t *d, uint32_t obj, const char *key)
{
    if (obj >= d->n || d->nodes[obj].type != SJ_OBJECT)
        return -1;
    int64_t found = -1;
    uint32_t i = obj + 1;
    for (uint32_t k = 0; k < d->nodes[obj].count; k++) {
        uint32_t val = i + 1;
        if (sj_str_eq(d, i, key))
            found = val;
        i = d->nodes[val].end;
    }
    return found;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes one escape sequence at s[*i] == '\\' (already validated) into a code point. */
static unsigned decode_escape(const char *s, size_t n, size_t *i)
{
    char e = s[*i + 1];
    switch (e) {
    case 'b': *i += 2; return '\b';
    case 'f': *i += 2; return '\f';
    case 'n': *i += 2; return '\n';
    case 'r': *i += 2; return '\r';
    case 't': *i += 2; return '\t';
    case 'u': break;
    default: *i += 2; return (unsigned char)e; /* '"', '\\', '/' */
    }
    unsigned cp = hex4(s + *i + 2);
    *i += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF && *i + 6 <= n && s[*i] == '\\' && s[*i + 1] == 'u') {
        unsigned lo = hex4(s + *i + 2);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *i += 6;
            return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        cp = 0xFFFD;
    return cp;
}

size_t sj_str_decode(const sj_doc_t *d, uint32_t idx, char *out)
{
    const sj_node_t *nd = &d->nodes[idx];
    const char *s = d->src + nd->start;
    size_t n = nd->len;
    if (!nd->escaped) {
        memcpy(out, s, n);
        return n;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        o += put_utf8(out + o, decode_escape(s, n, &i));
    }
    return o;
}

int sj_str_eq(const sj_doc_t *d, uint32_t i, const char *str)
{
    const sj_node_t *nd = &d->nodes[i];
    if (nd->type != SJ_STRING)
        return 0;
    size_t n = strlen(str);
    if (!nd->escaped)
        return nd->len == n && memcmp(d->src + nd->start, str, n) == 0;
    if (nd->len > 1024)
        return 0;
    char tmp[1024];
    size_t m = sj_str_decode(d, i, tmp);
    return m == n && memcmp(tmp, str, n) == 0;
}

/* Python's str.isspace() for the code points str.split() separates on. */
static int is_unicode_space(unsigned cp)
{
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* Decodes one UTF-8 sequence at s[*i]; a malformed byte comes back as U+FFFD (never a space). */
static unsigned decode_utf8(const unsigned char *s, size_t n, size_t *i)
{
    unsigned c = s[*i];
    size_t need;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if (c >= 0xF0)
        need = c < 0xF8 ? 3 : 0;
    else if (c >= 0xE0)
        need = 2;
    else if (c >= 0xC2)
        need = 1;
    else
        need = 0;
    if (need == 0 || n - *i <= need) {
        (*i)++;
        return 0xFFFD;
    }
    unsigned cp = c & (0x3Fu >> need);
    for (size_t k = 1; k <= need; k++) {
        unsigned cc = s[*i + k];
        if ((cc & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    *i += need + 1;
    return cp;
}

uint64_t sj_str_words(const sj_doc_t *d, uint32_t idx, sj_word_cb cb, void *ctx)
{
    const sj_node_t *nd = &d->nodes[idx];
    if (nd->type != SJ_STRING)
        return 0;
    const unsigned char *s = (const unsigned char *)d->src + nd->start;
    size_t n = nd->len;
    uint64_t words = 0;
    uint64_t h = 0;
    int in_word = 0;
    for (size_t i = 0; i < n;) {
        unsigned cp;
        unsigned char c = s[i];
        if (c == '\\')
            cp = decode_escape((const char *)s, n, &i);
        else if (c < 0x80) {
            cp = c;
            i++;
        } else
            cp = decode_utf8(s, n, &i);
        if (is_unicode_space(cp)) {
            if (in_word && cb != NULL)
                cb(ctx, h);
            in_word = 0;
            continue;
        }
        if (!in_word) {
            in_word = 1;
            words++;
            h = SIM_HASH_SEED; /* FNV-1a over the code points */
        }
        h = ig_fnv1a64_step(h, cp);
    }
    if (in_word && cb != NULL)
        cb(ctx, h);
    return words;
}

uint64_t sj_str_count_words(const sj_doc_t *d, uint32_t idx) { return sj_str_words(d, idx, NULL, NULL); }

int sj_get_double(const sj_doc_t *d, uint32_t i, double *out)
{
    const sj_node_t *nd = &d->nodes[i];
    if (nd->type != SJ_NUMBER)
        return -1;
    char tmp[128];
    if (nd->len >= sizeof(tmp))
        return -1;
    memcpy(tmp, d->src + nd->start, nd->len);
    tmp[nd->len] = '\0';
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + nd->len || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int sj_get_int(const sj_doc_t *d, uint32_t i, int64_t *out)
{
    double v;
    if (sj_get_double(d, i, &v) != 0)
        return -1;
    if (v != floor(v) || fabs(v) > 9007199254740992.0)
        return -1;
    *out = (int64_t)v;
    return 0;
}
