#include "sim_whisper.h"

#include <math.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "sim_config.h"
#include "sim_control.h"
#include "sim_http.h"
#include "sim_multipart.h"
#include "sim_openai.h"
#include "sim_server.h"
#include "sim_stats.h"
#include "util/hex.h"

#define SEGMENT_SECONDS 2.0 /* the transcript is cut into segments of this much audio */
#define WORDS_PER_SECOND 2.0
#define RAW_BYTES_PER_SECOND 32000.0 /* a file that is not WAV counts as 16 kHz 16-bit mono PCM */

typedef enum { FMT_JSON, FMT_TEXT, FMT_VERBOSE, FMT_SRT, FMT_VTT } fmt_t;
static const char *const fmt_names[] = {"json", "text", "verbose_json", "srt", "vtt"};

typedef struct {
    int vllm, translate, stream, include_usage, words;
    fmt_t fmt;
    double duration;
    const char *model;
    size_t model_len;
    const char *language;
    size_t language_len;
} job_t;

/* ---- what the last upload looked like (GET /sim/audio) ------------------------------------------ */

static struct {
    pthread_mutex_t lock;
    uint64_t requests, file_bytes, audio_ms;
    char sha256[65];
    uint64_t last_bytes;
    char model[128], filename[128], format[16];
    double duration;
    int stream;
} audio_log = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void copy_field(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void log_upload(const job_t *j, const sim_form_field_t *file)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)file->value, file->value_len, md);
    pthread_mutex_lock(&audio_log.lock);
    audio_log.requests++;
    audio_log.file_bytes += file->value_len;
    audio_log.audio_ms += (uint64_t)llround(j->duration * 1000);
    ig_hex_encode(md, SHA256_DIGEST_LENGTH, audio_log.sha256);
    audio_log.last_bytes = file->value_len;
    copy_field(audio_log.model, sizeof(audio_log.model), j->model, j->model_len);
    copy_field(audio_log.filename, sizeof(audio_log.filename), file->filename, file->filename_len);
    copy_field(audio_log.format, sizeof(audio_log.format), fmt_names[j->fmt], strlen(fmt_names[j->fmt]));
    audio_log.duration = j->duration;
    audio_log.stream = j->stream;
    pthread_mutex_unlock(&audio_log.lock);
}

void sim_whisper_audio_stats(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    pthread_mutex_lock(&audio_log.lock);
    ig_buf_lit(b, "{\"requests\":");
    ig_buf_put_u64(b, audio_log.requests);
    ig_buf_lit(b, ",\"file_bytes\":");
    ig_buf_put_u64(b, audio_log.file_bytes);
    ig_buf_lit(b, ",\"audio_seconds\":");
    sim_buf_put_double(b, (double)audio_log.audio_ms / 1000);
    ig_buf_lit(b, ",\"last\":{\"sha256\":");
    ig_json_write_str(b, audio_log.sha256, strlen(audio_log.sha256));
    ig_buf_lit(b, ",\"bytes\":");
    ig_buf_put_u64(b, audio_log.last_bytes);
    ig_buf_lit(b, ",\"model\":");
    ig_json_write_str(b, audio_log.model, strlen(audio_log.model));
    ig_buf_lit(b, ",\"filename\":");
    ig_json_write_str(b, audio_log.filename, strlen(audio_log.filename));
    ig_buf_lit(b, ",\"response_format\":");
    ig_json_write_str(b, audio_log.format, strlen(audio_log.format));
    ig_buf_lit(b, ",\"duration\":");
    sim_buf_put_double(b, audio_log.duration);
    ig_buf_puts(b, audio_log.stream ? ",\"stream\":true}}" : ",\"stream\":false}}");
    pthread_mutex_unlock(&audio_log.lock);
    sim_http_send_buf(req, 200, b);
}

/* ---- the audio --------------------------------------------------------------------------------- */

