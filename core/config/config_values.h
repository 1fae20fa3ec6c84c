/*
 * config_values.h — parsers for the value syntaxes the config accepts, on
 * plain NUL-terminated strings, so they are testable without YAML and
 * reusable elsewhere (endpoint.c can share ig_parse_http_url).
 * Each returns 0, or -1 with a short reason in msg (no location: callers add it).
 */
#ifndef IG_CONFIG_VALUES_H
#define IG_CONFIG_VALUES_H

#include <stddef.h>
#include <stdint.h>

/* Decimal integer with optional '-', no spaces, in [INT64_MIN, INT64_MAX]. */
int ig_parse_int64(const char *s, int64_t *out);

/* "250ms", "5s", "2m", "1h" or a bare number of milliseconds. */
int ig_parse_duration_ms(const char *s, uint64_t *out, char *msg, size_t msgsize);

/* "16MiB", "512KiB", "1MB", "2GB", "100B" (unit case-insensitive) or a bare number of bytes. */
int ig_parse_size(const char *s, uint64_t *out, char *msg, size_t msgsize);

/*
 * "host:port" or "[v6addr]:port". host_out gets the host without brackets
 * (hostcap bytes, NUL-terminated). Port must be 1..65535.
 */
int ig_parse_host_port(const char *s, char *host_out, size_t hostcap, uint16_t *port, char *msg, size_t msgsize);

/* "http://host:port" with an optional trailing '/': no https, no path, no userinfo, port required. */
int ig_parse_http_url(const char *s, char *host_out, size_t hostcap, uint16_t *port, char *msg, size_t msgsize);

/* A non-negative decimal: digits, optionally '.' and digits ("0.000008", "3", "1.5"). No exponent. */
int ig_parse_decimal(const char *s);

#endif
