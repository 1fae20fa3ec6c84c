/*
 * openai_error.h — every error a client sees, in OpenAI's shape:
 * {"error":{"message":...,"type":...,"param":...,"code":...}}
 */
#ifndef IG_OPENAI_ERROR_H
#define IG_OPENAI_ERROR_H

#include <h2o.h>
#include "infergate/plugin.h"

/* type: "invalid_request_error", "server_error", ...; param and code may be NULL (JSON null). */
void ig_send_error(h2o_req_t *req, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Builds the error body into pool memory (for engines' errors rewritten by the core). */
h2o_iovec_t ig_openai_error_body(h2o_mem_pool_t *pool, const char *type, const char *param, const char *code,
                                 const char *message, size_t message_len);

/* Sends a plugin's error value; where err leaves status/type/code unset, the defaults apply. */
void ig_send_plugin_error(h2o_req_t *req, const ig_error_t *err, int status, const char *type, const char *code);
/* The HTTP/1.1 reason phrase for status ("Created" for 201, ...): every answer the core and the
 * plugin routes send sets req->res.reason through this, so no phrase contradicts its status. */
const char *ig_http_reason(int status);

#endif