static uint32_t rd32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* As a decoder sees it: whole frames of the data chunk over the sample rate.  Not WAV: raw PCM. */
static double audio_duration(const char *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WAVE", 4) == 0) {
        uint32_t rate = 0, frame = 0;
        for (size_t at = 12; at + 8 <= n;) {
            uint32_t len = rd32(p + at + 4);
            if (memcmp(p + at, "fmt ", 4) == 0 && len >= 16 && at + 24 <= n) {
                rate = rd32(p + at + 12);
                frame = rd16(p + at + 20); /* block align: channels * bytes per sample */
            } else if (memcmp(p + at, "data", 4) == 0 && rate > 0 && frame > 0) {
                uint64_t bytes = n - (at + 8);
                if (len < bytes)
                    bytes = len;
                return (double)(bytes / frame) / rate;
            }
            if (len > n - at - 8)
                break;
            at += 8 + len + (len & 1);
        }
    }
    return (double)n / RAW_BYTES_PER_SECOND;
}

static unsigned nsegments(double duration)
{
    unsigned n = (unsigned)ceil(duration / SEGMENT_SECONDS);
    return n ? n : 1;
}

static void seg_bounds(double duration, unsigned i, double *start, double *end)
{
    *start = i * SEGMENT_SECONDS;
    *end = fmin((i + 1) * SEGMENT_SECONDS, duration);
    if (*end < *start)
        *end = *start;
}

/* Words of segment i, numbered on from the previous segments' ("word1", "word2", ...). */
static void seg_words(double duration, unsigned i, unsigned *first, unsigned *count)
{
    unsigned k = 1;
    for (unsigned s = 0;; s++) {
        double a, e;
        seg_bounds(duration, s, &a, &e);
        unsigned c = (unsigned)ceil((e - a) * WORDS_PER_SECOND);
        if (c == 0)
            c = 1;
        if (s == i) {
            *first = k;
            *count = c;
            return;
        }
        k += c;
    }
}

/* Segment text as Whisper writes it: each word preceded by a space. */
static void put_seg_text(ig_buf_t *b, const job_t *j, unsigned i)
{
    unsigned first, count;
    seg_words(j->duration, i, &first, &count);
    for (unsigned k = first; k < first + count; k++) {
        ig_buf_puts(b, j->translate ? " translated" : " word");
        ig_buf_put_u64(b, k);
    }
}

/* The whole transcript, stripped (segments_to_text). */
static void put_text(ig_buf_t *b, const job_t *j)
{
    size_t at = b->len;
    for (unsigned i = 0; i < nsegments(j->duration); i++)
        put_seg_text(b, j, i);
    memmove(b->p + at, b->p + at + 1, b->len - at - 1); /* drop the leading space */
    b->p[--b->len] = '\0';
}

static void put_json_text(ig_buf_t *b, const job_t *j, int segment)
{
    ig_buf_t t = {0};
    if (segment >= 0)
        put_seg_text(&t, j, (unsigned)segment);
    else
        put_text(&t, j);
    ig_json_write_str(b, t.p, t.len);
    ig_buf_free(&t);
}

static void put_timestamp(ig_buf_t *b, double ts, char sep)
{
    char tmp[32];
    long ms = lround(ts * 1000);
    snprintf(tmp, sizeof(tmp), "%02ld:%02ld:%02ld%c%03ld", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, sep, ms % 1000);
    ig_buf_puts(b, tmp);
}

/* One SRT or VTT cue; VTT starts with its header and its first cue at 0. */
static void put_cue(ig_buf_t *b, const job_t *j, unsigned i, int vtt)
{
    double a, e;
    seg_bounds(j->duration, i, &a, &e);
    if (vtt && i == 0)
        ig_buf_lit(b, "WEBVTT\n\n");
    if (!vtt) {
        ig_buf_put_u64(b, i + 1);
        ig_buf_putc(b, '\n');
    }
    put_timestamp(b, vtt && i == 0 ? 0 : a, vtt ? '.' : ',');
    ig_buf_lit(b, " --> ");
    put_timestamp(b, e, vtt ? '.' : ',');
    ig_buf_putc(b, '\n');
    put_seg_text(b, j, i);
    ig_buf_lit(b, "\n\n");
}

