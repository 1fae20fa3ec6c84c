/*
 * bl_http — what every billing route answers with: a body copied into the request's pool, an
 * OpenAI-shaped error naming its parameter, and the query read through util/query.h against the
 * route's own list of parameters (an unknown one is a 400: a money API answers only what it understood).
 */
#ifndef BL_HTTP_H
#define BL_HTTP_H

#include "infergate/plugin.h"
#include "util/buf.h"
#include "util/query.h"

/* Copies b into the exchange's pool as its response (status x->status). Frees b. 0, or -1 with err. */
int bl_respond(ig_http_exchange_t *x, ig_buf_t *b, const char *content_type, ig_error_t *err);

/* Answers status with {"error":{...}}, param and code as given (NULL: null). Returns 0: answered. */
int bl_fail(ig_http_exchange_t *x, int status, const char *type, const char *code, const char *param, const char *fmt,
            ...) __attribute__((format(printf, 6, 7)));

/* Reads x->query into *q, every parameter one of allowed (NULL-terminated). 0, or -1 after answering
 * 400 (code unknown_parameter or invalid_value, param its name): the handler returns 0 then. */
int bl_read_query(ig_http_exchange_t *x, const char *const *allowed, ig_query_t *q);

/* The method is m. */
int bl_is_method(const ig_http_exchange_t *x, const char *m);

#endif
