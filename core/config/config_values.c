/*
 * config_values.c — value syntaxes of the config file. Everything is
 * overflow-checked: these strings come from files a user edits and from
 * the fuzzer.
 */
#include "config/config_values.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int ig_parse_int64(const char *s, int64_t *out)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (!isdigit((unsigned char)*p))
        return -1;
    uint64_t v = 0;
    /* magnitude limit: INT64_MAX, or INT64_MAX + 1 for negatives */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *p; p++) {
        if (!isdigit((unsigned char)*p))
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

/* Leading unsigned digits of s into *v; returns the number of digits, -1 on overflow. */
static int leading_u64(const char *s, uint64_t *v)
{
    int n = 0;
    *v = 0;
    for (; isdigit((unsigned char)s[n]); n++) {
        unsigned d = (unsigned)(s[n] - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return -1;
        *v = *v * 10 + d;
    }
    return n;
}

typedef struct {
    const char *name;
    uint64_t mult;
} unit_t;

static int parse_with_units(const char *s, const unit_t *units, uint64_t *out, const char *what, const char *examples,
                            char *msg, size_t msgsize)
{
    uint64_t v;
    int n = leading_u64(s, &v);
    if (n < 0) {
        snprintf(msg, msgsize, "%s \"%s\" is too large", what, s);
        return -1;
    }
    if (n == 0) {
        snprintf(msg, msgsize, "invalid %s \"%s\" (examples: %s)", what, s, examples);
        return -1;
    }
    const char *unit = s + n;
    if (*unit == '\0') {
        *out = v;
        return 0;
    }
    for (const unit_t *u = units; u->name; u++) {
        if (strcasecmp(unit, u->name) == 0) {
            if (u->mult && v > UINT64_MAX / u->mult) {
                snprintf(msg, msgsize, "%s \"%s\" is too large", what, s);
                return -1;
            }
            *out = v * u->mult;
            return 0;
        }
    }
    snprintf(msg, msgsize, "invalid %s \"%s\" (examples: %s)", what, s, examples);
    return -1;
}

int ig_parse_duration_ms(const char *s, uint64_t *out, char *msg, size_t msgsize)
{
    static const unit_t units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {NULL, 0}};
    return parse_with_units(s, units, out, "duration", "250ms, 5s, 2m, 1h, or milliseconds", msg, msgsize);
}

int ig_parse_size(const char *s, uint64_t *out, char *msg, size_t msgsize)
{
    static const unit_t units[] = {{"B", 1},
                                   {"KB", 1000},
                                   {"MB", 1000 * 1000},
                                   {"GB", 1000 * 1000 * 1000},
                                   {"KiB", 1024},
                                   {"MiB", 1024 * 1024},
                                   {"GiB", 1024 * 1024 * 1024},
                                   {NULL, 0}};
    return parse_with_units(s, units, out, "size", "16MiB, 512KiB, 1MB, or bytes", msg, msgsize);
}

/* RFC 1123 host name or dotted IPv4: letters, digits, '-', '.', no empty labels. */
static int valid_hostname(const char *h, size_t n)
{
    if (n == 0 || n > 253)
        return 0;
    size_t label = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '.') {
            if (label == 0)
                return 0;
            label = 0;
        } else if (isalnum(c) || c == '-' || c == '_') {
            if (++label > 63)
                return 0;
        } else {
            return 0;
        }
    }
    return label > 0;
}

static int valid_ipv6(const char *h, size_t n)
{
    if (n == 0 || n > 45)
        return 0;
    int colons = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == ':')
            colons++;
        else if (!isxdigit(c) && c != '.')
            return 0;
    }
    return colons >= 2;
}

int ig_parse_host_port(const char *s, char *host_out, size_t hostcap, uint16_t *port, char *msg, size_t msgsize)
{
    const char *host, *colon;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':') {
            snprintf(msg, msgsize, "\"%s\" is not host:port (IPv6 is written [::1]:8080)", s);
            return -1;
        }
        host = s + 1;
        hlen = (size_t)(close - host);
        colon = close + 1;
        if (!valid_ipv6(host, hlen)) {
            snprintf(msg, msgsize, "\"%s\": invalid IPv6 address", s);
            return -1;
        }
    } else {
        colon = strrchr(s, ':');
        if (!colon) {
            snprintf(msg, msgsize, "\"%s\" is not host:port (missing port)", s);
            return -1;
        }
        host = s;
        hlen = (size_t)(colon - s);
        if (memchr(host, ':', hlen)) {
            snprintf(msg, msgsize, "\"%s\": IPv6 addresses must be in brackets, e.g. [::1]:8080", s);
            return -1;
        }
        if (!valid_hostname(host, hlen)) {
            snprintf(msg, msgsize, "\"%s\": invalid host", s);
            return -1;
        }
    }
    int64_t p;
    if (ig_parse_int64(colon + 1, &p) != 0 || colon[1] == '-' || p < 1 || p > 65535) {
        snprintf(msg, msgsize, "\"%s\": port must be a number from 1 to 65535", s);
        return -1;
    }
    if (hlen + 1 > hostcap) {
        snprintf(msg, msgsize, "\"%s\": host is too long", s);
        return -1;
    }
    memcpy(host_out, host, hlen);
    host_out[hlen] = '\0';
    *port = (uint16_t)p;
    return 0;
}

int ig_parse_http_url(const char *s, char *host_out, size_t hostcap, uint16_t *port, char *msg, size_t msgsize)
{
    if (strncasecmp(s, "https://", 8) == 0) {
        snprintf(msg, msgsize, "\"%s\": https endpoints are not supported (use http://host:port)", s);
        return -1;
    }
    if (strncmp(s, "http://", 7) != 0) {
        snprintf(msg, msgsize, "\"%s\" is not an http://host:port URL", s);
        return -1;
    }
    const char *hp = s + 7;
    size_t n = strlen(hp);
    if (n > 0 && hp[n - 1] == '/')
        n--;
    char buf[300];
    if (n >= sizeof(buf)) {
        snprintf(msg, msgsize, "\"%.64s...\": URL is too long", s);
        return -1;
    }
    memcpy(buf, hp, n);
    buf[n] = '\0';
    if (strpbrk(buf, "/?#@")) {
        snprintf(msg, msgsize, "\"%s\": an endpoint is http://host:port without path, query or user", s);
        return -1;
    }
    char inner[160];
    if (ig_parse_host_port(buf, host_out, hostcap, port, inner, sizeof(inner)) != 0) {
        snprintf(msg, msgsize, "\"%s\" is not an http://host:port URL (%s)", s, inner);
        return -1;
    }
    return 0;
}

int ig_parse_decimal(const char *s)
{
    size_t i = 0, digits = 0;
    while (isdigit((unsigned char)s[i])) {
        i++;
        digits++;
    }
    if (digits == 0)
        return -1; /* ".5": write 0.5 */
    if (s[i] == '.') {
        i++;
        size_t frac = 0;
        while (isdigit((unsigned char)s[i])) {
            i++;
            frac++;
        }
        if (frac == 0)
            return -1;
        digits += frac;
    }
    return digits > 0 && s[i] == '\0' ? 0 : -1;
}
