/*
 * openai_compat.h — what every engine with an OpenAI-compatible server needs
 * (vLLM, Ollama's /v1 layer, Infinity): rewrite the request's model and
 * stream options, read usage from plain and streamed answers, give the
 * client back its own model name, and turn engine errors into OpenAI's shape.
 *
 * A static library linked into engine plugins; it uses only the host API.
 */
#ifndef IG_OPENAI_COMPAT_H
#define IG_OPENAI_COMPAT_H

#include "infergate/plugin.h"

/* Largest plain (non-streamed) answer rewritten in memory; larger ones pass through untouched. */
#define OAC_MAX_BUFFERED (64u * 1024 * 1024)

/*
 * Fills r->upstream_path = path and r->upstream_body with the client's body,
 * its "model" replaced by upstream_model (when different), and, for a stream
 * whose client did not ask for usage, stream_options.include_usage forced to
 * true so the engine reports usage we can bill. 0 or -1 with err.
 */
int oac_prepare(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err);

/*
 * oac_prepare with options. OAC_USAGE_PER_CHUNK (vLLM): streams also ask for
 * stream_options.continuous_usage_stats, so every chunk carries the usage so far and a stream cut
 * short (client gone, engine died) is billed exactly for what arrived, however many tokens a chunk
 * merges; the per-chunk usage goes back to null unless the client asked for it.
 *
 * Every stream (with or without the flag) whose engine reports no usage before it ends (the engine
 * ignores stream_options, or ignores continuous_usage_stats and the stream is cut before its final
 * usage chunk) is billed the chunks that carried text: a lower bound, exact for engines that stream
 * one token per chunk (Ollama, llama.cpp), short by the extra tokens of merged deltas.
 */
#define OAC_USAGE_PER_CHUNK 1u
int oac_prepare_flags(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, unsigned flags, ig_error_t *err);

/* oac_prepare, and the client's value at *span (a span of r->body) is replaced by with (rerank:
 * "documents" flattened to strings). */
int oac_prepare_replacing(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, const ig_json_value_t *span,
                          ig_str_t with, ig_error_t *err);

/*
 * A plain 2xx answer (parsed, usage already read) written in a shape of the plugin's choosing instead of
 * the engine's with the client's model (rerank answers: see oac_rerank.h). Call after oac_prepare*.
 */
typedef void (*oac_answer_fn)(ig_engine_req_t *r, const ig_json_value_t *answer, void *ctx, ig_sink_t *sink);
void oac_set_answer_writer(ig_engine_req_t *r, oac_answer_fn fn, void *ctx);
/* Writes the model name the client sent, as a JSON string. */
void oac_write_client_model(ig_engine_req_t *r, ig_sink_t *sink);

/* The model name the engine should see: the adapter when one is addressed, else the served name. */
ig_str_t oac_upstream_model(const ig_engine_req_t *r);

/* s[0..n) as a JSON string literal (quotes included) in the request's pool. */
ig_str_t oac_json_literal(const ig_engine_req_t *r, const char *s, size_t n);

/* The engine path for an OpenAI API ("/v1/chat/completions", ...), or NULL for one it does not serve here. */
const char *oac_api_path(ig_api_t api);

/*
 * For an answer >= 400, from on_response_end before oac_on_response_end: the engine's error message,
 * unescaped into the request's pool, from error.message (OpenAI's shape), error (a string: Ollama's
 * native shape), message (vLLM's) or detail (FastAPI's). 1 with *msg, 0 when the body has none.
 */
int oac_error_message(ig_engine_req_t *r, ig_str_t *msg);

/* OpenAI's error type and code for a status, whatever the engine wrote: 400 (and other 4xx)
 * invalid_request_error; 401 invalid_request_error/invalid_api_key; 404 invalid_request_error/
 * model_not_found; 429 rate_limit_exceeded/rate_limit_exceeded; 5xx server_error. *code may be NULL. */
void oac_error_kind(int status, const char **type, const char **code);

/* Writes {"error":{"message":msg,"type":type,"param":null,"code":code or null}} to sink. */
void oac_write_error(ig_engine_req_t *r, ig_sink_t *sink, const char *type, const char *code, const char *msg, size_t len);

/* Instead of oac_on_response_end when the plugin answered itself: frees what oac holds, writes nothing. */
void oac_discard(ig_engine_req_t *r);

/* A word of per-request flags and a pointer for the plugin's own use (0 and NULL after oac_prepare). */
unsigned *oac_plugin_flags(ig_engine_req_t *r);
const void **oac_plugin_data(ig_engine_req_t *r);

/*
 * Response hooks; per-request state lives in r->state and is freed by oac_on_response_end. An error
 * body (>= 400) is rewritten into OpenAI's shape (write_openai_error); an error event inside a stream
 * (`data: {"error": ...}`) is passed on OpenAI-shaped, ends the client's stream (the engine's [DONE]
 * is dropped) and sets r->stream_error_status to its code (or 500).
 */
void oac_on_response_data(ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink);
void oac_on_response_end(ig_engine_req_t *r, int complete, ig_sink_t *sink);

/* Reads usage {prompt_tokens, completion_tokens, prompt_tokens_details.cached_tokens} from a response object,
 * and for audio {"usage":{"type":"duration","seconds":N}} (vLLM) or a verbose_json "duration". */
void oac_read_usage(const ig_host_t *host, const ig_json_value_t *obj, ig_usage_t *usage);

/* ---- audio (multipart/form-data requests) ---- */

/*
 * Fills r->upstream_path = path, r->upstream_content_type with the client's boundary, and
 * r->upstream_body with spans of the client's body: the audio is never copied, only the `model`
 * part's value is replaced by upstream_model when it differs. Sets r->usage.audio_seconds from
 * the upload's WAV header when the file is a PCM WAV (see oac_wav_seconds). 0 or -1 with err.
 */
int oac_prepare_form(ig_engine_req_t *r, const char *path, ig_str_t upstream_model, ig_error_t *err);

/* Duration in seconds of a RIFF/WAVE file from its header (data chunk bytes / byte rate), or -1 when
 * the bytes are not a WAV file it can read. Only the header is read; a truncated data chunk counts
 * the bytes present. */
double oac_wav_seconds(const char *p, size_t n);

#endif
