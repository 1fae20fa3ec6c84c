/*
 * Fuzz target: models' own addresses (core/config/model_address.c). The input is split into lines;
 * each line is tried as a config host, a config path prefix and a client's Host header. Properties:
 *  - a host the config accepts is lowercase DNS labels; sent back as a Host header (in capitals, with
 *    a port, with a trailing dot) it reduces to itself;
 *  - whatever the Host header, what it reduces to is at most 253 bytes of a-z 0-9 - . _, never an
 *    IPv6 literal, and reducing that again gives the same;
 *  - a prefix the config accepts starts with '/', has no empty, "." or ".." segment, no trailing '/';
 *  - the index: every accepted host is found as its own model and a name never added is not; every
 *    accepted prefix that no other one nests with is found under a path "<prefix>/v1/...", with the
 *    rest starting at its end, and the prefix alone (no '/' after it) or a longer segment is not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "config/model_address.h"

static void check_reduced(const char *out, size_t n)
{
    if (n == 0)
        return; /* refused: out untouched */
    if (n > IG_ADDRESS_HOST_MAX || strlen(out) != n)
        abort();
    for (size_t i = 0; i < n; i++) {
        char c = out[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            abort();
    }
    char again[IG_ADDRESS_HOST_MAX + 1];
    if (n && (ig_address_host_of(out, n, again, sizeof(again)) != n || memcmp(again, out, n) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192)
        return 0;
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    char *hosts[64], *prefixes[64];
    size_t nh = 0, np = 0;
    char msg[300], out[IG_ADDRESS_HOST_MAX + 1], buf[600];
    for (char *line = text, *next = NULL; line != NULL; line = next) {
        char *nl = memchr(line, '\n', (size_t)(text + size - line));
        next = nl ? nl + 1 : NULL;
        size_t len = nl ? (size_t)(nl - line) : (size_t)(text + size - line);
        if (nl)
            *nl = '\0';
        /* as a Host header: exactly len bytes (a NUL inside is refused, never read past) */
        char *exact = malloc(len ? len : 1);
        memcpy(exact, line, len);
        size_t n = ig_address_host_of(exact, len, out, sizeof(out));
        check_reduced(out, n);
        if (len && exact[0] == '[' && n)
            abort();
        free(exact);
        if (strlen(line) == len && ig_address_host_valid(line, msg, sizeof(msg)) == 0) {
            for (size_t i = 0; i < len; i++)
                if (line[i] >= 'A' && line[i] <= 'Z')
                    abort();
            for (int v = 0; v < 3 && len + 8 < sizeof(buf); v++) {
                memcpy(buf, line, len);
                size_t bl = len;
                if (v == 0)
                    for (size_t i = 0; i < bl; i++)
                        buf[i] = buf[i] >= 'a' && buf[i] <= 'z' ? (char)(buf[i] - 32) : buf[i];
                if (v == 1)
                    memcpy(buf + bl, ":8443", 5), bl += 5;
                if (v == 2)
                    buf[bl++] = '.';
                if (ig_address_host_of(buf, bl, out, sizeof(out)) != len || memcmp(out, line, len) != 0)
                    abort();
            }
            size_t j = 0;
            while (j < nh && strcmp(hosts[j], line) != 0)
                j++;
            if (j == nh && nh < 64)
                hosts[nh++] = line;
        }
        if (strlen(line) == len && ig_address_prefix_valid(line, msg, sizeof(msg)) == 0) {
            if (line[0] != '/' || line[len - 1] == '/' || strstr(line, "//") || strstr(line, "/./") ||
                strstr(line, "/../"))
                abort();
            size_t j = 0;
            while (j < np && strcmp(prefixes[j], line) != 0)
                j++;
            if (j == np && np < 64)
                prefixes[np++] = line;
        }
    }
    ig_address_index_t ix = {0};
    for (size_t i = 0; i < nh; i++)
        if (ig_address_index_add(&ix, 0, hosts[i], (uint32_t)i) != 0)
            abort();
    /* prefixes that nest with another are what the config refuses: leave them out */
    size_t model_of[64], kept = 0;
    for (size_t i = 0; i < np; i++) {
        int nests = 0;
        for (size_t j = 0; j < np && !nests; j++) {
            size_t a = strlen(prefixes[i]), b = strlen(prefixes[j]);
            nests = i != j && ((a < b && strncmp(prefixes[j], prefixes[i], a) == 0 && prefixes[j][a] == '/') ||
                               (b < a && strncmp(prefixes[i], prefixes[j], b) == 0 && prefixes[i][b] == '/'));
        }
        if (!nests) {
            if (ig_address_index_add(&ix, 1, prefixes[i], (uint32_t)(100 + i)) != 0)
                abort();
            model_of[kept++] = i;
        }
    }
    ig_address_index_seal(&ix);
    for (size_t i = 0; i < nh; i++) {
        if (ig_address_find_host(&ix, hosts[i], strlen(hosts[i])) != (long)i)
            abort();
        size_t n = strlen(hosts[i]);
        if (n + 2 < sizeof(buf)) {
            memcpy(buf, hosts[i], n);
            memcpy(buf + n, "zz", 2);
            long m = ig_address_find_host(&ix, buf, n + 2);
            if (m >= 0 && (strlen(hosts[m]) != n + 2 || memcmp(hosts[m], buf, n + 2) != 0))
                abort();
        }
    }
    for (size_t k = 0; k < kept; k++) {
        const char *p = prefixes[model_of[k]];
        size_t n = strlen(p), rest = 0;
        if (n + 24 >= sizeof(buf))
            continue;
        memcpy(buf, p, n);
        memcpy(buf + n, "/v1/chat/completions", 20);
        if (ig_address_find_prefix(&ix, buf, n + 20, &rest) != (long)(100 + model_of[k]) || rest != n)
            abort();
        if (ig_address_find_prefix(&ix, p, n, &rest) >= 0)
            abort(); /* the prefix alone is no path under it */
        memcpy(buf + n, "x/v1", 4);
        long m = ig_address_find_prefix(&ix, buf, n + 4, &rest);
        if (m >= 0 && (rest > n + 4 || buf[rest] != '/'))
            abort();
    }
    ig_address_index_free(&ix);
    free(text);
    return 0;
}
