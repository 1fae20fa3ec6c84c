/*
 * fuzz_static_path.c — libFuzzer target for the console's URL-to-file rules (core/http/static_path.c),
 * which unauthenticated clients reach. Input: "<raw path>\n<normalized path>", or one path used as both.
 *
 * Invariants checked: whatever is accepted is a relative path under console/, portal/, assets/ or
 * vendor/, with no "." or ".." segment, no empty segment, no hidden name, only safe characters,
 * NUL-terminated within the buffer; a raw path holding an encoded dot, slash, backslash or NUL, or a
 * ".." segment, is never accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http/static_path.h"

static int contains_ci(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, lit, k) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
    const char *data = (const char *)bytes;
    const char *nl = memchr(data, '\n', size);
    const char *raw = data, *path = data;
    size_t raw_len = size, len = size;
    if (nl != NULL) {
        raw_len = (size_t)(nl - data);
        path = nl + 1;
        len = size - raw_len - 1;
    }
    char out[256];
    memset(out, 'X', sizeof(out));
    int portal = 0;
    ig_static_kind_t k = ig_static_map(raw, raw_len, path, len, out, sizeof(out), &portal);
    if (k == IG_STATIC_REFUSED)
        return 0;
    size_t n = strnlen(out, sizeof(out));
    if (n == sizeof(out))
        abort(); /* not terminated */
    if (k == IG_STATIC_REDIRECT) {
        if (strcmp(out, portal ? "/portal/" : "/ui/") != 0)
            abort();
        return 0;
    }
    if (strncmp(out, "console/", 8) != 0 && strncmp(out, "portal/", 7) != 0 && strncmp(out, "assets/", 7) != 0 &&
        strncmp(out, "vendor/", 7) != 0)
        abort();
    if (out[0] == '/' || strstr(out, "//") || strstr(out, "/.") || out[n - 1] == '/')
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(".-_~@+/", c)))
            abort();
    }
    if (contains_ci(raw, raw_len, "%2e") || contains_ci(raw, raw_len, "%2f") || contains_ci(raw, raw_len, "%5c") ||
        contains_ci(raw, raw_len, "%00") || memchr(raw, '\\', raw_len) || memchr(raw, '\0', raw_len) ||
        contains_ci(raw, raw_len, "/../"))
        abort();
    return 0;
}
