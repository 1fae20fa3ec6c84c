#include "openai_compat.h"
#include <stdlib.h>
#include <string.h>
#include "util/api.h"
#include "util/buf.h"

typedef struct {
    ig_buf_t buf;           /* plain body, or the unfinished SSE event */
    int passthrough;        /* plain body over OAC_MAX_BUFFERED: forwarded untouched */
    int64_t text_chunks;    /* chunks that carried text before the engine showed it reports usage */
    int stream_failed;      /* the engine reported an error inside the stream: nothing follows it */
    unsigned plugin_flags;  /* oac_plugin_flags() */
    const void *plugin_data; /* oac_plugin_data() */
    int sse;                /* the client asked for a stream */
    int rewrite_model;      /* the engine knows the model under another name */
    int strip_usage;        /* we asked for usage, the client did not: drop the usage-only chunk */
    int usage_per_chunk;    /* OAC_USAGE_PER_CHUNK: the engine reports usage so far on every chunk */
    int null_chunk_usage;   /* ... which the client did not ask for: each chunk's usage goes back to null */
    int audio;              /* a transcription or translation (multipart request) */
    int audio_from_header;  /* usage.audio_seconds came from the upload's WAV header */
    ig_str_t client_model;  /* the client's model as a JSON string (audio: its form value, escaped) */
    oac_answer_fn answer;   /* writes a plain 2xx answer in its own shape (oac_set_answer_writer) */
    void *answer_ctx;
} oac_state_t;

#define JSON(r) ((r)->host->json)

static void write_error_object(ig_engine_req_t *r, ig_sink_t *sink, int status, const ig_json_value_t *msg,
                               const ig_json_value_t *param);

/* ---- request ------------------------------------------------------------------------------- */

ig_str_t oac_json_literal(const ig_engine_req_t *r, const char *s, size_t n)
{
    size_t cap = n * 6 + 3; /* escaping grows a byte to at most 6 */
    char *lit = r->host->palloc(r->pool, cap);
    return (ig_str_t){lit, JSON(r)->escape(s, n, lit, cap)};
}

const char *oac_api_path(ig_api_t api)
{
    /* the text APIs every OpenAI-compatible server has; the others are each engine's to say */
    return api == IG_API_CHAT_COMPLETIONS || api == IG_API_COMPLETIONS || api == IG_API_EMBEDDINGS ? ig_api_path(api)
                                                                                                 : NULL;
}

unsigned *oac_plugin_flags(ig_engine_req_t *r)
{
    return &((oac_state_t *)r->state)->plugin_flags;
}

const void **oac_plugin_data(ig_engine_req_t *r)
{
    return &((oac_state_t *)r->state)->plugin_data;
}

ig_str_t oac_upstream_model(const ig_engine_req_t *r)
{
    if (r->adapter.len != 0)
        return r->adapter;
    const char *n = r->model->served_name ? r->model->served_name : r->model->name;
    return (ig_str_t){n, strlen(n)};
}

typedef struct {
    const char *from, *to; /* replaced span of the client body (from == to: insertion) */
    ig_str_t with;
} edit_t;

/* stream_options with include_usage (and continuous_usage_stats when per_chunk) forced true,
 * keeping the client's other options. */
static ig_str_t stream_options_with_usage(ig_engine_req_t *r, const ig_json_value_t *opts, int per_chunk)
{
    const char *head = per_chunk ? "{\"include_usage\":true,\"continuous_usage_stats\":true" : "{\"include_usage\":true";
    size_t cap = strlen(head) + 2 + (opts->type == IG_JSON_OBJECT ? opts->len : 0);
    char *out = r->host->palloc(r->pool, cap);
    size_t len = strlen(head);
    memcpy(out, head, len);
    if (opts->type == IG_JSON_OBJECT) {
        ig_json_iter_t it;
        ig_json_value_t k, v;
        JSON(r)->iter_init(&it, opts);
        while (JSON(r)->iter_next(&it, &k, &v) == 1) {
            if (JSON(r)->string_eq(&k, "include_usage", 13) ||
                (per_chunk && JSON(r)->string_eq(&k, "continuous_usage_stats", 22)))
                continue;
            /* the member as written: from its key to the end of its value */
            size_t n = (size_t)(v.ptr + v.len - k.ptr);
            out[len++] = ',';
            memcpy(out + len, k.ptr, n);
            len += n;
        }
    }
    out[len++] = '}';
    return (ig_str_t){out, len};
}

