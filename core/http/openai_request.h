/*
 * openai_request.h — what the gateway needs from an OpenAI request body,
 * found in one pass: the model, stream flags, and the prompt prefix used for
 * prefix-aware routing. Spans point into the body; nothing is copied.
 */
#ifndef IG_OPENAI_REQUEST_H
#define IG_OPENAI_REQUEST_H

#include "infergate/json.h"
#include "infergate/plugin.h"
#include "util/api.h" /* ig_api_from_path, ig_api_path, ig_api_required_feature */

typedef struct {
    ig_api_t api;
    ig_json_value_t body;        /* the top-level object */
    ig_json_value_t model;       /* string value (with quotes); type INVALID when absent */
    char model_name[256];        /* unescaped model name */
    size_t model_name_len;
    int stream;
    int include_usage;           /* stream_options.include_usage */
    ig_str_t prefix;             /* raw (escaped) text of the first user message / prompt / input */
} ig_openai_request_t;

/* Why a body was refused: a message, the offending parameter (or NULL) and the HTTP status. */
typedef struct {
    int status;
    const char *param;
    char message[256];
} ig_request_error_t;

/* 0, or -1 with err filled (400 with a message naming what is wrong). */
int ig_openai_request_parse(ig_api_t api, const char *body, size_t len, ig_openai_request_t *out,
                            ig_request_error_t *err);

/* "TextGeneration, TextEmbedding" into buf. */
const char *ig_features_str(unsigned features, char *buf, size_t cap);

#endif
