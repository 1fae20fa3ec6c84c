/*
 * json_bench.c — throughput of ig_json_validate on typical request bodies.
 *
 * Not a test: prints MB/s (10^6 bytes per second), best of several rounds,
 * for a ~1.5 KB chat completion body, a ~100 KB prompt body (mostly plain
 * ASCII with the usual escapes), a ~100 KB mostly-CJK body, and for the
 * gateway's usual pass (validate + one walk over the top-level members).
 *
 *   ./json_bench [seconds-per-case]      (default 0.3)
 */
#define _POSIX_C_SOURCE 200809L     /* clock_gettime under -std=c11 */

#include "util/json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "util/buf.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Appends prose until the body reaches about `target` bytes of content. */
static void put_prose(ig_buf_t *b, size_t target, int cjk)
{
    static const char *ascii[] = {
        "The quick brown fox jumps over the lazy dog. ",
        "Summarise the following document in three bullet points.\\n",
        "    def handler(request):\\n        return {\\\"status\\\": 200}\\n",
        "Numbers like 3.14159 and 2.71828 appear in \\\"quotes\\\" too.\\t",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod. ",
    };
    static const char *wide[] = {
        "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82",
        "\xE8\xAF\xB7\xE6\x80\xBB\xE7\xBB\x93\xE4\xBB\xA5\xE4\xB8\x8B\xE6\x96\x87\xE6\xA1\xA3\xE3\x80\x82\\n",
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88 ",
        "emoji \xF0\x9F\x98\x80 and caf\xC3\xA9 ",
    };
    size_t start = b->len, i = 0;
    while (b->len - start < target) {
        ig_buf_puts(b, cjk ? wide[i % 4] : ascii[i % 5]);
        i++;
    }
}

static ig_buf_t chat_body(void)
{
    ig_buf_t b = { 0 };
    ig_buf_puts(&b, "{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\",\"messages\":["
                    "{\"role\":\"system\",\"content\":\"You are a helpful assistant. Answer concisely and cite sources.\"},"
                    "{\"role\":\"user\",\"content\":\"");
    put_prose(&b, 900, 0);
    ig_buf_puts(&b, "\"},{\"role\":\"assistant\",\"content\":\"Sure \\u2014 here is a short answer.\"},"
                    "{\"role\":\"user\",\"content\":\"Thanks! Now format it as JSON.\"}],"
                    "\"temperature\":0.7,\"top_p\":0.95,\"max_tokens\":512,\"stream\":true,"
                    "\"stream_options\":{\"include_usage\":true},\"stop\":[\"</s>\",\"\\n\\nUser:\"],"
                    "\"user\":\"user-1234\",\"seed\":42,\"logprobs\":false,\"n\":1}");
    return b;
}

static ig_buf_t prompt_body(size_t size, int cjk)
{
    ig_buf_t b = { 0 };
    ig_buf_puts(&b, "{\"model\":\"qwen2.5-72b\",\"prompt\":\"");
    put_prose(&b, size - 120, cjk);
    ig_buf_puts(&b, "\",\"max_tokens\":1024,\"temperature\":0,\"echo\":false,\"stream\":false}");
    return b;
}

typedef int (*bench_fn)(const char *s, size_t n);

static int run_validate(const char *s, size_t n)
{
    return ig_json_validate(s, n, NULL);
}

/* What the gateway does per request: validate, then one pass over the
 * top-level members reading the few it cares about. */
static int run_gateway_pass(const char *s, size_t n)
{
    ig_json_value_t root, k, v;
    ig_json_iter_t it;
    int found = 0;

    if (ig_json_validate(s, n, NULL) || ig_json_parse_value(s, n, &root) ||
        ig_json_iter_init(&it, &root))
        return -1;
    while (ig_json_iter_next(&it, &k, &v) == 1)
        found += ig_json_string_eq(&k, "model", 5) + ig_json_string_eq(&k, "stream", 6);
    return found;
}

static int run_escape(const char *s, size_t n)
{
    static char *out;
    static size_t cap;
    if (cap < 6 * n + 2) {
        cap = 6 * n + 2;
        out = realloc(out, cap);
    }
    return (int)ig_json_escape(s, n, out, cap);
}

static void bench(const char *name, bench_fn fn, const char *s, size_t n, double secs)
{
    volatile int sink = 0;
    double best = 0;

    if (fn == run_validate && fn(s, n) != 0) {
        ig_json_error_t err;
        ig_json_validate(s, n, &err);
        fprintf(stderr, "%s: body is invalid: %s\n", name, err.msg);
        exit(1);
    }
    for (int round = 0; round < 5; round++) {
        size_t iters = 0;
        double t0 = now(), t;
        do {
            for (int i = 0; i < 16; i++)
                sink += fn(s, n);
            iters += 16;
            t = now() - t0;
        } while (t < secs / 5);
        double mbs = (double)n * (double)iters / t / 1e6;
        if (mbs > best)
            best = mbs;
    }
    printf("%-34s %8zu bytes %10.0f MB/s\n", name, n, best);
    (void)sink;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    ig_buf_t chat = chat_body();
    ig_buf_t prompt = prompt_body(100 * 1000, 0);
    ig_buf_t cjk = prompt_body(100 * 1000, 1);

    bench("validate chat body", run_validate, chat.p, chat.len, secs);
    bench("validate 100 KB prompt body", run_validate, prompt.p, prompt.len, secs);
    bench("validate 100 KB CJK prompt body", run_validate, cjk.p, cjk.len, secs);
    bench("validate + top-level walk, chat", run_gateway_pass, chat.p, chat.len, secs);
    bench("validate + top-level walk, 100 KB", run_gateway_pass, prompt.p, prompt.len, secs);
    bench("escape 100 KB prompt body", run_escape, prompt.p, prompt.len, secs);
    ig_buf_free(&chat);
    ig_buf_free(&prompt);
    ig_buf_free(&cjk);
    return 0;
}
