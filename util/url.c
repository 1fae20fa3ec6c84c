/* url.c — see util/url.h. */
#include "util/url.h"
#include "util/hex.h"

int ig_url_decode(const char *s, size_t n, unsigned flags, char *out, size_t cap, size_t *outlen)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+' && (flags & IG_URL_PLUS_SPACE)) {
            c = ' ';
        } else if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = ig_hex_digit(s[i + 1]), lo = ig_hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || len + 1 >= cap)
            return -1;
        out[len++] = c;
    }
    if (cap == 0)
        return -1;
    out[len] = '\0';
    if (outlen != NULL)
        *outlen = len;
    return 0;
}
