/* static_path.c — URL to file of the ui folder (static_path.h). */
#include "http/static_path.h"
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Anything that could step out of the folder or hide what it names, in the path as sent. */
static int suspicious(const char *raw, size_t n)
{
    static const char *const bad[] = {"%2e", "%2f", "%5c", "%00", "\\", "/./", "/../", NULL};
    for (size_t i = 0; bad[i]; i++) {
        size_t k = strlen(bad[i]);
        for (size_t j = 0; j + k <= n; j++)
            if (strncasecmp(raw + j, bad[i], k) == 0)
                return 1;
    }
    if (memchr(raw, '\0', n) != NULL)
        return 1;
    return (n >= 3 && memcmp(raw + n - 3, "/..", 3) == 0) || (n >= 2 && memcmp(raw + n - 2, "/.", 2) == 0);
}

/* Every segment a plain name: not empty (except after a trailing "/"), no leading dot, safe characters. */
static int clean_rest(const char *s, size_t n)
{
    size_t seg = 0;
    for (size_t i = 0; i < n; i++, seg++) {
        char c = s[i];
        if (c == '/') {
            if (seg == 0)
                return 0;
            seg = (size_t)-1;
            continue;
        }
        if (seg == 0 && c == '.')
            return 0;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_' || c == '~' || c == '@' || c == '+'))
            return 0;
    }
    return 1;
}

static int starts(const char *p, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    return n >= k && memcmp(p, lit, k) == 0;
}

ig_static_kind_t ig_static_map(const char *raw, size_t raw_len, const char *path, size_t len, char *out, size_t cap,
                               int *portal)
{
    *portal = starts(path, len, "/portal");
    size_t prefix = *portal ? 7 : 3;
    if (!(*portal || starts(path, len, "/ui")) || (len > prefix && path[prefix] != '/') || cap < 16)
        return IG_STATIC_REFUSED;
    if (len == prefix) { /* "/ui" → "/ui/": relative links resolve under it */
        snprintf(out, cap, "%s/", *portal ? "/portal" : "/ui");
        return IG_STATIC_REDIRECT;
    }
    const char *rest = path + prefix + 1;
    size_t rest_len = len - prefix - 1;
    if (suspicious(raw, raw_len) || !clean_rest(rest, rest_len))
        return IG_STATIC_REFUSED;
    const char *area = *portal ? "portal/" : "console/";
    if (starts(rest, rest_len, "assets/") || starts(rest, rest_len, "vendor/"))
        area = "";
    int index = rest_len == 0 || rest[rest_len - 1] == '/';
    int n = snprintf(out, cap, "%s%.*s%s", area, (int)rest_len, rest, index ? "index.html" : "");
    return n < 0 || (size_t)n >= cap ? IG_STATIC_REFUSED : IG_STATIC_FILE;
}
