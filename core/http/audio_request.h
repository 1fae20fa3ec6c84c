/*
 * audio_request.h — the request pass for /v1/audio/transcriptions and /v1/audio/translations:
 * a multipart/form-data body (RFC 7578) whose parts are found without copying the audio. What
 * the gateway needs (model, stream, response_format) is read from the form; the engine plugin
 * gets the parts and splices the upstream body from them.
 */
#ifndef IG_AUDIO_REQUEST_H
#define IG_AUDIO_REQUEST_H

#include "http/multipart.h"
#include "http/openai_request.h"

#define IG_AUDIO_MAX_PARTS 64

typedef struct {
    ig_form_part_t parts[IG_AUDIO_MAX_PARTS];
    size_t nparts;
    ig_str_t boundary;
    const ig_form_part_t *file;   /* the `file` part (has a filename) */
    const ig_form_part_t *model;  /* the `model` part */
    ig_str_t response_format;     /* checked; "json" when absent */
} ig_audio_request_t;

/* The response formats OpenAI's audio API defines, for messages: "json, text, srt, verbose_json, vtt". */
extern const char ig_audio_response_formats[];

/*
 * Parses the form. content_type is the request's Content-Type header (NULL when absent). Fills
 * out->model_name, out->stream and out->api (out->body and out->model stay IG_JSON_INVALID), and
 * audio. 0, or -1 with err (400 naming the parameter: file, model, stream, response_format).
 */
int ig_audio_request_parse(ig_api_t api, const char *content_type, size_t ctlen, const char *body, size_t len,
                           ig_openai_request_t *out, ig_audio_request_t *audio, ig_request_error_t *err);

#endif
