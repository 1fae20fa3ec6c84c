/*
 * Fuzz target: vLLM's /metrics page read as a load report (plugins/vllm/vllm_metrics.c). Input: the
 * page's bytes. Properties checked on every input:
 *  - each field is -1 (absent) or >= 0 and never NaN; the return value is 0 exactly when one is found;
 *  - line by line: the page parsed whole equals its lines parsed one at a time and combined (running
 *    and waiting summed in order, the KV-cache use the highest): no sample leaks into another line;
 *  - line endings: the page with "\r\n" for every "\n" reads the same (when it has no '\r' of its own);
 *  - comments are inert: "# ..." lines inserted between the lines change nothing.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "vllm_metrics.h"

static void check_fields(const ig_engine_load_t *l, int rc)
{
    const double f[3] = {l->running, l->waiting, l->kv_cache_usage};
    int any = 0;
    for (int i = 0; i < 3; i++) {
        if (isnan(f[i]) || (f[i] < 0 && f[i] != -1))
            abort();
        any |= f[i] >= 0;
    }
    if ((rc == 0) != any)
        abort();
}

static int same(const ig_engine_load_t *a, const ig_engine_load_t *b)
{
    return a->running == b->running && a->waiting == b->waiting && a->kv_cache_usage == b->kv_cache_usage;
}

static ig_engine_load_t parse(const char *p, size_t n)
{
    ig_engine_load_t l = {99, 99, 99};
    int rc = vllm_parse_metrics(p, n, &l);
    check_fields(&l, rc);
    return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    ig_engine_load_t whole = parse(text, size);

    /* line by line, combined as the whole page's parse combines samples */
    ig_engine_load_t acc = {-1, -1, -1};
    size_t lines = 0;
    for (const char *p = text, *end = text + size; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        ig_engine_load_t one = parse(p, (size_t)(eol - p));
        if (one.running >= 0)
            acc.running = (acc.running < 0 ? 0 : acc.running) + one.running;
        if (one.waiting >= 0)
            acc.waiting = (acc.waiting < 0 ? 0 : acc.waiting) + one.waiting;
        if (one.kv_cache_usage >= 0 && one.kv_cache_usage > acc.kv_cache_usage)
            acc.kv_cache_usage = one.kv_cache_usage;
        lines++;
        p = nl ? nl + 1 : end;
    }
    if (!same(&whole, &acc))
        abort();

    /* CRLF for LF, and a comment line after every line */
    if (memchr(text, '\r', size) == NULL) {
        static const char comment[] = "# TYPE vllm:num_requests_running gauge\n";
        size_t cap = 2 * size + lines * sizeof(comment) + 1;
        char *crlf = malloc(cap), *commented = malloc(cap);
        size_t a = 0, b = 0;
        for (size_t i = 0; i < size; i++) {
            if (text[i] == '\n') {
                crlf[a++] = '\r';
                commented[b++] = '\n';
                memcpy(commented + b, comment, sizeof(comment) - 1);
                b += sizeof(comment) - 1;
            } else {
                commented[b++] = text[i];
            }
            crlf[a++] = text[i];
        }
        ig_engine_load_t l1 = parse(crlf, a), l2 = parse(commented, b);
        if (!same(&whole, &l1) || !same(&whole, &l2))
            abort();
        free(crlf);
        free(commented);
    }
    return 0;
}
