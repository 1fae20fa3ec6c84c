/*
 * test_json.c — unit tests for core/json.c (infergate/json.h).
 *
 * Table-driven validation cases, then each helper, then randomized
 * differential checks (escape round trip, UTF-8 acceptance, number parsing
 * against strtod). Inputs that must not be over-read are copied into
 * exact-size heap blocks so AddressSanitizer builds catch any overrun.
 */
#include "infergate/json.h"
#include "util/json.h"
#include "ig_test.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* Deterministic PRNG (xorshift64*) so failures reproduce. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Exact-size heap copy: one byte past the end is a redzone under ASan. */
static char *dup_exact(const char *s, size_t n)
{
    char *p = malloc(n ? n : 1);
    if (!p)
        abort();
    if (n)
        memcpy(p, s, n);
    return p;
}

static int validate_n(const char *s, size_t n, ig_json_error_t *err)
{
    char *copy = dup_exact(s, n);
    int r = ig_json_validate(copy, n, err);
    free(copy);
    return r;
}

static int parse(const char *s, ig_json_value_t *v)
{
    return ig_json_parse_value(s, strlen(s), v);
}

/* Independent UTF-8 check (decode then range-check), used as a reference. */
static size_t ref_utf8_len(const unsigned char *p, size_t n)
{
    static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t len;
    uint32_t cp;

    if (p[0] < 0x80)
        return 1;
    if ((p[0] & 0xE0) == 0xC0) { len = 2; cp = p[0] & 0x1F; }
    else if ((p[0] & 0xF0) == 0xE0) { len = 3; cp = p[0] & 0x0F; }
    else if ((p[0] & 0xF8) == 0xF0) { len = 4; cp = p[0] & 0x07; }
    else return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Reference for what escape + unescape must give: bad bytes become U+FFFD. */
static size_t ref_sanitize(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = ref_utf8_len(s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Validation table                                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int line;
    const char *s;
    size_t n;
    int ok;
} vcase_t;

/* String literals may hold NUL bytes, so lengths come from sizeof. */
#define OK(lit)  { __LINE__, lit, sizeof(lit) - 1, 1 }
#define BAD(lit) { __LINE__, lit, sizeof(lit) - 1, 0 }

static const vcase_t vcases[] = {
    /* scalars at top level */
    OK("0"), OK("-0"), OK("1"), OK("-1"), OK("123"), OK("1.5"), OK("-1.5e10"),
    OK("1E+2"), OK("1e-2"), OK("0.0"), OK("0e0"), OK("1e00"), OK("-0.0e-0"),
    OK("123456789012345678901234567890"), OK("1e999999"),
    OK("true"), OK("false"), OK("null"), OK("\"\""), OK("\"abc\""),
    /* whitespace */
    OK(" 1 "), OK("\t\n\r [ ] \n"), OK("{ \"a\" : 1 , \"b\" : [ 1 , 2 ] }"),
    /* containers */
    OK("[]"), OK("{}"), OK("[[]]"), OK("[{}]"), OK("[1,2,3]"),
    OK("{\"a\":1,\"b\":[true,false,null],\"c\":{\"d\":\"e\"}}"),
    OK("[\"a\",{\"b\":[{}]},-1.0e+5,null]"),
    OK("{\"\":0}"), OK("{\"a\":1,\"a\":2}"),     /* duplicate keys are legal JSON */
    /* escapes */
    OK("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), OK("\"\\u0000\""), OK("\"\\u00e9\\u00E9\""),
    OK("\"\\uD83D\\uDE00\""), OK("\"\\ud83d\\ude00\""), OK("\"\\uDBFF\\uDFFF\""),
    OK("\"\\uFFFF\""), OK("\"\\uD7FF\\uE000\""),
    /* UTF-8 */
    OK("\"\xC3\xA9\""), OK("\"\xE2\x82\xAC\""), OK("\"\xF0\x9F\x98\x80\""),
    OK("\"\xF4\x8F\xBF\xBF\""), OK("\"\xEF\xBF\xBF\""), OK("\"\xED\x9F\xBF\""),
    OK("\"\xEE\x80\x80\""), OK("\"\xC2\x80\""), OK("\"\xE0\xA0\x80\""),
    OK("\"\xF0\x90\x80\x80\""), OK("\"\x7F\""),
    OK("{\"\xE4\xBD\xA0\xE5\xA5\xBD\":\"\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C\xE4\xBD\xA0\xE5\xA5\xBD\"}"),
    /* long strings cross the 16/8-byte block scanner boundaries */
    OK("\"0123456789abcdef0123456789abcdef0123456789abcdef\\n0123456789abcdef\xC3\xA9x\""),
    OK("\"0123456789abcde\\\"\""), OK("\"0123456789abcdef\""), OK("\"012345678901234\""),

    /* empty / whitespace only / BOM */
    BAD(""), BAD(" "), BAD("\n\t"), BAD("\xEF\xBB\xBF{}"), BAD("\x0B{}"), BAD("\x0C{}"),
    BAD("\xC2\xA0{}"),
    /* numbers */
    BAD("01"), BAD("-01"), BAD("00"), BAD("1."), BAD(".5"), BAD("-"), BAD("+1"),
    BAD("1e"), BAD("1e+"), BAD("1E-"), BAD("--1"), BAD("0x10"), BAD("NaN"),
    BAD("Infinity"), BAD("-Infinity"), BAD("1.5.3"), BAD("1.e5"), BAD("[01]"),
    BAD("[1.]"), BAD("-a"), BAD("1 2"), BAD("[- 1]"), BAD("0.1e"),
    /* literals */
    BAD("tru"), BAD("truex"), BAD("nul"), BAD("True"), BAD("NULL"), BAD("fals"),
    BAD("[t]"), BAD("nulll"),
    /* structure */
    BAD("["), BAD("]"), BAD("{"), BAD("}"), BAD("[1,]"), BAD("[,1]"), BAD("[1 2]"),
    BAD("[1,,2]"), BAD("[,]"), BAD("{\"a\"}"), BAD("{\"a\" 1}"), BAD("{\"a\":}"),
    BAD("{\"a\":1,}"), BAD("{a:1}"), BAD("{'a':1}"), BAD("{1:2}"), BAD("{,}"),
    BAD("{\"a\":1 \"b\":2}"), BAD("{\"a\":1;\"b\":2}"), BAD("[1}"), BAD("{\"a\":1]"),
    BAD("[1]]"), BAD("{}{}"), BAD("[] x"), BAD("{} //"), BAD("/* */ {}"),
    BAD("{\"a\"::1}"), BAD("{\"a\":1,,\"b\":2}"), BAD("[\"a\":1]"), BAD("{\"a\",1}"),
    /* strings and escapes */
    BAD("\"abc"), BAD("\"\\\""), BAD("\"\\"), BAD("\"\\x\""), BAD("\"\\a\""),
    BAD("\"\\'\""), BAD("\"\\U0041\""), BAD("\"\\u\""), BAD("\"\\u12\""),
    BAD("\"\\u12G4\""), BAD("\"\\u 123\""), BAD("\"\\uD800\""), BAD("\"\\uDC00\""),
    BAD("\"\\uDFFF\""), BAD("\"\\uD800\\u0041\""), BAD("\"\\uD800x\""),
    BAD("\"\\uD800\\\""), BAD("\"\\uDC00\\uD800\""), BAD("\"\\uD800\\uD800\""),
    BAD("\"\\uD800\\uDC0\""), BAD("\"\\uD800\\n\""), BAD("'abc'"),
    /* raw control characters and NUL bytes */
    BAD("\"\x01\""), BAD("\"\x1F\""), BAD("\"\t\""), BAD("\"\n\""), BAD("\"\r\""),
    BAD("\"a\0b\""), BAD("[1,\0 2]"), BAD("{}\0"), BAD("\0"), BAD("\0{}"),
    BAD("{\"a\0\":1}"),
    /* invalid UTF-8 */
    BAD("\"\x80\""), BAD("\"\xBF\""), BAD("\"\xC0\xAF\""), BAD("\"\xC1\xBF\""),
    BAD("\"\xE0\x80\xAF\""), BAD("\"\xE0\x9F\xBF\""), BAD("\"\xED\xA0\x80\""),
    BAD("\"\xED\xBF\xBF\""), BAD("\"\xF0\x80\x80\x80\""), BAD("\"\xF0\x8F\xBF\xBF\""),
    BAD("\"\xF4\x90\x80\x80\""), BAD("\"\xF5\x80\x80\x80\""), BAD("\"\xF8\x88\x80\x80\x80\""),
    BAD("\"\xFE\""), BAD("\"\xFF\""), BAD("\"\xE2\x82\""), BAD("\"\xE2\x82"),
    BAD("\"\xE2\""), BAD("\"\xF0\x9F\x98\""), BAD("\"\xC3\x28\""), BAD("\"\xE2\x28\xA1\""),
    BAD("\xC3\xA9"), BAD("[\xC3\xA9]"), BAD("{\"\xC3\":1}"),
    BAD("\"0123456789abcdef0123456789abc\xFF\""),
};

static void test_validate_table(void)
{
    for (size_t i = 0; i < sizeof vcases / sizeof vcases[0]; i++) {
        const vcase_t *c = &vcases[i];
        ig_json_error_t err;
        int r = validate_n(c->s, c->n, &err);
        if (c->ok) {
            ig_check_at(__FILE__, c->line, r == 0, "expected valid, got \"%s\"", err.msg);
        } else {
            ig_check_at(__FILE__, c->line, r == -1, "expected invalid, got valid");
            ig_check_at(__FILE__, c->line, r != -1 || (err.offset <= c->n && err.msg[0]),
                        "error must have a message and an in-range offset (%zu)", err.offset);
        }
        /* Also without an error struct. */
        ig_check_at(__FILE__, c->line, validate_n(c->s, c->n, NULL) == r, "NULL err differs");
    }
}

/* ------------------------------------------------------------------------ */
/* Error messages and offsets                                               */
/* ------------------------------------------------------------------------ */

static void expect_error(int line, const char *s, size_t offset, const char *msg)
{
    ig_json_error_t err;
    int r = validate_n(s, strlen(s), &err);
    ig_check_at(__FILE__, line, r == -1, "'%s' should be invalid", s);
    ig_check_at(__FILE__, line, err.offset == offset, "'%s': offset %zu, want %zu (%s)",
                s, err.offset, offset, err.msg);
    ig_check_at(__FILE__, line, strcmp(err.msg, msg) == 0, "'%s': msg \"%s\", want \"%s\"",
                s, err.msg, msg);
}

static void test_error_messages(void)
{
    expect_error(__LINE__, "{\"model\" 1}", 9, "expected ':' after object key at byte 9");
    expect_error(__LINE__, "[1,2,]", 5, "trailing comma before ']' at byte 5");
    expect_error(__LINE__, "{\"a\":1,}", 7, "trailing comma before '}' at byte 7");
    expect_error(__LINE__, "\"abc", 4, "unterminated string (opened at byte 0) at byte 4");
    expect_error(__LINE__, "{\"a\":01}", 5, "leading zero in number at byte 5");
    expect_error(__LINE__, "[1]x", 3, "unexpected 'x', expected end of input after the value at byte 3");
    expect_error(__LINE__, "", 0, "empty input, expected a JSON value at byte 0");
    expect_error(__LINE__, "  ", 2, "expected a JSON value, found only whitespace at byte 2");
    expect_error(__LINE__, "\"\\uD800\"", 1,
                 "high surrogate \\uD800 not followed by a low surrogate at byte 1");
    expect_error(__LINE__, "\"\\uDE00\"", 1, "lone low surrogate \\uDE00 in string at byte 1");
    expect_error(__LINE__, "\"a\x01\"", 2, "unescaped control character 0x01 in string at byte 2");
    expect_error(__LINE__, "[\"\xC3(\"]", 2, "invalid UTF-8 (byte 0xC3) in string at byte 2");
    expect_error(__LINE__, "{\"a\":1 \"b\":2}", 7,
                 "unexpected '\"', expected ',' or '}' after object member at byte 7");
    expect_error(__LINE__, "[1 2]", 3, "unexpected '2', expected ',' or ']' after array element at byte 3");
    expect_error(__LINE__, "{1:2}", 1, "unexpected '1', expected a string key or '}' at byte 1");
    expect_error(__LINE__, "[1,", 3, "unexpected end of input, expected a value at byte 3");
    expect_error(__LINE__, "{\"a\":[1", 7, "unexpected end of input, expected ',' or ']' at byte 7");
    expect_error(__LINE__, "\"\\q\"", 1, "invalid escape '\\q' in string at byte 1");
    expect_error(__LINE__, "nul", 0, "invalid literal (expected 'null') at byte 0");
    expect_error(__LINE__, "-x", 1, "expected a digit after '-' at byte 1");
    expect_error(__LINE__, "1.x", 2, "expected a digit after '.' in number at byte 2");
    expect_error(__LINE__, "\xEF\xBB\xBF{}", 0, "UTF-8 byte order mark is not allowed at byte 0");

    /* NUL byte inside: needs an explicit length. */
    {
        ig_json_error_t err;
        CHECK(validate_n("[1,\0]", 5, &err) == -1);
        CHECKF(err.offset == 3 && strcmp(err.msg, "unexpected byte 0x00, expected a value at byte 3") == 0,
               "got %zu \"%s\"", err.offset, err.msg);
    }
    /* NULL buffer. */
    {
        ig_json_error_t err;
        CHECK(ig_json_validate(NULL, 0, &err) == -1 && err.msg[0]);
        CHECK(ig_json_validate(NULL, 5, &err) == -1 && err.msg[0]);
    }
}

/* ------------------------------------------------------------------------ */
/* Depth                                                                    */
/* ------------------------------------------------------------------------ */

/* Builds `depth` nested containers: arrays, or objects {"k":...} when obj. */
static size_t build_nested(char *buf, int depth, int obj)
{
    size_t o = 0;
    for (int i = 0; i < depth; i++) {
        if (obj) {
            memcpy(buf + o, "{\"k\":", 5);
            o += 5;
        } else {
            buf[o++] = '[';
        }
    }
    buf[o++] = '1';
    for (int i = 0; i < depth; i++)
        buf[o++] = obj ? '}' : ']';
    return o;
}

static void test_depth(void)
{
    static char buf[8 * 1024];
    ig_json_error_t err;
    size_t n;

    for (int obj = 0; obj < 2; obj++) {
        n = build_nested(buf, IG_JSON_MAX_DEPTH, obj);
        CHECKF(validate_n(buf, n, &err) == 0, "depth %d (obj=%d): %s", IG_JSON_MAX_DEPTH, obj, err.msg);
        n = build_nested(buf, IG_JSON_MAX_DEPTH + 1, obj);
        CHECKF(validate_n(buf, n, &err) == -1 && strstr(err.msg, "nesting deeper than 64"),
               "depth %d (obj=%d) accepted", IG_JSON_MAX_DEPTH + 1, obj);
    }
    /* Mixed nesting at exactly the limit, then the helpers walk down it. */
    {
        size_t o = 0;
        ig_json_value_t root, v;
        char path[4 * IG_JSON_MAX_DEPTH];
        size_t pl = 0;
        for (int i = 0; i < IG_JSON_MAX_DEPTH; i++) {
            if (i % 2) {
                memcpy(buf + o, "{\"a\":", 5);
                o += 5;
                memcpy(path + pl, "a.", 2);
            } else {
                buf[o++] = '[';
                memcpy(path + pl, "0.", 2);
            }
            pl += 2;
        }
        memcpy(buf + o, "42", 2);
        o += 2;
        for (int i = IG_JSON_MAX_DEPTH - 1; i >= 0; i--)
            buf[o++] = (i % 2) ? '}' : ']';
        path[pl - 1] = '\0';
        CHECK(validate_n(buf, o, NULL) == 0);
        CHECK(ig_json_parse_value(buf, o, &root) == 0 && root.type == IG_JSON_ARRAY && root.len == o);
        CHECK(ig_json_path(&root, path, &v) == 1 && v.type == IG_JSON_NUMBER && v.len == 2);
    }
    /* Very deep garbage is rejected at the limit, without recursion. */
    {
        size_t big = 1000000;
        char *deep = malloc(big);
        memset(deep, '[', big);
        CHECK(ig_json_validate(deep, big, &err) == -1 && err.offset == IG_JSON_MAX_DEPTH);
        ig_json_value_t v;
        CHECK(ig_json_parse_value(deep, big, &v) == -1);     /* unterminated */
        memset(deep + big / 2, ']', big / 2);
        CHECK(ig_json_validate(deep, big, NULL) == -1);
        CHECK(ig_json_parse_value(deep, big, &v) == 0 && v.len == big);
        free(deep);
    }
}

/* ------------------------------------------------------------------------ */
/* parse_value and iteration                                                */
/* ------------------------------------------------------------------------ */

static void test_parse_value(void)
{
    ig_json_value_t v;

    CHECK(parse("  {\"a\":1}  ", &v) == 0 && v.type == IG_JSON_OBJECT && v.len == 7 && v.ptr[0] == '{');
    CHECK(parse("[1,[2,3]] ,", &v) == 0 && v.type == IG_JSON_ARRAY && v.len == 9);
    CHECK(parse("\"a\\\"b\" x", &v) == 0 && v.type == IG_JSON_STRING && v.len == 6);
    CHECK(parse("-12.5e3,", &v) == 0 && v.type == IG_JSON_NUMBER && v.len == 7);
    CHECK(parse("true]", &v) == 0 && v.type == IG_JSON_TRUE && v.len == 4);
    CHECK(parse("false", &v) == 0 && v.type == IG_JSON_FALSE && v.len == 5);
    CHECK(parse("null", &v) == 0 && v.type == IG_JSON_NULL && v.len == 4);
    CHECK(parse("[\"]\", \"\\\\\", \"{\"]", &v) == 0 && v.len == 16);    /* brackets in strings */
    CHECK(parse("", &v) == -1 && v.type == IG_JSON_INVALID);
    CHECK(parse("   ", &v) == -1);
    CHECK(parse("tru", &v) == -1);
    CHECK(parse("\"abc", &v) == -1);
    CHECK(parse("\"abc\\\"", &v) == -1);
    CHECK(parse("[1,2", &v) == -1);
    CHECK(parse("x", &v) == -1);
    CHECK(parse("}", &v) == -1);
    CHECK(ig_json_parse_value(NULL, 0, &v) == -1);
    CHECK(ig_json_parse_value("1", 1, NULL) == -1);
}

/* validate_value: the root's type and span, as parse_value finds it, without surrounding whitespace. */
static void test_validate_value(void)
{
    static const char *const texts[] = {" {\"a\":[1,2]} ", "\n[true]\t", "\"s\"", "-1.5e3 ", " true", "false", "null\r\n"};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        ig_json_value_t a, b;
        size_t n = strlen(texts[i]);
        CHECKF(ig_json_validate_value(texts[i], n, NULL, &a) == 0, "validate_value(%s)", texts[i]);
        CHECKF(ig_json_parse_value(texts[i], n, &b) == 0, "parse_value(%s)", texts[i]);
        CHECKF(a.type == b.type && a.ptr == b.ptr && a.len == b.len, "same value for %s", texts[i]);
    }
    ig_json_error_t err;
    ig_json_value_t v = {IG_JSON_INVALID, NULL, 0};
    CHECK(ig_json_validate_value("{\"a\":}", 6, &err, &v) == -1 && err.msg[0] != '\0' && v.ptr == NULL);
    CHECK(ig_json_validate_value("  ", 2, &err, &v) == -1);
    CHECK(ig_json_api.validate_value == ig_json_validate_value);
}

static void test_iter(void)
{
    ig_json_value_t root, k, v;
    ig_json_iter_t it;
    const char *doc = "{ \"a\" : 1 , \"b\\u0063\":[true, {\"x\":null}] ,\"\":\"s\" }";

    CHECK(parse(doc, &root) == 0);
    CHECK(ig_json_iter_init(&it, &root) == 0);
    CHECK(ig_json_iter_next(&it, &k, &v) == 1 && k.len == 3 && memcmp(k.ptr, "\"a\"", 3) == 0 &&
          v.type == IG_JSON_NUMBER && v.len == 1 && v.ptr[0] == '1');
    CHECK(ig_json_iter_next(&it, &k, &v) == 1 && ig_json_string_eq(&k, "bc", 2) &&
          v.type == IG_JSON_ARRAY && v.len == 18);
    {
        ig_json_iter_t in;
        ig_json_value_t e;
        CHECK(ig_json_iter_init(&in, &v) == 0);
        CHECK(ig_json_iter_next(&in, NULL, &e) == 1 && e.type == IG_JSON_TRUE);
        CHECK(ig_json_iter_next(&in, &k, &e) == 1 && e.type == IG_JSON_OBJECT && e.len == 10 &&
              k.type == IG_JSON_INVALID);
        CHECK(ig_json_iter_next(&in, NULL, &e) == 0);
        CHECK(ig_json_iter_next(&in, NULL, &e) == 0);      /* stays finished */
    }
    CHECK(ig_json_iter_next(&it, &k, &v) == 1 && k.len == 2 && v.type == IG_JSON_STRING);
    CHECK(ig_json_iter_next(&it, &k, &v) == 0);

    /* Empty containers. */
    CHECK(parse("[ ]", &root) == 0 && ig_json_iter_init(&it, &root) == 0 &&
          ig_json_iter_next(&it, NULL, &v) == 0);
    CHECK(parse("{}", &root) == 0 && ig_json_iter_init(&it, &root) == 0 &&
          ig_json_iter_next(&it, &k, &v) == 0);

    /* Not containers. */
    CHECK(parse("\"[]\"", &root) == 0 && ig_json_iter_init(&it, &root) == -1);
    CHECK(ig_json_iter_next(&it, &k, &v) == -1);
    CHECK(parse("12", &root) == 0 && ig_json_iter_init(&it, &root) == -1);
    {
        ig_json_value_t lie = { IG_JSON_OBJECT, "[1]", 3 };   /* type and span disagree */
        CHECK(ig_json_iter_init(&it, &lie) == -1);
        ig_json_value_t tiny = { IG_JSON_ARRAY, "[", 1 };
        CHECK(ig_json_iter_init(&it, &tiny) == -1);
        ig_json_value_t nul = { IG_JSON_ARRAY, NULL, 2 };
        CHECK(ig_json_iter_init(&it, &nul) == -1);
        CHECK(ig_json_iter_init(&it, NULL) == -1);
        CHECK(ig_json_iter_init(NULL, &tiny) == -1);
    }

    /* Malformed content: well-formed members come out, then -1 for good. */
    {
        ig_json_value_t bad = { IG_JSON_ARRAY, "[1 2]", 5 };
        CHECK(ig_json_iter_init(&it, &bad) == 0);
        CHECK(ig_json_iter_next(&it, NULL, &v) == 1 && v.len == 1);
        CHECK(ig_json_iter_next(&it, NULL, &v) == -1);
        CHECK(ig_json_iter_next(&it, NULL, &v) == -1);
        ig_json_value_t bad2 = { IG_JSON_OBJECT, "{\"a\" 1}", 7 };
        CHECK(ig_json_iter_init(&it, &bad2) == 0 && ig_json_iter_next(&it, &k, &v) == -1);
        ig_json_value_t bad3 = { IG_JSON_OBJECT, "{1:2}", 5 };
        CHECK(ig_json_iter_init(&it, &bad3) == 0 && ig_json_iter_next(&it, &k, &v) == -1);
        ig_json_value_t bad4 = { IG_JSON_ARRAY, "[\"abc]", 6 };
        CHECK(ig_json_iter_init(&it, &bad4) == 0 && ig_json_iter_next(&it, &k, &v) == -1);
        ig_json_value_t bad5 = { IG_JSON_OBJECT, "{\"a\":}", 6 };
        CHECK(ig_json_iter_init(&it, &bad5) == 0 && ig_json_iter_next(&it, &k, &v) == -1);
    }
}

/* ------------------------------------------------------------------------ */
/* object_get and path                                                      */
/* ------------------------------------------------------------------------ */

static void test_object_get(void)
{
    ig_json_value_t root, v;
    const char *doc =
        "{\"mo\\u0064el\":\"gpt\",\"a\\\"b\":1,\"\\uD83D\\uDE00\":2,\"a\\u0000b\":3,"
        "\"modelx\":4,\"dup\":5,\"dup\":6,\"\\\\\":7,\"\":8,\"tab\\t\":9}";

    CHECK(validate_n(doc, strlen(doc), NULL) == 0);
    CHECK(parse(doc, &root) == 0);
    CHECK(ig_json_object_get(&root, "model", 5, &v) == 1 && ig_json_string_eq(&v, "gpt", 3));
    CHECK(ig_json_object_get(&root, "a\"b", 3, &v) == 1 && v.ptr[0] == '1');
    CHECK(ig_json_object_get(&root, "\xF0\x9F\x98\x80", 4, &v) == 1 && v.ptr[0] == '2');
    CHECK(ig_json_object_get(&root, "a\0b", 3, &v) == 1 && v.ptr[0] == '3');
    CHECK(ig_json_object_get(&root, "a", 1, &v) == 0 && v.type == IG_JSON_INVALID);
    CHECK(ig_json_object_get(&root, "mode", 4, &v) == 0);
    CHECK(ig_json_object_get(&root, "modelx", 6, &v) == 1 && v.ptr[0] == '4');
    CHECK(ig_json_object_get(&root, "dup", 3, &v) == 1 && v.ptr[0] == '6');     /* last wins */
    CHECK(ig_json_object_get(&root, "\\", 1, &v) == 1 && v.ptr[0] == '7');
    CHECK(ig_json_object_get(&root, "", 0, &v) == 1 && v.ptr[0] == '8');
    CHECK(ig_json_object_get(&root, NULL, 0, &v) == 1 && v.ptr[0] == '8');
    CHECK(ig_json_object_get(&root, "tab\t", 4, &v) == 1 && v.ptr[0] == '9');
    CHECK(ig_json_object_get(&root, "model", 5, NULL) == 1);
    CHECK(ig_json_object_get(&root, NULL, 3, &v) == -1);

    CHECK(parse("[1]", &root) == 0 && ig_json_object_get(&root, "a", 1, &v) == -1);
    CHECK(parse("\"a\"", &root) == 0 && ig_json_object_get(&root, "a", 1, &v) == -1);
    CHECK(ig_json_object_get(NULL, "a", 1, &v) == -1);
    {
        ig_json_value_t bad = { IG_JSON_OBJECT, "{\"a\":1 \"b\":2}", 13 };
        CHECK(ig_json_object_get(&bad, "a", 1, &v) == -1);
        ig_json_value_t bad2 = { IG_JSON_OBJECT, "{\"\\x\":1}", 8 };
        CHECK(ig_json_object_get(&bad2, "x", 1, &v) == 0);      /* bad escape never matches */
    }
}

static void test_path(void)
{
    ig_json_value_t root, v;
    int64_t i;
    const char *doc =
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}},"
        "{\"index\":1,\"delta\":{\"content\":null}}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3},"
        "\"0\":{\"1\":\"numeric keys\"},\"m\":[[10,11],[20,21,22]]}";

    CHECK(validate_n(doc, strlen(doc), NULL) == 0);
    CHECK(parse(doc, &root) == 0);
    CHECK(ig_json_path(&root, "usage.prompt_tokens", &v) == 1 && ig_json_int64(&v, &i) == 0 && i == 12);
    CHECK(ig_json_path(&root, "choices.0.delta.content", &v) == 1 && ig_json_string_eq(&v, "Hi", 2));
    CHECK(ig_json_path(&root, "choices.1.delta.content", &v) == 1 && v.type == IG_JSON_NULL);
    CHECK(ig_json_path(&root, "choices.1.index", &v) == 1 && ig_json_int64(&v, &i) == 0 && i == 1);
    CHECK(ig_json_path(&root, "m.1.2", &v) == 1 && ig_json_int64(&v, &i) == 0 && i == 22);
    CHECK(ig_json_path(&root, "m.0", &v) == 1 && v.type == IG_JSON_ARRAY && v.len == 7);
    CHECK(ig_json_path(&root, "0.1", &v) == 1 && v.type == IG_JSON_STRING);
    CHECK(ig_json_path(&root, "", &v) == 1 && v.ptr == root.ptr && v.len == root.len);
    CHECK(ig_json_path(&root, "id", NULL) == 1);

    CHECK(ig_json_path(&root, "choices.2", &v) == 0 && v.type == IG_JSON_INVALID);
    CHECK(ig_json_path(&root, "choices.99999999999999999999999999", &v) == 0);
    CHECK(ig_json_path(&root, "usage.total_tokens", &v) == 0);
    CHECK(ig_json_path(&root, "nope.deeper", &v) == 0);
    CHECK(ig_json_path(&root, "m.1.3", &v) == 0);

    CHECK(ig_json_path(&root, "choices.x", &v) == -1);           /* name on an array */
    CHECK(ig_json_path(&root, "choices.-1", &v) == -1);
    CHECK(ig_json_path(&root, "id.x", &v) == -1);                /* into a scalar */
    CHECK(ig_json_path(&root, "usage.prompt_tokens.x", &v) == -1);
    CHECK(ig_json_path(&root, "usage..prompt_tokens", &v) == -1);
    CHECK(ig_json_path(&root, "usage.", &v) == -1);
    CHECK(ig_json_path(&root, ".usage", &v) == -1);
    CHECK(ig_json_path(&root, NULL, &v) == -1);
    CHECK(ig_json_path(NULL, "a", &v) == -1);
    {
        ig_json_value_t bad = { IG_JSON_ARRAY, "[1 2 3]", 7 };
        CHECK(ig_json_path(&bad, "0", &v) == 1);
        CHECK(ig_json_path(&bad, "2", &v) == -1);
    }
}