int oac_prepare(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err)
{
    return oac_prepare_replacing(r, path, upstream_model, NULL, (ig_str_t){NULL, 0}, err);
}

/* stream_options.continuous_usage_stats is true in the client's body. */
static int client_wants_chunk_usage(ig_engine_req_t *r)
{
    ig_json_value_t v;
    int b = 0;
    return JSON(r)->path(&r->body, "stream_options.continuous_usage_stats", &v) == 1 && JSON(r)->boolean(&v, &b) == 0 && b;
}

static int prepare_spliced(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, const ig_json_value_t *span,
                           ig_str_t with, unsigned flags, ig_error_t *err);

int oac_prepare_replacing(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, const ig_json_value_t *span,
                          ig_str_t with, ig_error_t *err)
{
    return prepare_spliced(r, path, upstream_model, span, with, 0, err);
}

int oac_prepare_flags(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, unsigned flags, ig_error_t *err)
{
    return prepare_spliced(r, path, upstream_model, NULL, (ig_str_t){NULL, 0}, flags, err);
}

static int prepare_spliced(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, const ig_json_value_t *span,
                           ig_str_t with, unsigned flags, ig_error_t *err)
{
    const ig_host_t *h = r->host;
    oac_state_t *st = h->palloc(r->pool, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->sse = r->stream;
    r->state = st;

    edit_t edits[3];
    size_t nedits = 0;
    if (span != NULL)
        edits[nedits++] = (edit_t){span->ptr, span->ptr + span->len, with};
    if (!JSON(r)->string_eq(&r->model_field, upstream_model.ptr, upstream_model.len)) {
        edits[nedits++] = (edit_t){r->model_field.ptr, r->model_field.ptr + r->model_field.len,
                                   oac_json_literal(r, upstream_model.ptr, upstream_model.len)};
        st->rewrite_model = 1;
    }
    st->usage_per_chunk = r->stream && (flags & OAC_USAGE_PER_CHUNK);
    st->null_chunk_usage = st->usage_per_chunk && !client_wants_chunk_usage(r);
    if (r->stream && (!r->client_wants_usage || st->null_chunk_usage)) {
        ig_json_value_t opts;
        st->strip_usage = !r->client_wants_usage;
        if (JSON(r)->object_get(&r->body, "stream_options", 14, &opts) == 1) {
            edits[nedits++] = (edit_t){opts.ptr, opts.ptr + opts.len, stream_options_with_usage(r, &opts, st->usage_per_chunk)};
        } else {
            /* first member: the body has at least "model", so a trailing comma is always right */
            const char *ins = st->usage_per_chunk ? "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true},"
                                                  : "\"stream_options\":{\"include_usage\":true},";
            const char *at = r->body.ptr + 1;
            edits[nedits++] = (edit_t){at, at, {ins, strlen(ins)}};
        }
    }
    for (size_t i = 1; i < nedits; i++) /* in body order (they never overlap) */
        for (size_t j = i; j > 0 && edits[j].from < edits[j - 1].from; j--) {
            edit_t t = edits[j];
            edits[j] = edits[j - 1];
            edits[j - 1] = t;
        }
    const char *cur = r->body.ptr, *end = r->body.ptr + r->body.len;
    r->nupstream_body = 0;
    for (size_t i = 0; i < nedits; i++) {
        if (edits[i].from > cur)
            r->upstream_body[r->nupstream_body++] = (ig_str_t){cur, (size_t)(edits[i].from - cur)};
        r->upstream_body[r->nupstream_body++] = edits[i].with;
        cur = edits[i].to;
    }
    if (end > cur)
        r->upstream_body[r->nupstream_body++] = (ig_str_t){cur, (size_t)(end - cur)};
    r->upstream_path = (ig_str_t){path, strlen(path)};
    (void)err;
    return 0;
}

/* ---- response ------------------------------------------------------------------------------ */

/* A duration: a JSON number, or a string holding one (vLLM's verbose_json writes "5.0"). 0 or -1. */
static int json_seconds(const ig_host_t *host, const ig_json_value_t *v, double *out)
{
    double d;
    if (v->type == IG_JSON_NUMBER) {
        if (host->json->dbl(v, &d) != 0)
            return -1;
    } else if (v->type == IG_JSON_STRING) {
        char buf[40], *end;
        size_t n;
        if (host->json->string_unescape(v, buf, sizeof(buf) - 1, &n) != 0 || n == 0)
            return -1;
        buf[n] = '\0';
        d = strtod(buf, &end);
        if (*end != '\0')
            return -1;
    } else {
        return -1;
    }
    if (!(d >= 0 && d < 1e9))
        return -1;
    *out = d;
    return 0;
}

void oac_read_usage(const ig_host_t *host, const ig_json_value_t *obj, ig_usage_t *usage)
{
    ig_json_value_t u, v;
    int64_t n;
    if (host->json->object_get(obj, "usage", 5, &u) != 1 || u.type != IG_JSON_OBJECT)
        return;
    if (host->json->object_get(&u, "prompt_tokens", 13, &v) == 1 && host->json->int64(&v, &n) == 0)
        usage->prompt_tokens = n;
    if (host->json->object_get(&u, "completion_tokens", 17, &v) == 1 && host->json->int64(&v, &n) == 0)
        usage->completion_tokens = n;
    else if (usage->prompt_tokens >= 0)
        usage->completion_tokens = 0; /* embeddings report prompt tokens only */
    if (host->json->path(&u, "prompt_tokens_details.cached_tokens", &v) == 1 && host->json->int64(&v, &n) == 0)
        usage->cached_tokens = n;
    double secs;
    if (host->json->object_get(&u, "seconds", 7, &v) == 1 && json_seconds(host, &v, &secs) == 0)
        usage->audio_seconds = secs; /* vLLM's transcription usage: {"type":"duration","seconds":N} */
}

/* Writes obj (a JSON object's text) with its "model" value replaced by the client's. */
static void write_with_client_model(ig_engine_req_t *r, const ig_json_value_t *obj, ig_sink_t *sink)
{
    ig_json_value_t m;
    oac_state_t *st = r->state;
    if (JSON(r)->object_get(obj, "model", 5, &m) == 1) {
        sink->write(sink, obj->ptr, (size_t)(m.ptr - obj->ptr));
        if (st->client_model.len != 0)
            sink->write(sink, st->client_model.ptr, st->client_model.len);
        else
            sink->write(sink, r->model_field.ptr, r->model_field.len);
        sink->write(sink, m.ptr + m.len, (size_t)(obj->ptr + obj->len - (m.ptr + m.len)));
    } else {
        sink->write(sink, obj->ptr, obj->len);
    }
}

/* One JSON object's text (validated, one scan), or -1. */
static int parse_object(ig_engine_req_t *r, const char *p, size_t n, ig_json_value_t *obj)
{
    return JSON(r)->validate_value(p, n, NULL, obj) == 0 && obj->type == IG_JSON_OBJECT ? 0 : -1;
}

/* The final chunk of a stream with include_usage: "choices": [] and a usage object. */
static int is_usage_only_chunk(ig_engine_req_t *r, const ig_json_value_t *obj)
{
    ig_json_value_t choices, usage, first;
    ig_json_iter_t it;
    if (JSON(r)->object_get(obj, "usage", 5, &usage) != 1 || usage.type != IG_JSON_OBJECT)
        return 0;
    if (JSON(r)->object_get(obj, "choices", 7, &choices) != 1 || choices.type != IG_JSON_ARRAY)
        return 0;
    JSON(r)->iter_init(&it, &choices);
    return JSON(r)->iter_next(&it, NULL, &first) == 0;
}

/*
 * A streamed transcription event. faster-whisper-server's verbose_json events carry one segment
 * each, with "duration" = that segment's length: the audio heard so far is the latest segment end.
 * Used only when the upload's header did not give the duration.
 */
static void audio_stream_event(ig_engine_req_t *r, const ig_json_value_t *obj)
{
    oac_state_t *st = r->state;
    ig_json_value_t segs, seg, end;
    ig_json_iter_t it;
    double d;
    if (st->audio_from_header || JSON(r)->object_get(obj, "segments", 8, &segs) != 1 || segs.type != IG_JSON_ARRAY)
        return;
    JSON(r)->iter_init(&it, &segs);
    while (JSON(r)->iter_next(&it, NULL, &seg) == 1)
        if (seg.type == IG_JSON_OBJECT && JSON(r)->object_get(&seg, "end", 3, &end) == 1 &&
            json_seconds(r->host, &end, &d) == 0 && d > r->usage.audio_seconds)
            r->usage.audio_seconds = d;
}

/*
 * A chunk with usage so far that the client did not ask for: written with "usage":null, as the
 * engine writes it without continuous_usage_stats (and with the client's model name when rewritten).
 */
static void write_with_null_usage(ig_engine_req_t *r, const ig_json_value_t *obj, const ig_json_value_t *usage,
                                  ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    ig_json_value_t m;
    ig_str_t client_model = st->client_model.len ? st->client_model : (ig_str_t){r->model_field.ptr, r->model_field.len};
    typedef struct {
        const ig_json_value_t *span;
        ig_str_t with;
    } cut_t;
    cut_t cut[2] = {{usage, {"null", 4}}};
    size_t ncut = 1;
    if (st->rewrite_model && JSON(r)->object_get(obj, "model", 5, &m) == 1)
        cut[ncut++] = (cut_t){&m, client_model};
    if (ncut == 2 && cut[1].span->ptr < cut[0].span->ptr) {
        cut_t t = cut[0];
        cut[0] = cut[1];
        cut[1] = t;
    }
    const char *cur = obj->ptr;
    for (size_t i = 0; i < ncut; i++) {
        sink->write(sink, cur, (size_t)(cut[i].span->ptr - cur));
        sink->write(sink, cut[i].with.ptr, cut[i].with.len);
        cur = cut[i].span->ptr + cut[i].span->len;
    }
    sink->write(sink, cur, (size_t)(obj->ptr + obj->len - cur));
}

/* A chunk whose first choice carries text: at least one generated token (exactly one for engines that
 * stream token by token; merged deltas carry several, so the count is a lower bound). */
static void count_text_chunk(ig_engine_req_t *r, const ig_json_value_t *obj)
{
    ig_json_value_t t;
    if ((JSON(r)->path(obj, "choices.0.delta.content", &t) == 1 || JSON(r)->path(obj, "choices.0.text", &t) == 1) &&
        t.type == IG_JSON_STRING && t.len > 2)
        ((oac_state_t *)r->state)->text_chunks++;
}

/*
 * An error the engine reported after its answer had begun: vLLM's `data: {"error": {...}}` (any
 * envelope), then [DONE]. The client gets it in OpenAI's shape and the stream ends there (no [DONE]:
 * a failed stream never looks complete); the core records the request as failed with its status.
 */
static void stream_error(ig_engine_req_t *r, const ig_json_value_t *err, ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    ig_json_value_t msg = *err, param = {IG_JSON_NULL, "null", 4}, v;
    int64_t code = 0;
    if (err->type == IG_JSON_OBJECT) {
        if (JSON(r)->object_get(err, "message", 7, &v) == 1)
            msg = v;
        if (JSON(r)->object_get(err, "param", 5, &v) == 1 && v.type == IG_JSON_STRING)
            param = v;
        if (JSON(r)->object_get(err, "code", 4, &v) == 1 && JSON(r)->int64(&v, &code) != 0)
            code = 0;
    }
    int status = code >= 400 && code <= 599 ? (int)code : 500;
    r->stream_error_status = status;
    st->stream_failed = 1;
    sink->write(sink, "data: ", 6);
    write_error_object(r, sink, status, &msg, &param);
    sink->write(sink, "\n\n", 2);
}

/* One SSE event (without its blank-line terminator). */
static void sse_event(ig_engine_req_t *r, const char *ev, size_t n, ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    ig_json_value_t obj, err;
    if (st->stream_failed)
        return; /* the engine's [DONE] after its error */
    if (n > 5 && memcmp(ev, "data:", 5) == 0) {
        const char *payload = ev + 5;
        size_t plen = n - 5;
        if (plen > 0 && *payload == ' ')
            payload++, plen--;
        if (plen > 0 && *payload == '{' && parse_object(r, payload, plen, &obj) == 0) {
            if (JSON(r)->object_get(&obj, "error", 5, &err) == 1 &&
                (err.type == IG_JSON_OBJECT || err.type == IG_JSON_STRING)) {
                stream_error(r, &err, sink);
                return;
            }
            oac_read_usage(r->host, &obj, &r->usage);
            if (st->audio)
                audio_stream_event(r, &obj);
            /* until the engine shows it reports usage (a chunk with usage so far, or the final usage
             * chunk), chunks that carry text are counted: the bill of a stream cut before it does */
            else if (r->usage.completion_tokens < 0)
                count_text_chunk(r, &obj);
            if (st->strip_usage && is_usage_only_chunk(r, &obj))
                return; /* the usage-only chunk the client did not ask for */
            ig_json_value_t u;
            if (st->null_chunk_usage && JSON(r)->object_get(&obj, "usage", 5, &u) == 1 && u.type == IG_JSON_OBJECT &&
                !is_usage_only_chunk(r, &obj)) {
                sink->write(sink, "data: ", 6);
                write_with_null_usage(r, &obj, &u, sink);
                sink->write(sink, "\n\n", 2);
                return;
            }
            if (st->rewrite_model) {
                sink->write(sink, "data: ", 6);
                write_with_client_model(r, &obj, sink);
                sink->write(sink, "\n\n", 2);
                return;
            }
        }
    }
    sink->write(sink, ev, n);
    sink->write(sink, "\n\n", 2);
}

/* Length of the event at p (up to its blank line) and of the terminator ("\n\n" or "\n\r\n"); term 0 if incomplete. */
static size_t sse_next(const char *p, size_t n, size_t *term)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i] != '\n')
            continue;
        if (p[i + 1] == '\n') {
            *term = 2;
            return i;
        }
        if (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n') {
            *term = 3;
            return i;
        }
    }
    *term = 0;
    return 0;
}

