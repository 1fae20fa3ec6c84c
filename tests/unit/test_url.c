/*
 * test_url.c — util/url.c: percent-decoding of path segments and query values: escapes in either
 * case, '+' only with IG_URL_PLUS_SPACE, truncated or non-hex escapes and NULs refused, the room
 * for the NUL enforced.
 */
#include <string.h>

#include "ig_test.h"
#include "util/url.h"

static int dec(const char *s, unsigned flags, char *out, size_t cap)
{
    size_t n = 99;
    int rc = ig_url_decode(s, strlen(s), flags, out, cap, &n);
    if (rc == 0 && n != strlen(out))
        return -2;
    return rc;
}

int main(void)
{
    char out[32];
    CHECK(dec("m%2F2", 0, out, sizeof(out)) == 0 && strcmp(out, "m/2") == 0);
    CHECK(dec("a%2fb%41", 0, out, sizeof(out)) == 0 && strcmp(out, "a/bA") == 0);
    CHECK(dec("", 0, out, sizeof(out)) == 0 && out[0] == '\0');
    CHECK(dec("a+b", 0, out, sizeof(out)) == 0 && strcmp(out, "a+b") == 0);
    CHECK(dec("a+b%2B", IG_URL_PLUS_SPACE, out, sizeof(out)) == 0 && strcmp(out, "a b+") == 0);
    CHECK(dec("%", 0, out, sizeof(out)) == -1);
    CHECK(dec("%4", 0, out, sizeof(out)) == -1);
    CHECK(dec("ab%4", 0, out, sizeof(out)) == -1);
    CHECK(dec("%g1", 0, out, sizeof(out)) == -1);
    CHECK(dec("%1g", 0, out, sizeof(out)) == -1);
    CHECK(dec("a%00b", 0, out, sizeof(out)) == -1);
    CHECK(ig_url_decode("a\0b", 3, 0, out, sizeof(out), NULL) == -1);
    /* room: the result and its NUL */
    CHECK(dec("abc", 0, out, 4) == 0 && strcmp(out, "abc") == 0);
    CHECK(dec("abc", 0, out, 3) == -1);
    CHECK(dec("%41%42", 0, out, 3) == 0 && strcmp(out, "AB") == 0);
    CHECK(ig_url_decode("", 0, 0, out, 0, NULL) == -1);
    /* the length is what was given, not the C string */
    CHECK(ig_url_decode("ab%41cd", 5, 0, out, sizeof(out), NULL) == 0 && strcmp(out, "abA") == 0);
    return ig_test_summary();
}
