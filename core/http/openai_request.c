#include "util/json.h"
#include "http/openai_request.h"
#include <stdio.h>
#include "http/rerank_request.h"
#include <string.h>

const char *ig_features_str(unsigned features, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 4; i++) {
        if (features & (1u << i)) {
            int n = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", ig_api_feature_name(1u << i));
            if (n < 0 || (size_t)n >= cap - off)
                break;
            off += (size_t)n;
        }
    }
    return buf;
}

static int fail(ig_request_error_t *err, const char *param, const char *fmt, const char *detail)
{
    err->status = 400;
    err->param = param;
    snprintf(err->message, sizeof(err->message), fmt, detail);
    return -1;
}

/* The raw text of a string value, without its quotes. */
static ig_str_t string_contents(const ig_json_value_t *v)
{
    return (ig_str_t){v->ptr + 1, v->len - 2};
}

/* Text of a message "content": a string, or the first {"type":"text","text":...} part. */
static ig_str_t content_text(const ig_json_value_t *content)
{
    if (content->type == IG_JSON_STRING)
        return string_contents(content);
    if (content->type == IG_JSON_ARRAY) {
        ig_json_iter_t it;
        ig_json_value_t part, text;
        ig_json_iter_init(&it, content);
        while (ig_json_iter_next(&it, NULL, &part) == 1) {
            if (part.type == IG_JSON_OBJECT && ig_json_object_get(&part, "text", 4, &text) == 1 &&
                text.type == IG_JSON_STRING)
                return string_contents(&text);
        }
    }
    return (ig_str_t){"", 0};
}

/* First user message of a chat, the prompt of a completion, the input of an embedding. */
static ig_str_t find_prefix(const ig_json_value_t *messages, const ig_json_value_t *prompt)
{
    if (messages->type == IG_JSON_ARRAY) {
        ig_json_iter_t it;
        ig_json_value_t msg, role, content;
        ig_json_iter_init(&it, messages);
        while (ig_json_iter_next(&it, NULL, &msg) == 1) {
            if (msg.type == IG_JSON_OBJECT && ig_json_object_get(&msg, "role", 4, &role) == 1 &&
                ig_json_string_eq(&role, "user", 4) && ig_json_object_get(&msg, "content", 7, &content) == 1)
                return content_text(&content);
        }
        return (ig_str_t){"", 0};
    }
    if (prompt->type == IG_JSON_STRING)
        return string_contents(prompt);
    if (prompt->type == IG_JSON_ARRAY) {
        ig_json_iter_t it;
        ig_json_value_t first;
        ig_json_iter_init(&it, prompt);
        if (ig_json_iter_next(&it, NULL, &first) == 1 && first.type == IG_JSON_STRING)
            return string_contents(&first);
    }
    return (ig_str_t){"", 0};
}

int ig_openai_request_parse(ig_api_t api, const char *body, size_t len, ig_openai_request_t *out,
                            ig_request_error_t *err)
{
    memset(out, 0, sizeof(*out));
    out->api = api;
    ig_json_error_t jerr;
    if (len == 0)
        return fail(err, NULL, "%s", "the request body is empty: a JSON object is expected");
    if (ig_json_validate_value(body, len, &jerr, &out->body) != 0)
        return fail(err, NULL, "could not parse the JSON body of your request: %s", jerr.msg);
    if (out->body.type != IG_JSON_OBJECT)
        return fail(err, NULL, "%s", "the request body must be a JSON object");

    ig_json_iter_t it;
    ig_json_value_t key, val, messages = {0}, prompt = {0}, stream_options = {0};
    ig_rerank_fields_t rerank = {0};
    ig_json_iter_init(&it, &out->body);
    while (ig_json_iter_next(&it, &key, &val) == 1) {
        /* keys we care about have no escapes; compare the raw span */
        ig_str_t k = string_contents(&key);
#define KEY_IS(lit) (k.len == sizeof(lit) - 1 && memcmp(k.ptr, lit, sizeof(lit) - 1) == 0)
        if (KEY_IS("model")) {
            out->model = val;
        } else if (KEY_IS("stream")) {
            if (val.type == IG_JSON_NULL)
                continue;
            if (ig_json_bool(&val, &out->stream) != 0)
                return fail(err, "stream", "%s", "'stream' must be a boolean");
        } else if (KEY_IS("stream_options")) {
            stream_options = val;
        } else if (KEY_IS("messages")) {
            messages = val;
        } else if (KEY_IS("prompt") || KEY_IS("input")) {
            prompt = val;
        } else if (KEY_IS("query")) {
            rerank.query = val;
        } else if (KEY_IS("documents")) {
            rerank.documents = val;
        } else if (KEY_IS("top_n")) {
            rerank.top_n = val;
        } else if (KEY_IS("return_documents")) {
            rerank.return_documents = val;
        } else if (KEY_IS("text_1")) {
            rerank.text_1 = val;
        } else if (KEY_IS("text_2")) {
            rerank.text_2 = val;
        }
#undef KEY_IS
    }
    if (out->model.type == IG_JSON_INVALID)
        return fail(err, "model", "%s", "you must provide a model parameter");
    if (out->model.type != IG_JSON_STRING)
        return fail(err, "model", "%s", "'model' must be a string");
    if (ig_json_string_unescape(&out->model, out->model_name, sizeof(out->model_name) - 1, &out->model_name_len) !=
            0 ||
        out->model_name_len == 0)
        return fail(err, "model", "%s", "'model' must be a non-empty string of at most 255 bytes");
    out->model_name[out->model_name_len] = '\0';
    for (size_t i = 0; i < out->model_name_len; i++) {
        unsigned char c = (unsigned char)out->model_name[i];
        if (c < 0x20 || c == 0x7f) {
            /* the whole name, escaped: a NUL would otherwise end what the message shows of it */
            char shown[256 * 6 + 3];
            size_t n = ig_json_escape(out->model_name, out->model_name_len, shown, sizeof(shown));
            err->status = 400;
            err->param = "model";
            snprintf(err->message, sizeof(err->message), "'model' must not contain control characters: %.*s%s",
                     (int)(n > 180 ? 180 : n), shown, n > 180 ? "..." : "");
            return -1;
        }
    }
    if (stream_options.type == IG_JSON_OBJECT) {
        ig_json_value_t iu;
        if (ig_json_object_get(&stream_options, "include_usage", 13, &iu) == 1 && iu.type != IG_JSON_NULL &&
            ig_json_bool(&iu, &out->include_usage) != 0)
            return fail(err, "stream_options.include_usage", "%s", "'stream_options.include_usage' must be a boolean");
    } else if (stream_options.type != IG_JSON_INVALID && stream_options.type != IG_JSON_NULL) {
        return fail(err, "stream_options", "%s", "'stream_options' must be an object");
    }
    if (api == IG_API_CHAT_COMPLETIONS && messages.type != IG_JSON_ARRAY)
        return fail(err, "messages", "%s",
                    messages.type == IG_JSON_INVALID ? "you must provide a messages parameter"
                                                      : "'messages' must be an array");
    if (api == IG_API_RERANK || api == IG_API_SCORE) {
        /* these answer in one piece: a "stream" flag is not for them */
        out->stream = out->include_usage = 0;
        if (ig_rerank_request_check(api, &rerank, &out->prefix, &err->param, err->message, sizeof(err->message)) != 0) {
            err->status = 400;
            return -1;
        }
        return 0;
    }
    out->prefix = find_prefix(&messages, &prompt);
    return 0;
}