/* Feeds events from p; returns how many bytes were consumed (complete events). */
static size_t sse_feed(ig_engine_req_t *r, const char *p, size_t n, ig_sink_t *sink)
{
    size_t used = 0, term;
    for (;;) {
        size_t evlen = sse_next(p + used, n - used, &term);
        if (term == 0)
            break;
        size_t cut = evlen > 0 && p[used + evlen - 1] == '\r' ? evlen - 1 : evlen;
        if (cut > 0)
            sse_event(r, p + used, cut, sink);
        used += evlen + term;
    }
    return used;
}

void oac_on_response_data(ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    if (st->sse && r->upstream_status < 400) {
        if (st->buf.len == 0) {
            /* common case: whole events in this read, no copy */
            size_t used = sse_feed(r, data, len, sink);
            if (used < len)
                ig_buf_put(&st->buf, data + used, len - used);
            return;
        }
        if (ig_buf_put(&st->buf, data, len) != 0)
            return;
        size_t used = sse_feed(r, st->buf.p, st->buf.len, sink);
        memmove(st->buf.p, st->buf.p + used, st->buf.len - used + 1); /* with the NUL */
        st->buf.len -= used;
        return;
    }
    if (st->passthrough) {
        sink->write(sink, data, len);
        return;
    }
    if (st->buf.len + len > OAC_MAX_BUFFERED && r->upstream_status < 400) {
        /* too large to rewrite: forward as is (the model name and usage stay the engine's) */
        st->passthrough = 1;
        sink->write(sink, st->buf.p, st->buf.len);
        sink->write(sink, data, len);
        ig_buf_reset(&st->buf);
        return;
    }
    ig_buf_put(&st->buf, data, len);
}

