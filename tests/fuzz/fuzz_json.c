/*
 * fuzz_json.c — libFuzzer target for core/json.c.
 *
 * Every input goes through ig_json_validate, through the helpers as if it
 * were trusted (they must stay memory-safe on garbage), and through
 * ig_json_escape. When the validator accepts, the whole document is walked
 * and cross-checked: iteration never fails, every key is found again by
 * object_get and path, strings survive unescape -> escape -> validate ->
 * unescape unchanged, integers agree with doubles, and so on.
 *
 * Invariant violations abort() (not assert: it must fire in release builds).
 * fuzz_replay.c provides a main() to run inputs without libFuzzer.
 */
#include "util/json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
                    #cond);                                                     \
            abort();                                                            \
        }                                                                       \
    } while (0)

typedef struct {
    const char *base;   /* the input, for span bounds checks */
    size_t size;
} fuzz_doc_t;

static int in_input(const fuzz_doc_t *d, const ig_json_value_t *v)
{
    return v->ptr >= d->base && v->len <= d->size &&
           (size_t)(v->ptr - d->base) <= d->size - v->len;
}

/* Decoded text of a string value in a malloc'd block (caller frees). */
static char *unescape_alloc(const ig_json_value_t *v, size_t *n)
{
    size_t need = 0;
    char *buf = malloc(v->len ? v->len : 1);   /* decoding never grows text */

    FUZZ_CHECK(buf);
    FUZZ_CHECK(ig_json_string_unescape(v, buf, v->len, &need) == 0);
    FUZZ_CHECK(need <= v->len - 2);
    /* A buffer one byte short must be refused, and report the same size. */
    if (need > 0) {
        size_t again = 0;
        FUZZ_CHECK(ig_json_string_unescape(v, buf, need - 1, &again) == -1 && again == need);
        FUZZ_CHECK(ig_json_string_unescape(v, buf, v->len, &again) == 0 && again == need);
    }
    *n = need;
    return buf;
}

/* escape(text) must be valid JSON that decodes back to text (valid UTF-8). */
static void check_escape_roundtrip(const char *text, size_t n)
{
    size_t need = ig_json_escape(text, n, NULL, 0);
    char *out = malloc(need);
    ig_json_value_t v;
    size_t back_n;
    char *back;

    FUZZ_CHECK(out);
    FUZZ_CHECK(ig_json_escape(text, n, out, need) == need);
    FUZZ_CHECK(ig_json_validate(out, need, NULL) == 0);
    FUZZ_CHECK(ig_json_parse_value(out, need, &v) == 0 && v.type == IG_JSON_STRING && v.len == need);
    back = unescape_alloc(&v, &back_n);
    FUZZ_CHECK(back_n == n && (n == 0 || memcmp(back, text, n) == 0));
    FUZZ_CHECK(ig_json_string_eq(&v, text, n) == 1);
    free(back);
    free(out);
}

static void check_number(const ig_json_value_t *v)
{
    int64_t i;
    double d;
    int dr = ig_json_double(v, &d);

    if (ig_json_int64(v, &i) == 0) {
        /* Both conversions round the same exact integer to nearest. */
        FUZZ_CHECK(dr == 0 && d == (double)i);
    }
    if (dr != 0) {
        /* Only overflow (|x| >= ~1.8e308) may fail: that takes an exponent
         * or at least 309 integer digits. */
        FUZZ_CHECK(memchr(v->ptr, 'e', v->len) || memchr(v->ptr, 'E', v->len) || v->len >= 309);
    }
}

static void check_string(const ig_json_value_t *v)
{
    size_t n;
    char *text = unescape_alloc(v, &n);

    FUZZ_CHECK(ig_json_string_eq(v, text, n) == 1);
    if (n > 0)
        FUZZ_CHECK(ig_json_string_eq(v, text, n - 1) == 0);
    check_escape_roundtrip(text, n);
    free(text);
}

static void walk_valid(const fuzz_doc_t *d, const ig_json_value_t *v, int depth);

static void check_object(const fuzz_doc_t *d, const ig_json_value_t *obj, int depth)
{
    ig_json_iter_t it;
    ig_json_value_t k, v;
    int r;

    FUZZ_CHECK(ig_json_iter_init(&it, obj) == 0);
    while ((r = ig_json_iter_next(&it, &k, &v)) == 1) {
        ig_json_value_t got, last = v, k2, v2;
        ig_json_iter_t it2;
        size_t kn;
        char *key;

        FUZZ_CHECK(k.type == IG_JSON_STRING && in_input(d, &k) && in_input(d, &v));
        FUZZ_CHECK(k.ptr > obj->ptr && v.ptr + v.len < obj->ptr + obj->len);
        check_string(&k);
        key = unescape_alloc(&k, &kn);

        /* object_get returns the last member with this key. */
        FUZZ_CHECK(ig_json_iter_init(&it2, obj) == 0);
        while (ig_json_iter_next(&it2, &k2, &v2) == 1) {
            if (ig_json_string_eq(&k2, key, kn))
                last = v2;
        }
        FUZZ_CHECK(ig_json_object_get(obj, key, kn, &got) == 1);
        FUZZ_CHECK(got.ptr == last.ptr && got.len == last.len && got.type == last.type);

        /* The same lookup as a one-segment path, when the key can be one. */
        if (kn > 0 && !memchr(key, '.', kn) && !memchr(key, '\0', kn)) {
            char *path = malloc(kn + 1);
            FUZZ_CHECK(path);
            memcpy(path, key, kn);
            path[kn] = '\0';
            FUZZ_CHECK(ig_json_path(obj, path, &got) == 1 && got.ptr == last.ptr);
            free(path);
        }
        free(key);
        walk_valid(d, &v, depth + 1);
    }
    FUZZ_CHECK(r == 0);
    FUZZ_CHECK(ig_json_iter_next(&it, &k, &v) == 0);
}

