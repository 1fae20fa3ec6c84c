#include "bl_listing.h"
#include "bl_http.h"
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

/* One price: what the core computed for the model (ig_pricing_t), which is what the ledger bills; "0"
 * where nothing is charged. Never the metadata's own pricing: the core merged it already. */
static void put_price(ig_buf_t *b, const entry_t *e, const char *key, const char *price, int *first)
{
    ig_buf_printf(b, "%s\"%s\":", *first ? "" : ",", key);
    *first = 0;
    if (price)
        put_str(b, e, price);
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

    /* OpenRouter's six always (input_cache_read is the prompt price unless the model sets its own:
     * what cached tokens are billed at), the others when the model has them */
    const ig_pricing_t *p = &m->pricing;
    const ig_pricing_more_t *q = &m->pricing_more;
    int first = 1;
    ig_buf_puts(b, ",\"pricing\":{");
    put_price(b, &e, "prompt", p->prompt, &first);
    put_price(b, &e, "completion", p->completion, &first);
    put_price(b, &e, "image", q->image, &first);
    put_price(b, &e, "request", p->request, &first);
    put_price(b, &e, "input_cache_read", p->input_cache_read, &first);
    put_price(b, &e, "input_cache_write", q->input_cache_write, &first);
    if (q->web_search)
        put_price(b, &e, "web_search", q->web_search, &first);
    if (q->internal_reasoning)
        put_price(b, &e, "internal_reasoning", q->internal_reasoning, &first);
    if (p->audio)
        put_price(b, &e, "audio", p->audio, &first);
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
    int first = 1;
    for (size_t i = 0; i < x->nmodels; i++) {
        /* only what any key may use, or what the operator marked listed (the core decides) */
        if (x->models_listed ? !x->models_listed[i] : x->models[i]->listed != IG_LISTED_YES)
            continue;
        if (!first)
            ig_buf_puts(&b, ",");
        first = 0;
        put_model(&b, x->host, x->models[i]);
    }
    ig_buf_puts(&b, "]}");
    return bl_respond(x, &b, "application/json", err);
}