void oac_write_error(ig_engine_req_t *r, ig_sink_t *sink, const char *type, const char *code, const char *msg, size_t len)
{
    ig_str_t lit = oac_json_literal(r, msg, len);
    sink->write(sink, "{\"error\":{\"message\":", 20);
    sink->write(sink, lit.ptr, lit.len);
    sink->write(sink, ",\"type\":\"", 9);
    sink->write(sink, type, strlen(type));
    sink->write(sink, "\",\"param\":null,\"code\":", 22);
    if (code != NULL) {
        sink->write(sink, "\"", 1);
        sink->write(sink, code, strlen(code));
        sink->write(sink, "\"", 1);
    } else {
        sink->write(sink, "null", 4);
    }
    sink->write(sink, "}}", 2);
}

/* The message of an engine's error body (see oac_error_message) as a JSON value, and the body's root. */
static int error_message_value(ig_engine_req_t *r, ig_json_value_t *root, ig_json_value_t *msg)
{
    oac_state_t *st = r->state;
    ig_json_value_t err;
    if (st == NULL || st->buf.len == 0 || parse_object(r, st->buf.p, st->buf.len, root) != 0)
        return 0;
    if (JSON(r)->object_get(root, "error", 5, &err) == 1) {
        if (err.type == IG_JSON_STRING) {
            *msg = err;
            return 1;
        }
        if (err.type == IG_JSON_OBJECT && JSON(r)->object_get(&err, "message", 7, msg) == 1)
            return 1;
    }
    return JSON(r)->object_get(root, "message", 7, msg) == 1 || JSON(r)->object_get(root, "detail", 6, msg) == 1;
}

