/*
 * test_config_values.c — the small pieces under the config loader: value
 * parsers (durations, sizes, host:port, URLs, decimals), the arena, the
 * error list, and the YAML-to-JSON conversion.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "util/arena.h"
#include "config/config_values.h"
#include "config/config_yaml.h"
#include "config/errors.h"
#include "ig_test.h"

static void durations(void)
{
    static const struct {
        const char *s;
        int ok;
        uint64_t ms;
    } cases[] = {{"250ms", 1, 250}, {"5s", 1, 5000},     {"2m", 1, 120000}, {"1h", 1, 3600000}, {"1500", 1, 1500},
                 {"0", 1, 0},       {"5S", 1, 5000},     {"", 0, 0},        {"ms", 0, 0},       {"5 s", 0, 0},
                 {"-5s", 0, 0},     {"1.5s", 0, 0},      {"5d", 0, 0},      {"5sec", 0, 0},
                 {"5124095576030431h", 0, 0} /* overflows uint64 ms */};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        char msg[128] = "";
        int rc = ig_parse_duration_ms(cases[i].s, &v, msg, sizeof(msg));
        CHECKF((rc == 0) == cases[i].ok, "duration \"%s\": rc %d (%s)", cases[i].s, rc, msg);
        if (cases[i].ok)
            CHECKF(v == cases[i].ms, "duration \"%s\" = %llu", cases[i].s, (unsigned long long)v);
        else
            CHECKF(msg[0] != '\0', "duration \"%s\": no message", cases[i].s);
    }
}