static void put_words(ig_buf_t *b, const job_t *j, unsigned from, unsigned to)
{
    int firstw = 1;
    ig_buf_putc(b, '[');
    for (unsigned i = from; i < to; i++) {
        double a, e;
        unsigned first, count;
        seg_bounds(j->duration, i, &a, &e);
        seg_words(j->duration, i, &first, &count);
        for (unsigned k = 0; k < count; k++) {
            if (!firstw)
                ig_buf_putc(b, ',');
            firstw = 0;
            ig_buf_lit(b, "{\"start\":");
            sim_buf_put_double(b, a + (e - a) * k / count);
            ig_buf_lit(b, ",\"end\":");
            sim_buf_put_double(b, a + (e - a) * (k + 1) / count);
            ig_buf_puts(b, j->translate ? ",\"word\":\" translated" : ",\"word\":\" word");
            ig_buf_put_u64(b, first + k);
            ig_buf_lit(b, "\",\"probability\":0.9}");
        }
    }
    ig_buf_putc(b, ']');
}

static void put_segment(ig_buf_t *b, const job_t *j, unsigned i)
{
    double a, e;
    unsigned first, count;
    seg_bounds(j->duration, i, &a, &e);
    seg_words(j->duration, i, &first, &count);
    ig_buf_lit(b, "{\"id\":");
    ig_buf_put_u64(b, i + 1);
    ig_buf_lit(b, ",\"seek\":");
    ig_buf_put_u64(b, (uint64_t)(a * 100));
    ig_buf_lit(b, ",\"start\":");
    sim_buf_put_double(b, a);
    ig_buf_lit(b, ",\"end\":");
    sim_buf_put_double(b, e);
    ig_buf_lit(b, ",\"text\":");
    put_json_text(b, j, (int)i);
    ig_buf_lit(b, ",\"tokens\":[");
    for (unsigned k = 0; k < count; k++) {
        if (k)
            ig_buf_putc(b, ',');
        ig_buf_put_u64(b, 50364 + first + k);
    }
    ig_buf_lit(b, "],\"temperature\":0.0,\"avg_logprob\":-0.25,\"compression_ratio\":1.2,\"no_speech_prob\":0.01,\"words\":");
    if (j->words)
        put_words(b, j, i, i + 1);
    else
        ig_buf_lit(b, "null");
    ig_buf_putc(b, '}');
}

/* verbose_json of segments [from, to); a streamed event has one segment and its length as duration. */
static void put_verbose(ig_buf_t *b, const job_t *j, unsigned from, unsigned to, int streamed)
{
    double a, e;
    seg_bounds(j->duration, from, &a, &e);
    ig_buf_puts(b, j->translate ? "{\"task\":\"translate\",\"language\":" : "{\"task\":\"transcribe\",\"language\":");
    if (j->language != NULL)
        ig_json_write_str(b, j->language, j->language_len);
    else
        ig_buf_lit(b, "\"en\"");
    ig_buf_lit(b, ",\"duration\":");
    sim_buf_put_double(b, streamed ? e - a : j->duration);
    ig_buf_lit(b, ",\"text\":");
    put_json_text(b, j, streamed ? (int)from : -1);
    ig_buf_lit(b, ",\"words\":");
    if (j->words)
        put_words(b, j, from, to);
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"segments\":[");
    for (unsigned i = from; i < to; i++) {
        if (i > from)
            ig_buf_putc(b, ',');
        put_segment(b, j, i);
    }
    ig_buf_lit(b, "]}");
}

/* ---- answers ------------------------------------------------------------------------------------- */

static const char *content_type_of(const job_t *j)
{
    switch (j->fmt) {
    case FMT_TEXT:
    case FMT_SRT: return "text/plain; charset=utf-8";
    case FMT_VTT: return "text/vtt; charset=utf-8";
    default: return SIM_CT_JSON;
    }
}

static void respond(h2o_req_t *req, const job_t *j, int die)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    unsigned n = nsegments(j->duration);
    switch (j->fmt) {
    case FMT_TEXT: put_text(b, j); break;
    case FMT_SRT:
    case FMT_VTT:
        for (unsigned i = 0; i < n; i++)
            put_cue(b, j, i, j->fmt == FMT_VTT);
        break;
    case FMT_VERBOSE: put_verbose(b, j, 0, n, 0); break;
    case FMT_JSON:
        ig_buf_lit(b, "{\"text\":");
        put_json_text(b, j, -1);
        if (j->vllm) { /* vLLM bills audio by whole seconds */
            ig_buf_lit(b, ",\"usage\":{\"type\":\"duration\",\"seconds\":");
            ig_buf_put_u64(b, (uint64_t)ceil(j->duration));
            ig_buf_lit(b, "}");
        }
        ig_buf_putc(b, '}');
        break;
    }
    if (die) {
        sim_openai_send_half_then_die(req, b);
        return;
    }
    sim_http_send(req, 200, content_type_of(j), b->p, b->len);
}