int oac_error_message(ig_engine_req_t *r, ig_str_t *out)
{
    ig_json_value_t root, msg;
    if (!error_message_value(r, &root, &msg) || msg.type != IG_JSON_STRING)
        return 0;
    char *buf = r->host->palloc(r->pool, msg.len + 1);
    size_t n = 0;
    if (JSON(r)->string_unescape(&msg, buf, msg.len + 1, &n) != 0)
        return 0;
    buf[n] = '\0';
    *out = (ig_str_t){buf, n};
    return 1;
}

void oac_error_kind(int status, const char **type, const char **code)
{
    *code = NULL;
    switch (status) {
    case 401:
        *type = "invalid_request_error";
        *code = "invalid_api_key";
        return;
    case 404:
        *type = "invalid_request_error";
        *code = "model_not_found";
        return;
    case 429:
        *type = "rate_limit_exceeded";
        *code = "rate_limit_exceeded";
        return;
    default:
        *type = status >= 500 ? "server_error" : "invalid_request_error";
        return;
    }
}

/* {"error":{"message":msg,"type","param","code"}}: type and code from the status (oac_error_kind), the
 * message as the engine wrote it (a structure, such as FastAPI's validation details, as its text). */
static void write_error_object(ig_engine_req_t *r, ig_sink_t *sink, int status, const ig_json_value_t *msg,
                               const ig_json_value_t *param)
{
    const char *type, *code;
    oac_error_kind(status, &type, &code);
    sink->write(sink, "{\"error\":{\"message\":", 20);
    if (msg->type == IG_JSON_STRING) {
        sink->write(sink, msg->ptr, msg->len);
    } else {
        /* FastAPI validation details are a structure: hand it over as text */
        ig_str_t lit = oac_json_literal(r, msg->ptr, msg->len);
        sink->write(sink, lit.ptr, lit.len);
    }
    sink->write(sink, ",\"type\":\"", 9);
    sink->write(sink, type, strlen(type));
    sink->write(sink, "\",\"param\":", 10);
    sink->write(sink, param->ptr, param->len);
    sink->write(sink, ",\"code\":", 8);
    if (code != NULL) {
        sink->write(sink, "\"", 1);
        sink->write(sink, code, strlen(code));
        sink->write(sink, "\"", 1);
    } else {
        sink->write(sink, "null", 4);
    }
    sink->write(sink, "}}", 2);
}

