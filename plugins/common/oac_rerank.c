#include "oac_rerank.h"
#include <string.h>

#define JSON(r) ((r)->host->json)
#define LIT(sink, s) (sink)->write((sink), "" s, sizeof(s) - 1)

typedef struct {
    ig_json_value_t *texts;  /* the text (a JSON string) of each of the client's documents */
    size_t ntexts;
    int return_documents;    /* -1: not given */
    int64_t top_n;           /* 0: not given */
} rerank_ctx_t;

/* A document's text: a string, or an object's string "text". */
static int document_text(const ig_engine_req_t *r, const ig_json_value_t *doc, ig_json_value_t *text)
{
    if (doc->type == IG_JSON_STRING) {
        *text = *doc;
        return 1;
    }
    return doc->type == IG_JSON_OBJECT && JSON(r)->object_get(doc, "text", 4, text) == 1 && text->type == IG_JSON_STRING;
}

/* Reads the client's documents into ctx; *flat is set to a strings-only array when any was an object. */
static int read_documents(ig_engine_req_t *r, const ig_json_value_t *docs, rerank_ctx_t *ctx, ig_str_t *flat, ig_error_t *err)
{
    ig_json_iter_t it;
    ig_json_value_t doc;
    size_t n = 0, bytes = 2;
    int objects = 0;
    JSON(r)->iter_init(&it, docs);
    while (JSON(r)->iter_next(&it, NULL, &doc) == 1) {
        n++;
        bytes += doc.len + 1;
        objects |= doc.type == IG_JSON_OBJECT;
    }
    ctx->texts = r->host->palloc(r->pool, sizeof(*ctx->texts) * (n ? n : 1));
    char *out = objects ? r->host->palloc(r->pool, bytes) : NULL;
    size_t len = 0;
    if (out != NULL)
        out[len++] = '[';
    JSON(r)->iter_init(&it, docs);
    for (ctx->ntexts = 0; JSON(r)->iter_next(&it, NULL, &doc) == 1; ctx->ntexts++) {
        ig_json_value_t *t = &ctx->texts[ctx->ntexts];
        if (!document_text(r, &doc, t)) /* the core checked already; a plugin stays safe on its own */
            return r->host->error(err, "'documents[%zu]' must be a string or an object with a 'text' string", ctx->ntexts);
        if (out != NULL) {
            if (ctx->ntexts > 0)
                out[len++] = ',';
            memcpy(out + len, t->ptr, t->len); /* the string as the client escaped it: still valid JSON */
            len += t->len;
        }
    }
    if (out != NULL)
        out[len++] = ']';
    *flat = (ig_str_t){out, len};
    return 0;
}

/* {"text": <text>} */
static void write_document(ig_sink_t *sink, const ig_json_value_t *text)
{
    LIT(sink, "{\"text\":");
    sink->write(sink, text->ptr, text->len);
    LIT(sink, "}");
}