/* A stream: every event is rendered up front, then handed to h2o one per proceed. */
typedef struct {
    h2o_generator_t super;
    char *events;
    size_t *ends; /* ends[i]: offset just past event i */
    size_t n, sent, die_at;
    int done, in_send, repump;
} wstream_t;

static void ws_stop(h2o_generator_t *g, h2o_req_t *req)
{
    wstream_t *s = (wstream_t *)g;
    if (!s->done) {
        s->done = 1;
        SIM_STAT_ADD(streams_cancelled, 1);
    }
}

/* h2o may call proceed from inside h2o_send: loop instead of recursing, and never touch the
 * stream after its final send (the request, and the pool holding it, may be gone). */
static void ws_proceed(h2o_generator_t *g, h2o_req_t *req)
{
    wstream_t *s = (wstream_t *)g;
    if (s->in_send) {
        s->repump = 1;
        return;
    }
    do {
        s->repump = 0;
        if (s->done)
            return;
        if (s->sent == s->die_at) {
            s->done = 1;
            sim_http_abort(req, 1);
            return;
        }
        size_t from = s->sent ? s->ends[s->sent - 1] : 0;
        h2o_iovec_t buf = h2o_iovec_init(s->events + from, s->ends[s->sent] - from);
        if (++s->sent == s->n) {
            s->done = 1;
            SIM_STAT_ADD(streams_finished, 1);
            h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
            return;
        }
        s->in_send = 1;
        h2o_send(req, &buf, 1, H2O_SEND_STATE_IN_PROGRESS);
        s->in_send = 0;
    } while (s->repump);
}

static void stream_event_payload(ig_buf_t *b, h2o_req_t *req, const job_t *j, unsigned i, const char *id, uint64_t created)
{
    if (j->vllm) { /* vLLM: transcription.chunk objects, the last one finished */
        ig_buf_lit(b, "{\"id\":\"");
        ig_buf_puts(b, id);
        ig_buf_lit(b, "\",\"object\":\"transcription.chunk\",\"created\":");
        ig_buf_put_u64(b, created);
        ig_buf_lit(b, ",\"model\":");
        ig_json_write_str(b, j->model, j->model_len);
        ig_buf_lit(b, ",\"choices\":[{\"delta\":{\"content\":");
        put_json_text(b, j, (int)i);
        ig_buf_puts(b, i + 1 == nsegments(j->duration) ? "},\"finish_reason\":\"stop\",\"stop_reason\":null}]}"
                                                        : "},\"finish_reason\":null,\"stop_reason\":null}]}");
        return;
    }
    switch (j->fmt) { /* faster-whisper-server: one event per segment in the requested format */
    case FMT_TEXT: put_seg_text(b, j, i); break;
    case FMT_JSON:
        ig_buf_lit(b, "{\"text\":");
        put_json_text(b, j, (int)i);
        ig_buf_putc(b, '}');
        break;
    case FMT_VERBOSE: put_verbose(b, j, i, i + 1, 1); break;
    case FMT_SRT:
    case FMT_VTT: put_cue(b, j, i, j->fmt == FMT_VTT); break;
    }
}