/*
 * Any engine's error body in OpenAI's shape, typed by its status: vLLM >= 0.10.1
 * {"error":{"message","type":"BadRequestError","param","code":400}}, vLLM 0.6 {"object":"error",
 * "message",...}, OpenAI-shaped layers (Ollama's, Infinity's {"error":{...,"type":null}}), Ollama's
 * native {"error":"..."}, FastAPI's {"detail":...}. The engine's message and param are kept; its
 * type and code (class names, numbers) are not what OpenAI clients branch on.
 */
static void write_openai_error(ig_engine_req_t *r, ig_sink_t *sink)
{
    ig_json_value_t root, msg, err, v, param = {IG_JSON_NULL, "null", 4};
    if (!error_message_value(r, &root, &msg))
        return; /* nothing usable: the core answers with its own message */
    const ig_json_value_t *holder = JSON(r)->object_get(&root, "error", 5, &err) == 1 && err.type == IG_JSON_OBJECT ? &err : &root;
    if (JSON(r)->object_get(holder, "param", 5, &v) == 1 && v.type == IG_JSON_STRING)
        param = v;
    write_error_object(r, sink, r->upstream_status, &msg, &param);
}

void oac_set_answer_writer(ig_engine_req_t *r, oac_answer_fn fn, void *ctx)
{
    oac_state_t *st = r->state;
    st->answer = fn;
    st->answer_ctx = ctx;
}

