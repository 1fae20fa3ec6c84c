#include "bl_listing.h"
#include <stdlib.h>
#include <string.h>
#include "util/json_write.h"
#include "bl_report.h"

static const char *const known_keys[] = {"id", "hugging_face_id", "name", "created", "input_modalities",
                                         "output_modalities", "quantization", "context_length", "max_output_length",
                                         "pricing", "supported_sampling_parameters", "supported_features",
                                         "datacenters", NULL};

/* vLLM's OpenAI server accepts these sampling parameters on every text model. */
static const char default_sampling[] =
    "[\"temperature\",\"top_p\",\"top_k\",\"min_p\",\"frequency_penalty\",\"presence_penalty\","
    "\"repetition_penalty\",\"stop\",\"seed\",\"max_tokens\",\"logit_bias\",\"logprobs\",\"top_logprobs\"]";

typedef struct {
    const ig_host_t *h;
    ig_json_value_t meta; /* the openrouter object, or type INVALID */
} entry_t;

/* The metadata member's JSON text, or 0. */
static int meta_get(const entry_t *e, const char *key, ig_json_value_t *v)
{
    return e->meta.type == IG_JSON_OBJECT && e->h->json->object_get(&e->meta, key, strlen(key), v) == 1;
}

static void put_meta_or(ig_buf_t *b, const entry_t *e, const char *key, const char *fallback)
{
    ig_json_value_t v;
    ig_buf_printf(b, ",\"%s\":", key);
    if (meta_get(e, key, &v))
        ig_buf_put(b, v.ptr, v.len);
    else
        ig_buf_puts(b, fallback);
}

static void put_str(ig_buf_t *b, const entry_t *e, const char *s)
{
    ig_json_write_str(b, s, strlen(s));
}

/* --max-model-len=N (or "--max-model-len", "N") from the model's engine args, or -1. */
static long long max_model_len(const ig_model_t *m)
{
    for (size_t i = 0; i < m->nargs; i++) {
        const char *a = m->args[i];
        if (strncmp(a, "--max-model-len=", 16) == 0)
            return atoll(a + 16);
        if (strcmp(a, "--max-model-len") == 0 && i + 1 < m->nargs)
            return atoll(m->args[i + 1]);
    }
    return -1;
}

/* One price: the model's pricing (what is billed) wins over the metadata's. */
static void put_price(ig_buf_t *b, const entry_t *e, const ig_json_value_t *meta_pricing, const char *out_key,
                      const char *configured, const char *meta_key, int *first)
{
    ig_json_value_t v;
    ig_buf_printf(b, "%s\"%s\":", *first ? "" : ",", out_key);
    *first = 0;
    if (configured)
        put_str(b, e, configured);
    else if (meta_pricing->type == IG_JSON_OBJECT &&
             e->h->json->object_get(meta_pricing, meta_key, strlen(meta_key), &v) == 1)
        ig_buf_put(b, v.ptr, v.len);
    else
        ig_buf_puts(b, "\"0\"");
}

