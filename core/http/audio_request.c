#include "http/audio_request.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char ig_audio_response_formats[] = "json, text, srt, verbose_json, vtt";

static int fail(ig_request_error_t *err, const char *param, const char *fmt, ...)
{
    va_list ap;
    err->status = 400;
    err->param = param;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    return -1;
}

static int span_is(ig_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static int span_ieq(ig_str_t s, const char *lit)
{
    if (s.len != strlen(lit))
        return 0;
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

/* Form values are text the client typed: tolerate surrounding whitespace as FastAPI does. */
static ig_str_t trimmed(ig_str_t s)
{
    while (s.len > 0 && (s.ptr[0] == ' ' || s.ptr[0] == '\t' || s.ptr[0] == '\r' || s.ptr[0] == '\n'))
        s.ptr++, s.len--;
    while (s.len > 0 && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t' || s.ptr[s.len - 1] == '\r' ||
                         s.ptr[s.len - 1] == '\n'))
        s.len--;
    return s;
}

/* A boolean as FastAPI/pydantic read a form field. */
static int form_bool(ig_str_t v, int *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"}, *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (span_ieq(v, yes[i]))
            return *out = 1, 0;
        if (span_ieq(v, no[i]))
            return *out = 0, 0;
    }
    return -1;
}

/* One of the fields the gateway itself reads: given twice, the gateway and the engine could read different ones. */
static int once(const ig_form_part_t **slot, const ig_form_part_t *part, ig_request_error_t *err, const char *param)
{
    if (*slot != NULL)
        return fail(err, param, "the form gives '%s' more than once", param);
    *slot = part;
    return 0;
}

int ig_audio_request_parse(ig_api_t api, const char *content_type, size_t ctlen, const char *body, size_t len,
                           ig_openai_request_t *out, ig_audio_request_t *audio, ig_request_error_t *err)
{
    char msg[200];
    memset(out, 0, sizeof(*out));
    out->api = api;
    audio->nparts = 0;
    audio->file = audio->model = NULL;
    audio->response_format = (ig_str_t){"json", 4};

    if (content_type == NULL)
        return fail(err, NULL, "%s", "a Content-Type of multipart/form-data is expected (the audio as a `file` part), and "
                                     "the request has no Content-Type");
    int rc = ig_multipart_boundary(content_type, ctlen, &audio->boundary, msg, sizeof(msg));
    if (rc == 1)
        return fail(err, NULL, "a Content-Type of multipart/form-data is expected (the audio as a `file` part), not '%.*s'",
                    (int)(ctlen > 80 ? 80 : ctlen), content_type);
    if (rc != 0)
        return fail(err, NULL, "%s", msg);

    ig_multipart_iter_t it;
    if (ig_multipart_init(&it, body, len, audio->boundary, msg, sizeof(msg)) != 0)
        return fail(err, NULL, "malformed multipart/form-data body: %s", msg);
    const ig_form_part_t *stream = NULL, *format = NULL;
    for (;;) {
        ig_form_part_t part;
        rc = ig_multipart_next(&it, &part, msg, sizeof(msg));
        if (rc == 0)
            break;
        if (rc < 0)
            return fail(err, NULL, "malformed multipart/form-data body: %s", msg);
        if (audio->nparts == IG_AUDIO_MAX_PARTS)
            return fail(err, NULL, "the form has more than %d parts", IG_AUDIO_MAX_PARTS);
        ig_form_part_t *p = &audio->parts[audio->nparts++];
        *p = part;
        if (ig_form_name_is(p, "file")) {
            if (once(&audio->file, p, err, "file") != 0)
                return -1;
        } else if (ig_form_name_is(p, "model")) {
            if (once(&audio->model, p, err, "model") != 0)
                return -1;
        } else if (ig_form_name_is(p, "stream")) {
            if (once(&stream, p, err, "stream") != 0)
                return -1;
        } else if (ig_form_name_is(p, "response_format")) {
            if (once(&format, p, err, "response_format") != 0)
                return -1;
        }
    }

    if (audio->file == NULL)
        return fail(err, "file", "%s", "you must provide a file: the audio as a form part named `file`");
    if (audio->file->filename.ptr == NULL)
        return fail(err, "file", "%s", "the `file` part must be a file upload (a part with a filename)");
    if (audio->model == NULL)
        return fail(err, "model", "%s", "you must provide a model parameter");
    ig_str_t m = trimmed(audio->model->value);
    if (m.len == 0 || m.len >= sizeof(out->model_name))
        return fail(err, "model", "%s", "'model' must be a non-empty string of at most 255 bytes");
    for (size_t i = 0; i < m.len; i++)
        if ((unsigned char)m.ptr[i] < 0x20 || m.ptr[i] == 0x7f)
            return fail(err, "model", "%s", "'model' must not contain control characters");
    memcpy(out->model_name, m.ptr, m.len);
    out->model_name[m.len] = '\0';
    out->model_name_len = m.len;

    if (stream != NULL && form_bool(trimmed(stream->value), &out->stream) != 0)
        return fail(err, "stream", "%s", "'stream' must be a boolean (true or false)");
    if (format != NULL) {
        ig_str_t f = trimmed(format->value);
        static const char *const formats[] = {"json", "text", "srt", "verbose_json", "vtt"};
        size_t i = 0;
        while (i < 5 && !span_is(f, formats[i]))
            i++;
        if (i == 5)
            return fail(err, "response_format", "'response_format' must be one of %s, not '%.*s'",
                        ig_audio_response_formats, (int)(f.len > 40 ? 40 : f.len), f.ptr);
        audio->response_format = f;
    }
    return 0;
}
