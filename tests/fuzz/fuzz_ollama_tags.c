/*
 * Fuzz target: the ollama engine plugin deciding from GET /api/tags whether a model's tag is pulled
 * (plugins/ollama/ollama.c, whole plugin compiled in, driven through its vtable as the core does:
 * model_init, prepare, before_send → the control request, on_control_done, before_send again).
 *
 * Input: a flags byte, the tag (the model's url is ollama://<tag>) up to the first '\n', then
 *  - flags & 1 clear: the /api/tags answer's body as the engine sent it (flags & 2: status 500);
 *  - flags & 1 set: one model name a line; the body is built from them ({"models":[{"name":..},..]},
 *    JSON-escaped, some as "model" only, some with \u escapes), so the right answer is known.
 * Properties checked on every input:
 *  - a tag model_init refuses is one with a byte <= 0x20, '"' or '\\', or empty; every other is taken;
 *  - the second before_send decides: IG_ENGINE_SEND, or a 503 "model_unavailable" naming the tag —
 *    never another control request or a wait;
 *  - built lists: 503 exactly when no listed name is the tag, comparing as Ollama does (the model
 *    name and the version after the last '/' apart, each case-insensitively, ":latest" when none);
 *  - the same body gives the same decision for the tag with its letters' case flipped and with
 *    ":latest" added or removed.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "sim_ollama_tag.h"
#include "test_host.h"
#include "util/buf.h"
#include "util/json.h"

extern const ig_plugin_t infergate_plugin;

static uint64_t fixed_now(void)
{
    return 1000000; /* a fixed clock: no remembered answer expires during one input */
}

static const char *endpoint_url(const ig_endpoint_t *ep)
{
    return "http://127.0.0.1:11434";
}

static const ig_host_t host = {.size = sizeof(ig_host_t), .abi_version = IG_PLUGIN_ABI_VERSION,
                               .log = test_host_log, .error = test_host_error, .palloc = test_pool_palloc,
                               .now_ms = fixed_now, .json = &ig_json_api, .endpoint_url = endpoint_url};

enum { SENT = 0, REFUSED = 1, BAD_TAG = 2 };

static int tag_ok(const char *t, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)t[i] <= 0x20 || t[i] == '"' || t[i] == '\\')
            return 0;
    return 1;
}

/* One request for the model ollama://<tag> on an endpoint whose /api/tags answers status, body. */
static int decide(const char *tag, size_t tag_len, int status, const char *body, size_t len)
{
    void *proc = NULL, *state = NULL;
    ig_error_t err = {{0}};
    if (infergate_plugin.load(&host, &proc, &err) != 0)
        abort();
    ig_plugin_init_t ctx = {.process_state = proc, .workers = 1, .generation = 1};
    if (infergate_plugin.init(&host, &ctx, &state, &err) != 0)
        abort();
    const ig_engine_vtable_t *e = infergate_plugin.vtable;

    char *url = malloc(9 + tag_len + 1);
    memcpy(url, "ollama://", 9);
    memcpy(url + 9, tag, tag_len);
    url[9 + tag_len] = '\0';
    ig_model_t model = {.name = "m", .engine = "OLlama", .url = url};
    int result;
    /* a tag with a NUL in it is cut there by the C string: judge what the plugin sees */
    size_t seen = strlen(url + 9);
    if (e->model_init(&host, state, &model, &err) != 0) {
        if (tag_ok(url + 9, seen))
            abort();
        result = BAD_TAG;
        goto out;
    }
    if (!tag_ok(url + 9, seen))
        abort();

    test_pool_t pool;
    pool.n = 0;
    static const char client_body[] = "{\"model\":\"m\",\"messages\":[]}";
    ig_engine_req_t r = {.host = &host, .pool = &pool, .api = IG_API_CHAT_COMPLETIONS, .model = &model};
    r.body = (ig_json_value_t){IG_JSON_OBJECT, client_body, sizeof(client_body) - 1};
    r.model_field = (ig_json_value_t){IG_JSON_STRING, client_body + 9, 3};
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    if (e->prepare(state, &r, &err) != 0)
        abort();
    ig_engine_control_t ctl = {{0}};
    const ig_endpoint_t *ep = (const ig_endpoint_t *)&model; /* opaque: only endpoint_url reads it */
    if (e->before_send(state, &r, ep, &ctl, &err) != IG_ENGINE_CONTROL || ctl.path.len != 9 ||
        memcmp(ctl.path.ptr, "/api/tags", 9) != 0)
        abort();
    if (e->on_control_done(state, &r, ep, status, body, len, &err) != 0)
        abort();
    memset(&err, 0, sizeof(err));
    int rc = e->before_send(state, &r, ep, &ctl, &err);
    if (rc == IG_ENGINE_SEND) {
        result = SENT;
    } else if (rc == -1) {
        char want[64];
        snprintf(want, sizeof(want), "\"%.*s", (int)(seen < 20 ? seen : 20), url + 9);
        if (err.status != 503 || !err.code || strcmp(err.code, "model_unavailable") != 0 || !strstr(err.msg, want))
            abort();
        result = REFUSED;
    } else {
        abort(); /* the answer is in: no second control request, no waiting */
    }
    test_pool_free(&pool);
    e->model_free(state, &model);
out:
    free(url);
    infergate_plugin.fini(state);
    infergate_plugin.unload(proc);
    return result;
}

