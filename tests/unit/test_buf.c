/*
 * test_buf.c — util/buf.c and util/json_write.c: appends keep the text NUL-terminated across
 * growth, printf in one pass or two, decimal numbers, reset and take, a failure that sticks,
 * JSON string literals (escapes, invalid UTF-8, NULL as null) whatever room the buffer has.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ig_test.h"
#include "util/json.h"
#include "util/buf.h"
#include "util/json_write.h"

static void test_put(void)
{
    ig_buf_t b = {0};
    CHECK(b.p == NULL && b.len == 0);
    CHECK(ig_buf_put(&b, "", 0) == 0);
    CHECK(b.p != NULL && b.len == 0 && b.p[0] == '\0' && b.cap == IG_BUF_FIRST_CAP);
    CHECK(ig_buf_lit(&b, "ab") == 0 && ig_buf_putc(&b, 'c') == 0 && ig_buf_puts(&b, "de") == 0);
    CHECK(b.len == 5 && strcmp(b.p, "abcde") == 0);
    /* grows by doubling and keeps what was there */
    char big[5000];
    memset(big, 'x', sizeof(big));
    CHECK(ig_buf_put(&b, big, sizeof(big)) == 0);
    CHECK(b.len == 5005 && b.cap == 8192 && b.p[5005] == '\0' && memcmp(b.p, "abcdex", 6) == 0);
    /* exactly full: the NUL still needs its byte */
    ig_buf_t c = {0};
    CHECK(ig_buf_put(&c, big, IG_BUF_FIRST_CAP - 1) == 0 && c.cap == IG_BUF_FIRST_CAP);
    CHECK(ig_buf_putc(&c, 'y') == 0 && c.cap == 2 * IG_BUF_FIRST_CAP && c.p[IG_BUF_FIRST_CAP] == '\0');
    ig_buf_free(&c);
    ig_buf_free(&b);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0 && !b.failed);
}

static void test_printf(void)
{
    ig_buf_t b = {0};
    CHECK(ig_buf_printf(&b, "%s=%d", "n", 42) == 0 && strcmp(b.p, "n=42") == 0);
    /* longer than the room left: measured, grown, written again */
    char big[3000];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    CHECK(ig_buf_printf(&b, "[%s]", big) == 0);
    CHECK(b.len == 4 + 2 + 2999 && b.p[4] == '[' && b.p[b.len - 1] == ']' && b.p[b.len] == '\0');
    CHECK(ig_buf_printf(&b, "%s", "") == 0 && b.len == 4 + 2 + 2999);
    ig_buf_free(&b);
}

static void test_u64(void)
{
    ig_buf_t b = {0};
    ig_buf_put_u64(&b, 0);
    ig_buf_putc(&b, ' ');
    ig_buf_put_u64(&b, 1234567890);
    ig_buf_putc(&b, ' ');
    ig_buf_put_u64(&b, UINT64_MAX);
    CHECK(strcmp(b.p, "0 1234567890 18446744073709551615") == 0);
    ig_buf_free(&b);
}

static void test_reset_take(void)
{
    ig_buf_t b = {0};
    char *t = ig_buf_take(&b, NULL);
    CHECK(t != NULL && t[0] == '\0');
    free(t);
    ig_buf_lit(&b, "hello");
    size_t cap = b.cap;
    ig_buf_reset(&b);
    CHECK(b.len == 0 && b.cap == cap && b.p[0] == '\0');
    ig_buf_lit(&b, "again");
    size_t len = 0;
    t = ig_buf_take(&b, &len);
    CHECK(t != NULL && len == 5 && strcmp(t, "again") == 0);
    CHECK(b.p == NULL && b.len == 0 && b.cap == 0);
    free(t);
}

static void test_failure_sticks(void)
{
    ig_buf_t b = {0};
    ig_buf_lit(&b, "kept");
    /* a size that cannot be allocated: the buffer fails and stays failed */
    CHECK(ig_buf_grow(&b, SIZE_MAX - 2) == -1 && b.failed);
    CHECK(ig_buf_lit(&b, "x") == -1 && ig_buf_printf(&b, "%d", 1) == -1 && ig_json_write_str(&b, "s", 1) == -1);
    CHECK(b.len == 4 && strcmp(b.p, "kept") == 0);
    size_t len = 7;
    CHECK(ig_buf_take(&b, &len) == NULL && len == 0 && b.p == NULL);
    /* reset forgets the failure */
    ig_buf_lit(&b, "a");
    b.failed = 1;
    ig_buf_reset(&b);
    CHECK(ig_buf_lit(&b, "b") == 0 && strcmp(b.p, "b") == 0);
    ig_buf_free(&b);
}

static void test_json_write(void)
{
    ig_buf_t b = {0};
    CHECK(ig_json_write_str(&b, "a\"b\\c\n\x01", 7) == 0);
    CHECK(strcmp(b.p, "\"a\\\"b\\\\c\\n\\u0001\"") == 0);
    ig_buf_reset(&b);
    CHECK(ig_json_write_cstr(&b, NULL) == 0 && ig_buf_putc(&b, ',') == 0 && ig_json_write_cstr(&b, "\xC3\xA9\xFF") == 0);
    CHECK(strcmp(b.p, "null,\"\xC3\xA9\\ufffd\"") == 0);
    ig_buf_free(&b);

    /* every amount of room left before the write gives the same text (one pass, measure, grow) */
    char s[200];
    for (size_t i = 0; i < sizeof(s); i++)
        s[i] = (char)(i % 3 == 0 ? '"' : 'a' + i % 26);
    char want[1300];
    size_t wn = ig_json_escape(s, sizeof(s), want, sizeof(want));
    CHECK(wn < sizeof(want));
    for (size_t pre = IG_BUF_FIRST_CAP - 400; pre < IG_BUF_FIRST_CAP; pre += 7) {
        ig_buf_t c = {0};
        for (size_t i = 0; i < pre; i++)
            ig_buf_putc(&c, '.');
        CHECK(ig_json_write_str(&c, s, sizeof(s)) == 0);
        CHECKF(c.len == pre + wn && memcmp(c.p + pre, want, wn) == 0 && c.p[c.len] == '\0', "pre %zu", pre);
        ig_json_error_t err;
        CHECK(ig_json_validate(c.p + pre, c.len - pre, &err) == 0);
        ig_buf_free(&c);
    }
}

int main(void)
{
    test_put();
    test_printf();
    test_u64();
    test_reset_take();
    test_failure_sticks();
    test_json_write();
    return ig_test_summary();
}