static void put_model(ig_buf_t *b, const ig_host_t *h, const ig_model_t *m)
{
    entry_t e = {h, {IG_JSON_INVALID, NULL, 0}};
    if (m->openrouter_json &&
        (h->json->validate_value(m->openrouter_json, strlen(m->openrouter_json), NULL, &e.meta) != 0 ||
         e.meta.type != IG_JSON_OBJECT))
        e.meta.type = IG_JSON_INVALID; /* not an object: listed from the config alone */
    ig_json_value_t v;

    ig_buf_puts(b, "{\"id\":");
    if (meta_get(&e, "id", &v))
        ig_buf_put(b, v.ptr, v.len);
    else
        put_str(b, &e, m->name);
    ig_buf_puts(b, ",\"hugging_face_id\":");
    if (meta_get(&e, "hugging_face_id", &v))
        ig_buf_put(b, v.ptr, v.len);
    else if (m->url && strncmp(m->url, "hf://", 5) == 0)
        put_str(b, &e, m->url + 5);
    else
        ig_buf_puts(b, "\"\"");
    ig_buf_puts(b, ",\"name\":");
    if (meta_get(&e, "name", &v))
        ig_buf_put(b, v.ptr, v.len);
    else
        put_str(b, &e, m->name);
    put_meta_or(b, &e, "created", "0");

    int audio_in = (m->features & IG_FEATURE_SPEECH_TO_TEXT) != 0;
    int embeds = (m->features & (IG_FEATURE_TEXT_EMBEDDING | IG_FEATURE_TEXT_GENERATION)) == IG_FEATURE_TEXT_EMBEDDING;
    put_meta_or(b, &e, "input_modalities", audio_in ? "[\"audio\"]" : "[\"text\"]");
    put_meta_or(b, &e, "output_modalities", embeds ? "[\"embeddings\"]" : "[\"text\"]");
    put_meta_or(b, &e, "quantization", "\"unknown\"");
    char len[32] = "null";
    long long mml = max_model_len(m);
    if (mml > 0)
        snprintf(len, sizeof(len), "%lld", mml);
    put_meta_or(b, &e, "context_length", len);
    put_meta_or(b, &e, "max_output_length", len);

    ig_json_value_t mp = {IG_JSON_INVALID, NULL, 0};
    if (!meta_get(&e, "pricing", &mp))
        mp.type = IG_JSON_INVALID;
    int first = 1;
    ig_buf_puts(b, ",\"pricing\":{");
    put_price(b, &e, &mp, "prompt", m->pricing.prompt, "prompt", &first);
    put_price(b, &e, &mp, "completion", m->pricing.completion, "completion", &first);
    put_price(b, &e, &mp, "image", NULL, "image", &first);
    put_price(b, &e, &mp, "request", m->pricing.request, "request", &first);
    put_price(b, &e, &mp, "input_cache_reads", m->pricing.input_cache_read, "input_cache_reads", &first);
    put_price(b, &e, &mp, "input_cache_writes", NULL, "input_cache_writes", &first);
    if (m->pricing.audio || (mp.type == IG_JSON_OBJECT && h->json->object_get(&mp, "audio", 5, &v) == 1))
        put_price(b, &e, &mp, "audio", m->pricing.audio, "audio", &first);
    ig_buf_puts(b, "}");
    put_meta_or(b, &e, "supported_sampling_parameters",
                (m->features & IG_FEATURE_TEXT_GENERATION) ? default_sampling : "[]");
    put_meta_or(b, &e, "supported_features", "[]");
    put_meta_or(b, &e, "datacenters", "[]");

    /* anything else the metadata says is passed on as written */
    if (e.meta.type == IG_JSON_OBJECT) {
        ig_json_iter_t it;
        ig_json_value_t k;
        h->json->iter_init(&it, &e.meta);
        while (h->json->iter_next(&it, &k, &v) == 1) {
            int known = 0;
            for (size_t i = 0; known_keys[i]; i++)
                known |= h->json->string_eq(&k, known_keys[i], strlen(known_keys[i]));
            if (known)
                continue;
            ig_buf_puts(b, ",");
            ig_buf_put(b, k.ptr, k.len);
            ig_buf_puts(b, ":");
            ig_buf_put(b, v.ptr, v.len);
        }
    }
    ig_buf_puts(b, "}");
}

int bl_route_listing(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    (void)state;
    if (x->rest.len != 0) {
        err->status = 404;
        err->type = "invalid_request_error";
        return x->host->error(err, "no such listing: %.*s", (int)(x->path.len > 200 ? 200 : x->path.len), x->path.ptr);
    }
    ig_buf_t b = {0};
    ig_buf_puts(&b, "{\"data\":[");
    for (size_t i = 0; i < x->nmodels; i++) {
        if (i)
            ig_buf_puts(&b, ",");
        put_model(&b, x->host, x->models[i]);
    }
    ig_buf_puts(&b, "]}");
    return bl_respond(x, &b, "application/json", err);
}