/* Builds {"models":[...]} from one name a line; *listed says whether one of them is the tag. */
static void build_list(const char *tag, size_t tag_len, const uint8_t *p, size_t n, ig_buf_t *b, int *listed)
{
    *listed = 0;
    ig_buf_puts(b, "{\"models\":[");
    size_t count = 0;
    while (n > 0) {
        const uint8_t *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) : n;
        unsigned how = len ? p[0] : 0; /* the line's first byte says how to write it */
        const uint8_t *name = len ? p + 1 : p;
        size_t nlen = len ? len - 1 : 0;
        char *plain = malloc(nlen + 1);
        for (size_t i = 0; i < nlen; i++)
            plain[i] = (char)(name[i] & 0x7f); /* ASCII: the JSON stays valid UTF-8 */
        ig_buf_puts(b, count++ ? ",{" : "{");
        const char *key = (how & 3) == 1 ? "\"model\":\"" : "\"name\":\"";
        ig_buf_puts(b, key);
        for (size_t i = 0; i < nlen; i++) {
            unsigned char c = (unsigned char)plain[i];
            char esc[8];
            if (c < 0x20 || c == '"' || c == '\\' || ((how & 4) && isalpha(c))) {
                snprintf(esc, sizeof(esc), "\\u%04x", c);
                ig_buf_puts(b, esc);
            } else {
                ig_buf_put(b, (const char *)&c, 1);
            }
        }
        ig_buf_puts(b, "\"");
        if ((how & 3) == 2)
            ig_buf_puts(b, ",\"model\":\"other:tag\"");
        if ((how & 3) == 3)
            ig_buf_puts(b, ",\"size\":1,\"details\":{\"name\":\"x\"}");
        ig_buf_puts(b, "}");
        if (sim_ollama_tag_eq(tag, tag_len, plain, nlen))
            *listed = 1;
        free(plain);
        if (!nl)
            break;
        n -= len + 1;
        p = nl + 1;
    }
    ig_buf_puts(b, "]}");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *tag = (const char *)data + 1;
    const uint8_t *nl = memchr(data + 1, '\n', size - 1);
    size_t tag_len = nl ? (size_t)(nl - (data + 1)) : size - 1;
    const uint8_t *rest = nl ? nl + 1 : data + size;
    size_t rest_len = (size_t)(data + size - rest);
    if (tag_len > 2048)
        return 0;

    ig_buf_t body = {0};
    int listed = -1, status = 200;
    if (flags & 1) {
        build_list(tag, tag_len, rest, rest_len, &body, &listed);
    } else {
        ig_buf_put(&body, (const char *)rest, rest_len);
        status = (flags & 2) ? 500 : 200;
    }
    int got = decide(tag, tag_len, status, body.p ? body.p : "", body.len);
    if (got != BAD_TAG && memchr(tag, '\0', tag_len) == NULL) {
        if (listed >= 0 && got != (listed ? SENT : REFUSED))
            abort();
        /* the same tag written otherwise: letters' case flipped, ":latest" added or taken away */
        char *alt = malloc(tag_len + 8);
        size_t alen = 0, nlen, vlen;
        const char *ver;
        sim_ollama_split_tag(tag, tag_len, &nlen, &ver, &vlen);
        for (size_t i = 0; i < tag_len; i++) {
            unsigned char c = (unsigned char)tag[i];
            alt[alen++] = (char)(isupper(c) ? tolower(c) : islower(c) ? toupper(c) : c);
        }
        if (nlen == tag_len) {
            memcpy(alt + alen, ":LaTeSt", 7);
            alen += 7;
        } else if (vlen == 6 && strncasecmp(ver, "latest", 6) == 0) {
            alen = nlen;
        }
        if (alen > 0 && decide(alt, alen, status, body.p ? body.p : "", body.len) != got)
            abort(); /* (":latest" alone has no other spelling) */
        free(alt);
    }
    ig_buf_free(&body);
    return 0;
}