void oac_write_client_model(ig_engine_req_t *r, ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    if (st->client_model.len != 0)
        sink->write(sink, st->client_model.ptr, st->client_model.len);
    else
        sink->write(sink, r->model_field.ptr, r->model_field.len);
}

void oac_discard(ig_engine_req_t *r)
{
    oac_state_t *st = r->state;
    if (st == NULL)
        return;
    ig_buf_free(&st->buf);
}

void oac_on_response_end(ig_engine_req_t *r, int complete, ig_sink_t *sink)
{
    oac_state_t *st = r->state;
    if (st == NULL)
        return;
    /* a transcription the engine refused (404 "model not installed", 400, ...) or never answered
     * transcribed nothing: the duration read from the upload's header at prepare is not usage */
    if (st->audio && (r->upstream_status < 200 || r->upstream_status >= 300)) {
        r->usage.audio_seconds = -1;
        st->audio_from_header = 0;
    }
    if (r->upstream_status >= 400) {
        if (complete)
            write_openai_error(r, sink);
    } else if (st->sse) {
        if (complete && st->buf.len > 0)
            sse_event(r, st->buf.p, st->buf.len, sink); /* a last event without its blank line */
        /* no usage from the engine (it ignores stream_options, or the stream was cut before its usage
         * chunk without continuous_usage_stats): the chunks that carried text, a lower bound */
        if (r->usage.completion_tokens < 0 && st->text_chunks > 0)
            r->usage.completion_tokens = st->text_chunks;
    } else if (complete && !st->passthrough && st->buf.len > 0) {
        ig_json_value_t obj;
        if (parse_object(r, st->buf.p, st->buf.len, &obj) == 0) {
            oac_read_usage(r->host, &obj, &r->usage);
            ig_json_value_t dur;
            double d;
            if (st->audio && JSON(r)->object_get(&obj, "duration", 8, &dur) == 1 && json_seconds(r->host, &dur, &d) == 0)
                r->usage.audio_seconds = d; /* verbose_json: the whole audio's duration, as the engine decoded it */
            if (st->answer != NULL) {
                st->answer(r, &obj, st->answer_ctx, sink);
            } else if (st->rewrite_model) {
                write_with_client_model(r, &obj, sink);
                sink->write(sink, st->buf.p + (obj.ptr + obj.len - st->buf.p), st->buf.len - (size_t)(obj.ptr + obj.len - st->buf.p));
            } else {
                sink->write(sink, st->buf.p, st->buf.len);
            }
        } else {
            sink->write(sink, st->buf.p, st->buf.len);
        }
    }
    ig_buf_free(&st->buf);
}

/* ---- audio requests ------------------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t le16(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/*
 * The byte rate of a fmt chunk (channels, sample rate, byte rate, block align, bits per sample), or
 * 0 when its fields disagree. A decoder plays block-align-sized frames at the sample rate and never
 * reads the byte rate: billing by a byte rate the client wrote freely would let a long recording
 * cost nothing. Compressed formats (their rates are averages) do not agree either: their duration is
 * the engine's to say.
 */
