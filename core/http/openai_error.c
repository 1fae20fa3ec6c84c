#include "http/openai_error.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/json.h"

const char *ig_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 499: return "Client Closed Request";
    default: /* the class's generic phrase (RFC 9110 lets a client ignore the phrase, not HTTP/1.1 eyes) */
        return status < 200 ? "Continue" : status < 300 ? "OK" : status < 400 ? "Redirection" : status < 500 ? "Bad Request" : "Internal Server Error";
    }
}

/* Appends `"name":<string or null>` */
static size_t put_member(char *buf, size_t off, size_t cap, const char *name, const char *val, size_t len)
{
    off += (size_t)snprintf(buf + off, off < cap ? cap - off : 0, ",\"%s\":", name);
    if (off >= cap)
        return off;
    if (val == NULL)
        return off + (size_t)snprintf(buf + off, cap - off, "null");
    return off + ig_json_escape(val, len, buf + off, cap - off);
}

h2o_iovec_t ig_openai_error_body(h2o_mem_pool_t *pool, const char *type, const char *param, const char *code,
                                 const char *message, size_t message_len)
{
    /* escaping grows a byte to at most 6 */
    size_t cap = 128 + message_len * 6 + (param ? strlen(param) * 6 : 4) + (code ? strlen(code) * 6 : 4) +
                 strlen(type) * 6;
    char *buf = h2o_mem_alloc_pool(pool, cap);
    size_t off = (size_t)snprintf(buf, cap, "{\"error\":{\"message\":");
    off += ig_json_escape(message, message_len, buf + off, cap - off);
    off = put_member(buf, off, cap, "type", type, strlen(type));
    off = put_member(buf, off, cap, "param", param, param ? strlen(param) : 0);
    off = put_member(buf, off, cap, "code", code, code ? strlen(code) : 0);
    off += (size_t)snprintf(buf + off, cap - off, "}}\n");
    return h2o_iovec_init(buf, off);
}

void ig_send_error(h2o_req_t *req, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof(msg))
        n = sizeof(msg) - 1;
    h2o_iovec_t body = ig_openai_error_body(&req->pool, type, param, code, msg, (size_t)n);
    req->res.status = status;
    req->res.reason = ig_http_reason(status);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
    h2o_send_inline(req, body.base, body.len);
}

void ig_send_plugin_error(h2o_req_t *req, const ig_error_t *err, int status, const char *type, const char *code)
{
    if (err->status >= 400 && err->status <= 599)
        status = err->status;
    ig_send_error(req, status, err->type ? err->type : type, NULL, err->code ? err->code : code, "%s",
                  err->msg[0] ? err->msg : ig_http_reason(status));
}