static void sizes(void)
{
    static const struct {
        const char *s;
        int ok;
        uint64_t v;
    } cases[] = {{"16MiB", 1, 16u << 20}, {"512KiB", 1, 512 * 1024}, {"1MB", 1, 1000000}, {"2GB", 1, 2000000000},
                 {"100B", 1, 100},        {"4096", 1, 4096},         {"1kib", 1, 1024},   {"1.5MiB", 0, 0},
                 {"MiB", 0, 0},           {"12 furlongs", 0, 0},     {"-1", 0, 0},        {"99999999999GiB", 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t v = 0;
        char msg[128] = "";
        int rc = ig_parse_size(cases[i].s, &v, msg, sizeof(msg));
        CHECKF((rc == 0) == cases[i].ok, "size \"%s\": rc %d (%s)", cases[i].s, rc, msg);
        if (cases[i].ok)
            CHECKF(v == cases[i].v, "size \"%s\" = %llu", cases[i].s, (unsigned long long)v);
    }
}

static void ints(void)
{
    int64_t v;
    CHECK(ig_parse_int64("0", &v) == 0 && v == 0);
    CHECK(ig_parse_int64("-42", &v) == 0 && v == -42);
    CHECK(ig_parse_int64("9223372036854775807", &v) == 0 && v == INT64_MAX);
    CHECK(ig_parse_int64("-9223372036854775808", &v) == 0 && v == INT64_MIN);
    CHECK(ig_parse_int64("9223372036854775808", &v) != 0);
    CHECK(ig_parse_int64("-9223372036854775809", &v) != 0);
    CHECK(ig_parse_int64("", &v) != 0);
    CHECK(ig_parse_int64("-", &v) != 0);
    CHECK(ig_parse_int64("+1", &v) != 0);
    CHECK(ig_parse_int64("1e3", &v) != 0);
    CHECK(ig_parse_int64(" 1", &v) != 0);
}

static void host_ports(void)
{
    static const struct {
        const char *s;
        int ok;
        const char *host;
        uint16_t port;
    } cases[] = {{"127.0.0.1:8080", 1, "127.0.0.1", 8080},
                 {"[::1]:8080", 1, "::1", 8080},
                 {"[fe80::1:2]:1", 1, "fe80::1:2", 1},
                 {"localhost:65535", 1, "localhost", 65535},
                 {"my-host.example.com:80", 1, "my-host.example.com", 80},
                 {"0.0.0.0:0", 0, NULL, 0},
                 {"host:65536", 0, NULL, 0},
                 {"host:-1", 0, NULL, 0},
                 {"host:", 0, NULL, 0},
                 {":80", 0, NULL, 0},
                 {"host", 0, NULL, 0},
                 {"::1:8080", 0, NULL, 0},
                 {"[::1]8080", 0, NULL, 0},
                 {"[]:80", 0, NULL, 0},
                 {"[zz::1]:80", 0, NULL, 0},
                 {"a..b:80", 0, NULL, 0},
                 {"a b:80", 0, NULL, 0},
                 {"host:80x", 0, NULL, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[64] = "", msg[256] = "";
        uint16_t port = 0;
        int rc = ig_parse_host_port(cases[i].s, host, sizeof(host), &port, msg, sizeof(msg));
        CHECKF((rc == 0) == cases[i].ok, "host:port \"%s\": rc %d (%s)", cases[i].s, rc, msg);
        if (cases[i].ok && rc == 0)
            CHECKF(strcmp(host, cases[i].host) == 0 && port == cases[i].port, "\"%s\" -> %s %u", cases[i].s, host,
                   port);
    }
    char small[4], msg[128];
    uint16_t port;
    CHECK(ig_parse_host_port("localhost:80", small, sizeof(small), &port, msg, sizeof(msg)) != 0);
}

static void urls(void)
{
    static const struct {
        const char *s;
        int ok;
    } cases[] = {{"http://127.0.0.1:8000", 1},  {"http://127.0.0.1:8000/", 1}, {"http://[::1]:8000", 1},
                 {"http://vllm-0.svc:80", 1},   {"https://127.0.0.1:8000", 0}, {"http://127.0.0.1:8000/v1", 0},
                 {"http://127.0.0.1", 0},       {"http://user@host:80", 0},    {"http://host:80?x=1", 0},
                 {"ftp://host:21", 0},          {"127.0.0.1:8000", 0},         {"http://", 0},
                 {"http://host:80//", 0},       {"HTTP://host:80", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char host[64], msg[256] = "";
        uint16_t port;
        int rc = ig_parse_http_url(cases[i].s, host, sizeof(host), &port, msg, sizeof(msg));
        CHECKF((rc == 0) == cases[i].ok, "url \"%s\": rc %d (%s)", cases[i].s, rc, msg);
        if (!cases[i].ok)
            CHECKF(strstr(msg, cases[i].s) != NULL, "url \"%s\": message does not name it: %s", cases[i].s, msg);
    }
}

static void decimals(void)
{
    const char *good[] = {"0", "0.000008", "12", "1.5", "00.10"};
    const char *bad[] = {"", "-1", "1e-6", ".5", "5.", "1,5", "0x10", "1.2.3", " 1", "NaN"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECKF(ig_parse_decimal(good[i]) == 0, "decimal \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECKF(ig_parse_decimal(bad[i]) != 0, "not a decimal \"%s\"", bad[i]);
}

static void arena(void)
{
    ig_arena_t *a = ig_arena_create();
    CHECK(a != NULL);
    char *s = ig_arena_strdup(a, "hello");
    CHECK(s && strcmp(s, "hello") == 0);
    CHECK(ig_arena_strdup(a, NULL) == NULL);
    char *p = ig_arena_printf(a, "%s-%d", "x", 42);
    CHECK(p && strcmp(p, "x-42") == 0);
    /* aligned and zeroed, across many chunks and one big allocation */
    int aligned = 1, zeroed = 1;
    for (int i = 0; i < 2000; i++) {
        unsigned char *b = ig_arena_alloc(a, (size_t)(i % 97) + 1);
        if (!b || ((uintptr_t)b % 16) != 0) {
            aligned = 0;
            break;
        }
        for (int k = 0; k < (i % 97) + 1; k++)
            zeroed &= b[k] == 0;
        memset(b, 0xab, (size_t)(i % 97) + 1);
    }
    CHECK(aligned);
    CHECK(zeroed);
    char *big = ig_arena_alloc(a, 1 << 20);
    CHECK(big != NULL);
    memset(big, 1, 1 << 20);
    CHECK(strcmp(s, "hello") == 0); /* earlier data survives */
    CHECK(ig_arena_array(a, SIZE_MAX / 2, 4) == NULL);
    CHECK(ig_arena_alloc(a, SIZE_MAX - 4) == NULL);
    CHECK(ig_arena_used(a) > (1 << 20));
    ig_arena_destroy(a);
    ig_arena_destroy(NULL);
}

static void errors(void)
{
    ig_errors_t e = {0};
    char *j = ig_errors_join(&e);
    CHECK(j && j[0] == '\0');
    free(j);
    ig_errors_add(&e, "plain %d", 1);
    ig_errors_at(&e, "f.yaml", 3, "%s: msg", "a.b");
    ig_errors_at(&e, "f.yaml", 0, "whole file");
    for (int i = 0; i < 20; i++)
        ig_errors_add(&e, "more %d", i);
    CHECK(e.count == 23);
    CHECK(strcmp(e.items[0], "plain 1") == 0);
    CHECK(strcmp(e.items[1], "f.yaml:3: a.b: msg") == 0);
    CHECK(strcmp(e.items[2], "f.yaml: whole file") == 0);
    j = ig_errors_join(&e);
    CHECK(j && strncmp(j, "plain 1\nf.yaml:3: a.b: msg\nf.yaml: whole file\nmore 0\n", 46) == 0);
    free(j);
    ig_errors_clear(&e);
    CHECK(e.count == 0 && e.items == NULL);
}

static void yaml_json(void)
{
    static const struct {
        const char *yaml, *json;
    } cases[] = {
        {"{a: 1, b: -2.5e3, c: \"1\", d: true, e: ~, f: null, g: yes, h: '', i: \"q\\\"\\\\\\n\\t\\x01\"}",
         "{\"a\":1,\"b\":-2.5e3,\"c\":\"1\",\"d\":true,\"e\":null,\"f\":null,\"g\":\"yes\",\"h\":\"\","
         "\"i\":\"q\\\"\\\\\\n\\t\\u0001\"}"},
        {"[01, 0, 1.0, .5, -0, 1e5, 0x1F]", "[\"01\",0,1.0,\".5\",-0,1e5,\"0x1F\"]"},
        {"{nested: {list: [[], {}]}}", "{\"nested\":{\"list\":[[],{}]}}"},
        {"\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ig_errors_t errs = {0};
        ig_yaml_t y;
        ig_arena_t *a = ig_arena_create();
        CHECK(ig_yaml_open_buffer(&y, "mem", cases[i].yaml, strlen(cases[i].yaml), &errs) == 0);
        CHECK(ig_yaml_next_document(&y) == 1);
        char *json = ig_yaml_to_json(&y, ig_yaml_root(&y), "x", a);
        CHECKF(json && strcmp(json, cases[i].json) == 0, "case %zu: %s", i, json ? json : "(null)");
        ig_yaml_close(&y);
        ig_arena_destroy(a);
        ig_errors_clear(&errs);
    }
}

int main(void)
{
    durations();
    sizes();
    ints();
    host_ports();
    urls();
    decimals();
    arena();
    errors();
    yaml_json();
    return ig_test_summary();
}