/* ------------------------------------------------------------------------ */
/* Scalars                                                                  */
/* ------------------------------------------------------------------------ */

static ig_json_value_t num(const char *s)
{
    ig_json_value_t v = { IG_JSON_NUMBER, s, strlen(s) };
    return v;
}

static void test_int64(void)
{
    static const struct { int line; const char *s; int ok; int64_t want; } c[] = {
        { __LINE__, "0", 1, 0 },
        { __LINE__, "-0", 1, 0 },
        { __LINE__, "7", 1, 7 },
        { __LINE__, "-42", 1, -42 },
        { __LINE__, "9223372036854775807", 1, INT64_MAX },
        { __LINE__, "-9223372036854775808", 1, INT64_MIN },
        { __LINE__, "9223372036854775806", 1, INT64_MAX - 1 },
        { __LINE__, "-9223372036854775807", 1, INT64_MIN + 1 },
        { __LINE__, "1000000000000000000", 1, 1000000000000000000LL },
        { __LINE__, "9223372036854775808", 0, 0 },
        { __LINE__, "9223372036854775810", 0, 0 },
        { __LINE__, "-9223372036854775809", 0, 0 },
        { __LINE__, "18446744073709551615", 0, 0 },
        { __LINE__, "18446744073709551616", 0, 0 },
        { __LINE__, "99999999999999999999", 0, 0 },
        { __LINE__, "184467440737095516160", 0, 0 },
        { __LINE__, "1.0", 0, 0 },
        { __LINE__, "1e3", 0, 0 },
        { __LINE__, "1E3", 0, 0 },
        { __LINE__, "-", 0, 0 },
        { __LINE__, "01", 0, 0 },
        { __LINE__, "-01", 0, 0 },
        { __LINE__, "+1", 0, 0 },
        { __LINE__, " 1", 0, 0 },
        { __LINE__, "1 ", 0, 0 },
        { __LINE__, "\"1\"", 0, 0 },
        { __LINE__, "true", 0, 0 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int64_t out = 12345;
        ig_json_value_t v = num(c[i].s);
        int r = ig_json_int64(&v, &out);
        if (c[i].ok)
            ig_check_at(__FILE__, c[i].line, r == 0 && out == c[i].want, "int64(%s) = %d, %lld",
                        c[i].s, r, (long long)out);
        else
            ig_check_at(__FILE__, c[i].line, r == -1 && out == 12345, "int64(%s) accepted", c[i].s);
    }
    ig_json_value_t empty = { IG_JSON_NUMBER, "", 0 };
    int64_t out;
    CHECK(ig_json_int64(&empty, &out) == -1);
    CHECK(ig_json_int64(NULL, &out) == -1);
}

/* Exact comparison that also tells -0.0 from 0.0. */
static int same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static void check_double_vs_strtod(int line, const char *s)
{
    ig_json_value_t v = num(s);
    double got = 0, want = strtod(s, NULL);
    int r = ig_json_double(&v, &got);
    int inf = want > 1.7976931348623157e308 || want < -1.7976931348623157e308;
    if (inf)
        ig_check_at(__FILE__, line, r == -1, "double(%.60s) should overflow", s);
    else
        ig_check_at(__FILE__, line, r == 0 && same_double(got, want), "double(%.60s...) = %.17g want %.17g",
                    s, got, want);
}

static void test_double(void)
{
    static const char *ok[] = {
        "0", "-0", "0.0", "-0.0", "1", "-1", "0.1", "0.7", "1.5", "-2.5E+2", "1e-3", "1e22", "1e23",
        "123456789012345678901234567890", "9007199254740993", "9007199254740992",
        "18446744073709551615", "0.30000000000000004", "2.2250738585072011e-308",
        "2.2250738585072014e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "1e-400", "1.7976931348623157e308", "1.7976931348623158e308",
        "3.141592653589793238462643383279502884197169399375105820974944", "1e0000000000000000000001",
        "0.000000000000000000000000000000000000000000001e45", "100000000000000000000000e-23",
        "7.2057594037927933e16", "0.1e1", "123.456e-2", "1e-22", "1e-23",
        "8.98846567431158e307", "1.00000000000000011102230246251565404236316680908203125",
        "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        check_double_vs_strtod(__LINE__, ok[i]);

    static const char *bad[] = { "", "-", "1.", ".1", "01", "1e", "1e+", "+1", "0x1", "1 ", "nan",
                                 "inf", "\"1\"", "1.5.3", "--1", "1e1e1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ig_json_value_t v = num(bad[i]);
        double d = 42;
        CHECKF(ig_json_double(&v, &d) == -1 && d == 42, "double(%s) accepted", bad[i]);
    }
    ig_json_value_t v = num("1e309");
    CHECK(ig_json_double(&v, NULL) == -1);
    v = num("-1e99999999999999999999999999");
    CHECK(ig_json_double(&v, NULL) == -1);
    double d;
    v = num("1e-99999999999999999999999999");
    CHECK(ig_json_double(&v, &d) == 0 && same_double(d, 0.0));

    /* Halfway case decided by a digit far beyond 768 significant digits:
     * 2^53 + 1 followed by zeros then a final 1 must round up. */
    {
        static char big[2100];
        size_t o = 0;
        memcpy(big, "9007199254740993.", 17);
        o = 17;
        memset(big + o, '0', 2000);
        o += 2000;
        big[o++] = '1';
        big[o] = '\0';
        check_double_vs_strtod(__LINE__, big);
        big[o - 1] = '0';
        check_double_vs_strtod(__LINE__, big);
    }

    /* Random numbers of every shape against glibc's correctly rounded strtod. */
    for (int n = 0; n < 20000; n++) {
        char s[1400];
        size_t o = 0;
        int nint = 1 + (int)(rng() % ((n % 10) ? 20 : 900));
        int nfrac = (rng() % 3) ? (int)(rng() % ((n % 7) ? 20 : 400)) : 0;
        if (rng() % 2)
            s[o++] = '-';
        s[o++] = (char)('1' + rng() % 9);
        for (int i = 1; i < nint; i++)
            s[o++] = (char)('0' + ((rng() % 4) ? rng() % 10 : 0));
        if (rng() % 5 == 0) {
            o = (s[0] == '-');
            s[o++] = '0';
        }
        if (nfrac) {
            s[o++] = '.';
            for (int i = 0; i < nfrac; i++)
                s[o++] = (char)('0' + rng() % 10);
        }
        if (rng() % 2)
            o += (size_t)sprintf(s + o, "e%d", (int)(rng() % 700) - 350);
        s[o] = '\0';
        check_double_vs_strtod(__LINE__, s);
    }
}

static void test_bool(void)
{
    ig_json_value_t v;
    int b = 7;

    CHECK(parse("true", &v) == 0 && ig_json_bool(&v, &b) == 0 && b == 1);
    CHECK(parse("false", &v) == 0 && ig_json_bool(&v, &b) == 0 && b == 0);
    b = 7;
    CHECK(parse("null", &v) == 0 && ig_json_bool(&v, &b) == -1 && b == 7);
    CHECK(parse("\"true\"", &v) == 0 && ig_json_bool(&v, &b) == -1);
    CHECK(parse("1", &v) == 0 && ig_json_bool(&v, &b) == -1);
    ig_json_value_t trunc = { IG_JSON_TRUE, "tru", 3 };
    CHECK(ig_json_bool(&trunc, &b) == -1);
    CHECK(ig_json_bool(NULL, &b) == -1);
}

/* ------------------------------------------------------------------------ */
/* Strings                                                                  */
/* ------------------------------------------------------------------------ */

static ig_json_value_t str(const char *s)
{
    ig_json_value_t v = { IG_JSON_STRING, s, strlen(s) };
    return v;
}

static void test_unescape(void)
{
    char buf[64];
    size_t n = 99;
    ig_json_value_t v;

    v = str("\"abc\"");
    memset(buf, 'X', sizeof buf);
    CHECK(ig_json_string_unescape(&v, buf, 3, &n) == 0 && n == 3 && memcmp(buf, "abc", 3) == 0 &&
          buf[3] == 'X');                                   /* exact fit: no NUL */
    CHECK(ig_json_string_unescape(&v, buf, 4, &n) == 0 && n == 3 && buf[3] == '\0');
    CHECK(ig_json_string_unescape(&v, buf, 2, &n) == -1 && n == 3);     /* needed size */
    CHECK(ig_json_string_unescape(&v, NULL, 0, &n) == -1 && n == 3);
    CHECK(ig_json_string_unescape(&v, buf, sizeof buf, NULL) == 0);

    v = str("\"\"");
    CHECK(ig_json_string_unescape(&v, NULL, 0, &n) == 0 && n == 0);
    CHECK(ig_json_string_unescape(&v, buf, 1, &n) == 0 && n == 0 && buf[0] == '\0');

    v = str("\"a\\n\\t\\\"\\\\\\/\\b\\f\\r\\u00e9\\u20AC\\uD83D\\uDE00\\u0000z\"");
    CHECK(ig_json_string_unescape(&v, buf, sizeof buf, &n) == 0 && n == 20 &&
          memcmp(buf, "a\n\t\"\\/\b\f\r\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\0z", 20) == 0);
    CHECK(ig_json_string_unescape(&v, buf, 19, &n) == -1 && n == 20);
    /* A multi-byte escape that straddles the end of buf. */
    v = str("\"ab\\uD83D\\uDE00\"");
    CHECK(ig_json_string_unescape(&v, buf, 5, &n) == -1 && n == 6);
    CHECK(ig_json_string_unescape(&v, buf, 6, &n) == 0 && n == 6);

    /* Malformed spans. */
    static const char *bad[] = { "abc", "\"abc", "\"", "\"\\\"", "\"\\x\"", "\"\\u12\"",
                                 "\"\\uDC00\"", "\"\\uD800\"", "\"\\uD800\\u0041\"", "'a'" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = str(bad[i]);
        CHECKF(ig_json_string_unescape(&v, buf, sizeof buf, &n) == -1, "unescape(%s) accepted", bad[i]);
        CHECKF(ig_json_string_eq(&v, "", 0) == 0, "string_eq(%s) matched", bad[i]);
    }
    CHECK(ig_json_string_unescape(NULL, buf, sizeof buf, &n) == -1);
    ig_json_value_t nul = { IG_JSON_STRING, NULL, 5 };
    CHECK(ig_json_string_unescape(&nul, buf, sizeof buf, &n) == -1);
}

/* The start of a string's text, cut to a buffer at a character boundary (the prefix strategies get). */
static void test_unescape_prefix(void)
{
    char buf[64];
    size_t n = 99;
    const char *t = "a\\n\\u00e9\xC3\xA9\\uD83D\\uDE00z"; /* a \n é é 😀 z: 1+1+2+2+4+1 = 11 bytes */
    const char *want = "a\n\xC3\xA9\xC3\xA9\xF0\x9F\x98\x80z";
    CHECK(ig_json_unescape_prefix(t, strlen(t), buf, sizeof buf, &n) == 0 && n == 11 && memcmp(buf, want, 11) == 0);
    /* every cap: the longest whole-character prefix of the decoded text */
    static const size_t cut[] = {0, 1, 2, 2, 4, 4, 6, 6, 6, 6, 10, 11, 11};
    for (size_t cap = 0; cap <= 12; cap++) {
        memset(buf, 'X', sizeof buf);
        CHECKF(ig_json_unescape_prefix(t, strlen(t), buf, cap, &n) == 0 && n == cut[cap] && memcmp(buf, want, n) == 0 &&
                   (cap == 0 || n == cap || buf[n] == 'X'),
               "cap %zu: %zu bytes", cap, n);
    }
    /* a raw multi-byte character straddling the end is left out whole */
    const char *raw = "ab\xE2\x82\xAC" "c";
    CHECK(ig_json_unescape_prefix(raw, strlen(raw), buf, 4, &n) == 0 && n == 2);
    CHECK(ig_json_unescape_prefix(raw, strlen(raw), buf, 5, &n) == 0 && n == 5);
    CHECK(ig_json_unescape_prefix("", 0, buf, 8, &n) == 0 && n == 0);
    /* a malformed escape (not in a validated body) ends it, keeping what came before */
    CHECK(ig_json_unescape_prefix("ab\\x", 4, buf, sizeof buf, &n) == -1 && n == 2);
    CHECK(ig_json_unescape_prefix("ab\\uD800", 8, buf, sizeof buf, &n) == -1 && n == 2);
    CHECK(ig_json_unescape_prefix("ab\\", 3, buf, sizeof buf, &n) == -1 && n == 2);
}

static void test_string_eq(void)
{
    ig_json_value_t v = str("\"h\\u00e9llo\\n\"");

    CHECK(ig_json_string_eq(&v, "h\xC3\xA9llo\n", 7) == 1);
    CHECK(ig_json_string_eq(&v, "h\xC3\xA9llo", 6) == 0);
    CHECK(ig_json_string_eq(&v, "h\xC3\xA9llo\n!", 8) == 0);
    CHECK(ig_json_string_eq(&v, "h\xC3\xA9lLo\n", 7) == 0);
    v = str("\"plain\"");
    CHECK(ig_json_string_eq(&v, "plain", 5) == 1);
    CHECK(ig_json_string_eq(&v, "plai", 4) == 0);
    CHECK(ig_json_string_eq(&v, "plainer", 7) == 0);
    v = str("\"\"");
    CHECK(ig_json_string_eq(&v, NULL, 0) == 1);
    CHECK(ig_json_string_eq(&v, "x", 1) == 0);
    CHECK(ig_json_string_eq(&v, NULL, 1) == 0);
    v = str("\"\\\\\"");
    CHECK(ig_json_string_eq(&v, "\\", 1) == 1);
    CHECK(ig_json_string_eq(&v, "\\\\", 2) == 0);
    CHECK(ig_json_string_eq(NULL, "", 0) == 0);
}

static void expect_escape(int line, const char *in, size_t n, const char *want)
{
    char buf[256];
    size_t need = ig_json_escape(in, n, buf, sizeof buf);
    ig_check_at(__FILE__, line, need == strlen(want) && memcmp(buf, want, need) == 0,
                "escape gave %zu bytes \"%.*s\", want \"%s\"", need, (int)(need < 256 ? need : 0), buf, want);
}

static void test_escape(void)
{
    expect_escape(__LINE__, "", 0, "\"\"");
    expect_escape(__LINE__, "plain text", 10, "\"plain text\"");
    expect_escape(__LINE__, "a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\"");
    expect_escape(__LINE__, "\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
    expect_escape(__LINE__, "\x00\x01\x1F\x7F", 4, "\"\\u0000\\u0001\\u001f\x7F\"");
    expect_escape(__LINE__, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9, "\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\"");
    expect_escape(__LINE__, "\xFF", 1, "\"\\ufffd\"");
    expect_escape(__LINE__, "a\xC3", 2, "\"a\\ufffd\"");                    /* truncated */
    expect_escape(__LINE__, "\xC0\xAF", 2, "\"\\ufffd\\ufffd\"");          /* overlong */
    expect_escape(__LINE__, "\xED\xA0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""); /* surrogate */
    expect_escape(__LINE__, "\xE2\x82x", 3, "\"\\ufffd\\ufffdx\"");
    expect_escape(__LINE__, "0123456789abcdef0123456789\"abcdef", 33,
                  "\"0123456789abcdef0123456789\\\"abcdef\"");
    expect_escape(__LINE__, NULL, 5, "\"\"");

    /* Writes only when the whole result fits; always returns the size. */
    char buf[16];
    memset(buf, 'X', sizeof buf);
    CHECK(ig_json_escape("a\nb", 3, buf, 5) == 6 && buf[0] == 'X');
    CHECK(ig_json_escape("a\nb", 3, NULL, 0) == 6);
    CHECK(ig_json_escape("a\nb", 3, NULL, 100) == 6);
    CHECK(ig_json_escape("a\nb", 3, buf, 6) == 6 && memcmp(buf, "\"a\\nb\"", 6) == 0 && buf[6] == 'X');
    CHECK(ig_json_escape("\x01", 1, buf, 7) == 8 && buf[0] == '"' && buf[1] == 'a');
}

/* Random byte strings: escape -> validate -> parse -> unescape == sanitized input. */
static void test_escape_roundtrip(void)
{
    static const char *pieces[] = { "a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1F",
                                    "\x7F", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80",
                                    "\xEF\xBF\xBD", "\xF4\x8F\xBF\xBF", "\0", "\\u0041" };
    int failures = 0;

    for (int iter = 0; iter < 30000 && failures < 10; iter++) {
        unsigned char in[256];
        char esc[6 * 256 + 2], dec[4 * 256], ref[3 * 256];
        size_t n = 0, target = rng() % 200;

        while (n < target) {
            if (iter % 2 && rng() % 3 == 0) {
                in[n++] = (unsigned char)rng();                 /* any byte at all */
            } else {
                const char *p = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
                size_t k = p[0] ? strlen(p) : 1;
                if (n + k > sizeof in)
                    break;
                memcpy(in + n, p, k);
                n += k;
            }
        }
        /* Sometimes use a tight buffer to hit the measure-then-write path. */
        size_t need = ig_json_escape((const char *)in, n, NULL, 0);
        size_t cap = (iter % 3) ? sizeof esc : need;
        char *out = dup_exact(esc, cap);
        size_t got = ig_json_escape((const char *)in, n, out, cap);
        ig_json_error_t err = { 0, "" };
        ig_json_value_t v;
        size_t dn = 0, rn = ref_sanitize(in, n, ref);
        int ok = got == need &&
                 ig_json_validate(out, got, &err) == 0 &&
                 ig_json_parse_value(out, got, &v) == 0 && v.type == IG_JSON_STRING && v.len == got &&
                 ig_json_string_unescape(&v, dec, sizeof dec, &dn) == 0 &&
                 dn == rn && memcmp(dec, ref, rn) == 0 &&
                 ig_json_string_eq(&v, ref, rn) == 1;
        if (!CHECKF(ok, "round trip failed (iter %d, n %zu, need %zu got %zu): %s", iter, n, need,
                    got, err.msg))
            failures++;
        free(out);
    }
}

/* Random strings without '"', '\\' or controls: valid iff the bytes are UTF-8. */
static void test_utf8_differential(void)
{
    int failures = 0;

    for (int iter = 0; iter < 50000 && failures < 10; iter++) {
        char buf[40];
        size_t n = 1 + rng() % 30;
        buf[0] = '"';
        for (size_t i = 1; i <= n; i++) {
            unsigned char c;
            do {
                c = (unsigned char)((rng() % 4) ? 0x80 + rng() % 0x80 : rng() % 0x100);
            } while (c < 0x20 || c == '"' || c == '\\');
            buf[i] = (char)c;
        }
        buf[n + 1] = '"';
        size_t i = 0;
        int valid = 1;
        while (i < n) {
            size_t k = ref_utf8_len((unsigned char *)buf + 1 + i, n - i);
            if (!k) {
                valid = 0;
                break;
            }
            i += k;
        }
        int r = validate_n(buf, n + 2, NULL);
        if (!CHECKF((r == 0) == valid, "utf8 differential mismatch at iter %d", iter))
            failures++;
    }
}

/* ------------------------------------------------------------------------ */
/* Truncation: helpers never read past the end of any prefix                */
/* ------------------------------------------------------------------------ */

/* Touches everything reachable from v through the public helpers. */
static void walk(const ig_json_value_t *v, int depth)
{
    ig_json_iter_t it;
    ig_json_value_t k, e;
    char buf[128];
    size_t n;
    int64_t i;
    double d;
    int b;

    ig_json_int64(v, &i);
    ig_json_double(v, &d);
    ig_json_bool(v, &b);
    ig_json_string_unescape(v, buf, sizeof buf, &n);
    ig_json_string_eq(v, "x", 1);
    ig_json_path(v, "a.0", &e);
    if (depth > 80 || ig_json_iter_init(&it, v) < 0)
        return;
    while (ig_json_iter_next(&it, &k, &e) == 1) {
        ig_json_string_unescape(&k, buf, sizeof buf, &n);
        walk(&e, depth + 1);
    }
}

static void test_truncation(void)
{
    const char *doc =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"h\\u00e9\\uD83D\\uDE00 \\\"q\\\"\"}],"
        "\"n\":-12.5e3,\"t\":true,\"f\":false,\"z\":null,\"a\":[[],{},[1,[2,[3]]]]}";
    size_t n = strlen(doc);
    int full_ok = 0;

    for (size_t k = 0; k <= n; k++) {
        char *p = dup_exact(doc, k);
        ig_json_value_t v;
        int r = ig_json_validate(p, k, NULL);
        if (k == n)
            full_ok = (r == 0);
        else
            CHECKF(r == -1, "prefix of %zu bytes accepted", k);
        if (ig_json_parse_value(p, k, &v) == 0)
            walk(&v, 0);
        /* The same prefix presented as a container span, whatever it holds. */
        if (k >= 2) {
            ig_json_value_t lie = { IG_JSON_OBJECT, p, k };
            p[0] = '{';
            p[k - 1] = '}';
            walk(&lie, 0);
            lie.type = IG_JSON_ARRAY;
            p[0] = '[';
            p[k - 1] = ']';
            walk(&lie, 0);
        }
        free(p);
    }
    CHECK(full_ok);
}

/* ------------------------------------------------------------------------ */

static void test_api_table(void)
{
    ig_json_value_t v;
    CHECK(ig_json_api.validate == ig_json_validate);
    CHECK(ig_json_api.escape == ig_json_escape);
    CHECK(ig_json_api.dbl == ig_json_double);
    CHECK(ig_json_api.boolean == ig_json_bool);
    CHECK(ig_json_api.parse_value("[1]", 3, &v) == 0 && v.type == IG_JSON_ARRAY);
    CHECK(ig_json_api.parse_value && ig_json_api.iter_init && ig_json_api.iter_next &&
          ig_json_api.object_get && ig_json_api.path && ig_json_api.int64 &&
          ig_json_api.string_unescape && ig_json_api.string_eq);
}

int main(void)
{
    test_validate_table();
    test_error_messages();
    test_depth();
    test_parse_value();
    test_validate_value();
    test_iter();
    test_object_get();
    test_path();
    test_int64();
    test_double();
    test_bool();
    test_unescape();
    test_unescape_prefix();
    test_string_eq();
    test_escape();
    test_escape_roundtrip();
    test_utf8_differential();
    test_truncation();
    test_api_table();
    return ig_test_summary();
}