static void write_int(ig_sink_t *sink, int64_t v)
{
    char buf[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        buf[sizeof(buf) - 1 - n++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        buf[sizeof(buf) - 1 - n++] = '-';
    sink->write(sink, buf + sizeof(buf) - n, n);
}

/* One engine result → {"index","relevance_score"[,"document"]}; 0, or -1 if it is not a result. */
static int write_result(ig_engine_req_t *r, const rerank_ctx_t *ctx, const ig_json_value_t *res, int first, ig_sink_t *sink)
{
    ig_json_value_t idx, score, doc, text;
    int64_t index;
    if (res->type != IG_JSON_OBJECT || JSON(r)->object_get(res, "index", 5, &idx) != 1 || JSON(r)->int64(&idx, &index) != 0 ||
        JSON(r)->object_get(res, "relevance_score", 15, &score) != 1 || score.type != IG_JSON_NUMBER)
        return -1;
    int engine_doc = JSON(r)->object_get(res, "document", 8, &doc) == 1 && document_text(r, &doc, &text);
    if (!first)
        LIT(sink, ",");
    LIT(sink, "{\"index\":");
    write_int(sink, index);
    LIT(sink, ",\"relevance_score\":");
    sink->write(sink, score.ptr, score.len);
    if (ctx->return_documents == 1 || (ctx->return_documents == -1 && engine_doc)) {
        if (engine_doc) {
            LIT(sink, ",\"document\":");
            write_document(sink, &text);
        } else if (index >= 0 && (size_t)index < ctx->ntexts) {
            LIT(sink, ",\"document\":");
            write_document(sink, &ctx->texts[index]);
        }
    }
    LIT(sink, "}");
    return 0;
}

static void write_answer(ig_engine_req_t *r, const ig_json_value_t *ans, void *vctx, ig_sink_t *sink)
{
    const rerank_ctx_t *ctx = vctx;
    ig_json_value_t results, id, u, v;
    /* Infinity before 0.0.70 answered "data", later ones and vLLM "results" */
    if ((JSON(r)->object_get(ans, "results", 7, &results) != 1 && JSON(r)->object_get(ans, "data", 4, &results) != 1) ||
        results.type != IG_JSON_ARRAY) {
        sink->write(sink, ans->ptr, ans->len); /* not a rerank answer we know: hand it over as it is */
        return;
    }
    int64_t total;
    if (r->usage.prompt_tokens < 0 && JSON(r)->object_get(ans, "usage", 5, &u) == 1 &&
        JSON(r)->object_get(&u, "total_tokens", 12, &v) == 1 && JSON(r)->int64(&v, &total) == 0) {
        r->usage.prompt_tokens = total; /* vLLM before 0.8.5 reported total_tokens only */
        r->usage.completion_tokens = 0;
    }
    LIT(sink, "{");
    if (JSON(r)->object_get(ans, "id", 2, &id) == 1 && id.type == IG_JSON_STRING) {
        LIT(sink, "\"id\":");
        sink->write(sink, id.ptr, id.len);
        LIT(sink, ",");
    }
    LIT(sink, "\"object\":\"rerank\",\"model\":");
    oac_write_client_model(r, sink);
    LIT(sink, ",\"results\":[");
    ig_json_iter_t it;
    ig_json_value_t res;
    int64_t n = 0;
    JSON(r)->iter_init(&it, &results);
    while ((ctx->top_n == 0 || n < ctx->top_n) && JSON(r)->iter_next(&it, NULL, &res) == 1)
        if (write_result(r, ctx, &res, n == 0, sink) == 0)
            n++;
    LIT(sink, "]");
    if (r->usage.prompt_tokens >= 0) {
        LIT(sink, ",\"usage\":{\"prompt_tokens\":");
        write_int(sink, r->usage.prompt_tokens);
        LIT(sink, ",\"total_tokens\":");
        write_int(sink, r->usage.prompt_tokens + (r->usage.completion_tokens > 0 ? r->usage.completion_tokens : 0));
        LIT(sink, "}");
    }
    LIT(sink, "}");
}

int oac_rerank_prepare(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err)
{
    rerank_ctx_t *ctx = r->host->palloc(r->pool, sizeof(*ctx));
    memset(ctx, 0, sizeof(*ctx));
    ctx->return_documents = -1;
    ig_json_value_t docs, v;
    if (JSON(r)->object_get(&r->body, "documents", 9, &docs) != 1 || docs.type != IG_JSON_ARRAY)
        return r->host->error(err, "you must provide a documents parameter: the texts to rank");
    ig_str_t flat;
    if (read_documents(r, &docs, ctx, &flat, err) != 0)
        return -1;
    int b;
    if (JSON(r)->object_get(&r->body, "return_documents", 16, &v) == 1 && JSON(r)->boolean(&v, &b) == 0)
        ctx->return_documents = b;
    if (JSON(r)->object_get(&r->body, "top_n", 5, &v) == 1 && JSON(r)->int64(&v, &ctx->top_n) == 0 && ctx->top_n < 0)
        ctx->top_n = 0;
    int rc = flat.ptr != NULL ? oac_prepare_replacing(r, path, upstream_model, &docs, flat, err)
                              : oac_prepare(r, path, upstream_model, err);
    if (rc != 0)
        return rc;
    oac_set_answer_writer(r, write_answer, ctx);
    return 0;
}