static void start_stream(h2o_req_t *req, const job_t *j, int die)
{
    sim_worker_t *w = sim_worker_of(req);
    unsigned nseg = nsegments(j->duration);
    size_t nev = nseg + (j->vllm ? 1 + (j->include_usage != 0) : 0);
    wstream_t *s = h2o_mem_alloc_pool(&req->pool, sizeof(*s));
    memset(s, 0, sizeof(*s));
    s->ends = h2o_mem_alloc_pool(&req->pool, nev * sizeof(size_t));
    char id[48] = "trsc-";
    ig_buf_t idb = {0};
    sim_buf_put_hex_rand(&idb, &w->rng, 32);
    copy_field(id + 5, sizeof(id) - 5, idb.p, idb.len);
    ig_buf_free(&idb);
    uint64_t created = (uint64_t)time(NULL);
    ig_buf_t *b = &w->scratch;
    ig_buf_reset(b);
    for (unsigned i = 0; i < nseg; i++) {
        ig_buf_lit(b, "data: ");
        stream_event_payload(b, req, j, i, id, created);
        ig_buf_lit(b, "\n\n");
        s->ends[s->n++] = b->len;
    }
    if (j->vllm && j->include_usage) {
        unsigned first, count;
        seg_words(j->duration, nseg - 1, &first, &count);
        uint64_t completion = first + count - 1, prompt = (uint64_t)ceil(j->duration * 50); /* Whisper: 50 frames/s */
        ig_buf_lit(b, "data: {\"id\":\"");
        ig_buf_puts(b, id);
        ig_buf_lit(b, "\",\"object\":\"transcription.chunk\",\"created\":");
        ig_buf_put_u64(b, created);
        ig_buf_lit(b, ",\"model\":");
        ig_json_write_str(b, j->model, j->model_len);
        ig_buf_lit(b, ",\"choices\":[],\"usage\":");
        sim_openai_put_usage(b, prompt, completion, 0, -1);
        ig_buf_lit(b, "}\n\n");
        s->ends[s->n++] = b->len;
    }
    if (j->vllm) {
        ig_buf_lit(b, "data: [DONE]\n\n");
        s->ends[s->n++] = b->len;
    }
    s->events = h2o_mem_alloc_pool(&req->pool, b->len);
    memcpy(s->events, b->p, b->len);
    s->die_at = die ? s->n / 2 : SIZE_MAX;
    s->super.proceed = ws_proceed;
    s->super.stop = ws_stop;
    req->res.status = 200;
    req->res.reason = "OK";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT(SIM_CT_SSE));
    h2o_start_response(req, &s->super);
    SIM_STAT_ADD(streams_started, 1);
    ws_proceed(&s->super, req);
}

/* ---- requests ------------------------------------------------------------------------------------ */

static void fw_500(h2o_req_t *req) { sim_http_send(req, 500, "text/plain; charset=utf-8", "Internal Server Error", 21); }

/* Refusals in the engine's own shape: FastAPI's 422 for faster-whisper-server, a 400 BadRequestError for vLLM. */
static void refuse(h2o_req_t *req, const job_t *j, const char *type, const char *field, const char *msg)
{
    if (j->vllm)
        sim_http_send_vllm_error(req, 400, "BadRequestError", msg);
    else
        sim_http_send_422(req, type, field, msg);
}

static int form_is_true(const sim_form_field_t *f)
{
    return f != NULL && ((f->value_len == 4 && strncasecmp(f->value, "true", 4) == 0) ||
                         (f->value_len == 1 && f->value[0] == '1'));
}