static uint32_t fmt_byte_rate(const unsigned char *f)
{
    uint32_t channels = le16(f + 2), rate = le32(f + 4), byte_rate = le32(f + 8), align = le16(f + 12),
             bits = le16(f + 14);
    if (channels == 0 || rate == 0 || bits == 0 || align != channels * ((bits + 7) / 8) ||
        (uint64_t)rate * align != byte_rate)
        return 0;
    return byte_rate;
}

double oac_wav_seconds(const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return -1;
    uint32_t byte_rate = 0;
    size_t off = 12;
    /* chunks: 4-byte id, 4-byte little-endian size, data padded to an even length */
    while (off + 8 <= n) {
        uint32_t size = le32(p + off + 4);
        const unsigned char *id = p + off;
        off += 8;
        if (memcmp(id, "fmt ", 4) == 0) {
            if (size < 16 || off + 16 > n)
                return -1;
            byte_rate = fmt_byte_rate(p + off);
        } else if (memcmp(id, "data", 4) == 0) {
            if (byte_rate == 0)
                return -1; /* fmt (agreeing with itself) must come first: without it the bytes mean nothing */
            size_t have = n - off;
            /* 0xFFFFFFFF (or a size past the end): a stream whose writer never knew the length */
            size_t bytes = size == UINT32_MAX || size > have ? have : size;
            return (double)bytes / byte_rate;
        }
        if (size > n - off)
            return -1;
        off += size + (size & 1);
    }
    return -1;
}

int oac_prepare_form(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err)
{
    const ig_host_t *h = r->host;
    oac_state_t *st = h->palloc(r->pool, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->sse = r->stream;
    st->audio = 1;
    r->state = st;

    const ig_form_part_t *model = NULL, *file = NULL;
    for (size_t i = 0; i < r->nform; i++) {
        if (r->form[i].name.len == 5 && memcmp(r->form[i].name.ptr, "model", 5) == 0)
            model = &r->form[i];
        else if (r->form[i].name.len == 4 && memcmp(r->form[i].name.ptr, "file", 4) == 0)
            file = &r->form[i];
    }
    if (model == NULL || file == NULL)
        return h->error(err, "the form has no %s part", model == NULL ? "model" : "file");

    /* the client's model, for answers that name it (vLLM's stream chunks) */
    ig_str_t cm = model->value;
    st->client_model = oac_json_literal(r, cm.ptr, cm.len);

    const char *body = r->raw_body.ptr, *end = r->raw_body.ptr + r->raw_body.len;
    r->nupstream_body = 0;
    if (cm.len != upstream_model.len || memcmp(cm.ptr, upstream_model.ptr, cm.len) != 0) {
        /* splice: everything before the model's value, the served name, everything after */
        st->rewrite_model = 1;
        r->upstream_body[r->nupstream_body++] = (ig_str_t){body, (size_t)(model->value.ptr - body)};
        r->upstream_body[r->nupstream_body++] = upstream_model;
        const char *after = model->value.ptr + model->value.len;
        r->upstream_body[r->nupstream_body++] = (ig_str_t){after, (size_t)(end - after)};
    } else {
        r->upstream_body[r->nupstream_body++] = r->raw_body;
    }

    /* always quoted: RFC 2046 boundaries may hold characters a token may not (space, ':', '='),
     * and never a quote or a backslash, so quoting needs no escapes */
    static const char ct[] = "multipart/form-data; boundary=\"";
    size_t n = sizeof(ct) - 1 + r->boundary.len + 1;
    char *v = h->palloc(r->pool, n);
    memcpy(v, ct, sizeof(ct) - 1);
    memcpy(v + sizeof(ct) - 1, r->boundary.ptr, r->boundary.len);
    v[n - 1] = '"';
    r->upstream_content_type = (ig_str_t){v, n};
    r->upstream_path = (ig_str_t){path, strlen(path)};

    double secs = oac_wav_seconds(file->value.ptr, file->value.len);
    if (secs >= 0) {
        r->usage.audio_seconds = secs;
        st->audio_from_header = 1;
    }
    return 0;
}