static void check_array(const fuzz_doc_t *d, const ig_json_value_t *arr, int depth)
{
    ig_json_iter_t it;
    ig_json_value_t v, got;
    size_t idx = 0;
    char path[32];
    int r;

    FUZZ_CHECK(ig_json_iter_init(&it, arr) == 0);
    while ((r = ig_json_iter_next(&it, NULL, &v)) == 1) {
        FUZZ_CHECK(in_input(d, &v) && v.type != IG_JSON_INVALID);
        snprintf(path, sizeof path, "%zu", idx++);
        FUZZ_CHECK(ig_json_path(arr, path, &got) == 1 && got.ptr == v.ptr && got.len == v.len);
        walk_valid(d, &v, depth + 1);
    }
    FUZZ_CHECK(r == 0);
    snprintf(path, sizeof path, "%zu", idx);
    FUZZ_CHECK(ig_json_path(arr, path, &got) == 0);
}

/* Input accepted by the validator: every helper must agree with it. */
static void walk_valid(const fuzz_doc_t *d, const ig_json_value_t *v, int depth)
{
    int b;

    FUZZ_CHECK(depth <= IG_JSON_MAX_DEPTH);
    FUZZ_CHECK(v->len > 0 && in_input(d, v));
    /* Re-parsing a value's own span gives the same value. */
    {
        ig_json_value_t again;
        FUZZ_CHECK(ig_json_parse_value(v->ptr, v->len, &again) == 0);
        FUZZ_CHECK(again.ptr == v->ptr && again.len == v->len && again.type == v->type);
        FUZZ_CHECK(ig_json_validate(v->ptr, v->len, NULL) == 0);
    }
    switch (v->type) {
    case IG_JSON_OBJECT:
        check_object(d, v, depth);
        break;
    case IG_JSON_ARRAY:
        check_array(d, v, depth);
        break;
    case IG_JSON_STRING:
        check_string(v);
        break;
    case IG_JSON_NUMBER:
        check_number(v);
        break;
    case IG_JSON_TRUE:
    case IG_JSON_FALSE:
        FUZZ_CHECK(ig_json_bool(v, &b) == 0 && b == (v->type == IG_JSON_TRUE));
        break;
    case IG_JSON_NULL:
        FUZZ_CHECK(ig_json_bool(v, &b) == -1 && v->len == 4);
        break;
    default:
        FUZZ_CHECK(!"value of type INVALID in a valid document");
    }
}

/* Arbitrary input treated as trusted: results don't matter, safety does.
 * Recursion is capped since garbage can nest without limit. */
static void walk_any(const ig_json_value_t *v, int depth)
{
    ig_json_iter_t it;
    ig_json_value_t k, e;
    char buf[64];
    size_t n;
    int64_t i;
    double dbl;
    int b;

    (void)ig_json_int64(v, &i);
    (void)ig_json_double(v, &dbl);
    (void)ig_json_bool(v, &b);
    (void)ig_json_string_unescape(v, buf, sizeof buf, &n);
    (void)ig_json_string_eq(v, "model", 5);
    (void)ig_json_object_get(v, "model", 5, &e);
    (void)ig_json_path(v, "choices.0.delta", &e);
    if (depth >= 16 || ig_json_iter_init(&it, v) < 0)
        return;
    while (ig_json_iter_next(&it, &k, &e) == 1) {
        (void)ig_json_string_unescape(&k, buf, sizeof buf, &n);
        walk_any(&e, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    fuzz_doc_t doc = { s, size };
    ig_json_error_t err;
    ig_json_value_t root;
    int valid = ig_json_validate(s, size, &err) == 0;
    int parsed = ig_json_parse_value(s, size, &root) == 0;

    if (!valid) {
        FUZZ_CHECK(err.offset <= size && err.msg[0] != '\0');
        FUZZ_CHECK(strstr(err.msg, " at byte ") != NULL);
        FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
    }
    if (parsed) {
        FUZZ_CHECK(in_input(&doc, &root) && root.type != IG_JSON_INVALID);
        walk_any(&root, 0);
    }
    if (valid) {
        /* The root span covers everything but surrounding whitespace. */
        FUZZ_CHECK(parsed);
        for (const char *p = root.ptr + root.len; p < s + size; p++)
            FUZZ_CHECK(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
        walk_valid(&doc, &root, 0);
    }

    /* Escaping any bytes yields a valid JSON string literal. */
    {
        size_t need = ig_json_escape(s, size, NULL, 0);
        char *out = malloc(need);
        FUZZ_CHECK(out && need >= size + 2);
        FUZZ_CHECK(ig_json_escape(s, size, out, need) == need);
        FUZZ_CHECK(ig_json_validate(out, need, &err) == 0);
        free(out);
    }
    return 0;
}