static void handle(h2o_req_t *req, int vllm, int translate)
{
    sim_fault_mode_t fault;
    if (sim_openai_admit(req, vllm ? NULL : fw_500, &fault) != 0)
        return;
    job_t j = {.vllm = vllm, .translate = translate};
    ssize_t ct = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    sim_form_t *form = h2o_mem_alloc_pool(&req->pool, sizeof(*form));
    const char *err = NULL;
    if (ct < 0 || sim_form_parse(req->headers.entries[ct].value.base, req->headers.entries[ct].value.len,
                                 req->entity.base ? req->entity.base : "", req->entity.len, form, &err) != 0) {
        refuse(req, &j, "missing", "file", err ? err : "Field required");
        return;
    }
    const sim_form_field_t *file = sim_form_get(form, "file"), *model = sim_form_get(form, "model");
    const sim_form_field_t *fmt = sim_form_get(form, "response_format"), *lang = sim_form_get(form, "language");
    if (file == NULL || file->filename == NULL) {
        refuse(req, &j, "missing", "file", file ? "Expected UploadFile, received: <class 'str'>" : "Field required");
        return;
    }
    if (model != NULL) {
        j.model = model->value;
        j.model_len = model->value_len;
    } else {
        j.model = sim_config_primary_model();
        j.model_len = strlen(j.model);
    }
    if (fmt != NULL) {
        size_t i = 0;
        while (i < 5 && !(strlen(fmt_names[i]) == fmt->value_len && memcmp(fmt_names[i], fmt->value, fmt->value_len) == 0))
            i++;
        if (i == 5) {
            refuse(req, &j, "enum", "response_format", "Input should be 'text', 'json', 'verbose_json', 'srt' or 'vtt'");
            return;
        }
        j.fmt = (fmt_t)i;
    }
    if (lang != NULL) {
        j.language = lang->value;
        j.language_len = lang->value_len;
    }
    j.stream = form_is_true(sim_form_get(form, "stream"));
    j.include_usage = form_is_true(sim_form_get(form, "stream_include_usage"));
    for (size_t i = 0; i < form->n; i++)
        if (form->fields[i].name_len == 25 && memcmp(form->fields[i].name, "timestamp_granularities[]", 25) == 0 &&
            form->fields[i].value_len == 4 && memcmp(form->fields[i].value, "word", 4) == 0)
            j.words = 1;
    if (!sim_config_model_known(j.model, j.model_len)) {
        char m[300];
        snprintf(m, sizeof(m), "The model `%.*s` does not exist.", (int)(j.model_len > 200 ? 200 : j.model_len), j.model);
        if (vllm)
            sim_http_send_vllm_error(req, 404, "NotFoundError", m);
        else
            sim_http_send_detail(req, 404, m);
        return;
    }
    j.duration = audio_duration(file->value, file->value_len);
    log_upload(&j, file);
    SIM_STAT_ADD(audio_ms, (uint64_t)llround(j.duration * 1000));
    if (j.stream)
        start_stream(req, &j, fault == SIM_FAULT_DIE_MID_STREAM);
    else
        respond(req, &j, fault == SIM_FAULT_DIE_MID_STREAM);
}

static void fw_transcriptions(h2o_req_t *req) { handle(req, 0, 0); }
static void fw_translations(h2o_req_t *req) { handle(req, 0, 1); }
void sim_whisper_vllm_transcriptions(h2o_req_t *req) { handle(req, 1, 0); }
void sim_whisper_vllm_translations(h2o_req_t *req) { handle(req, 1, 1); }

static void fw_health(h2o_req_t *req) { sim_http_send(req, 200, "text/plain; charset=utf-8", "OK", 2); }

static void fw_models(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"data\":[");
    size_t n = sim_cfg.n_models ? sim_cfg.n_models : 1;
    for (size_t i = 0; i < n; i++) {
        const char *id = sim_cfg.n_models ? sim_cfg.models[i] : sim_config_primary_model();
        const char *slash = strchr(id, '/');
        if (i)
            ig_buf_putc(b, ',');
        ig_buf_lit(b, "{\"id\":");
        ig_json_write_str(b, id, strlen(id));
        ig_buf_lit(b, ",\"created\":1700732060,\"object\":\"model\",\"owned_by\":");
        ig_json_write_str(b, id, slash ? (size_t)(slash - id) : strlen(id));
        ig_buf_lit(b, ",\"language\":[\"en\"]}");
    }
    ig_buf_lit(b, "],\"object\":\"list\"}");
    sim_http_send_buf(req, 200, b);
}

static const sim_route_t fw_routes[] = {
    {"/v1/audio/transcriptions", "POST", fw_transcriptions},
    {"/v1/audio/translations", "POST", fw_translations},
    {"/health", "GET", fw_health},
    {"/v1/models", "GET", fw_models},
    {"/sim/fault", "POST", sim_control_set_fault},
    {"/sim/fault", "GET", sim_control_get_fault},
    {"/sim/stats", "GET", sim_control_stats},
    {"/sim/reset-stats", "POST", sim_control_reset_stats},
    {"/sim/audio", "GET", sim_whisper_audio_stats},
};

const sim_route_t *sim_whisper_routes(size_t *n)
{
    *n = sizeof(fw_routes) / sizeof(fw_routes[0]);
    return fw_routes;
}
