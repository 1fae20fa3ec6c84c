#include "bl_http.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "util/json_write.h"

int bl_respond(ig_http_exchange_t *x, ig_buf_t *b, const char *content_type, ig_error_t *err)
{
    char *out = b->failed ? NULL : x->host->palloc(x->pool, b->len + 1);
    if (out == NULL) {
        ig_buf_free(b);
        err->status = 500;
        err->type = "server_error";
        return x->host->error(err, "out of memory building the answer");
    }
    memcpy(out, b->p ? b->p : "", b->len);
    out[b->len] = '\0';
    x->response = (ig_str_t){out, b->len};
    ig_buf_free(b);
    x->content_type = content_type;
    return 0;
}

int bl_fail(ig_http_exchange_t *x, int status, const char *type, const char *code, const char *param, const char *fmt,
            ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_buf_t b = {0};
    ig_json_write_error(&b, msg, type, param, code);
    ig_error_t err = {{0}};
    x->status = status;
    x->nheaders = 0;
    if (bl_respond(x, &b, "application/json", &err) != 0) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"param\":null,"
                                  "\"code\":null}}";
        x->status = 500;
        x->response = (ig_str_t){oom, sizeof(oom) - 1};
    }
    return 0;
}

int bl_read_query(ig_http_exchange_t *x, const char *const *allowed, ig_query_t *q)
{
    size_t cap = IG_QUERY_MEM(x->query.len);
    char *mem = x->host->palloc(x->pool, cap);
    if (mem == NULL) {
        bl_fail(x, 500, "server_error", NULL, NULL, "out of memory reading the query");
        return -1;
    }
    ig_query_error_t e;
    if (ig_query_parse(x->query.ptr, x->query.len, allowed, mem, cap, q, &e) != 0) {
        char msg[160];
        bl_fail(x, 400, "invalid_request_error", ig_query_error_code(&e), e.param, "%s",
                ig_query_error_message(&e, msg, sizeof(msg)));
        return -1;
    }
    return 0;
}

int bl_is_method(const ig_http_exchange_t *x, const char *m)
{
    return x->method.len == strlen(m) && memcmp(x->method.ptr, m, x->method.len) == 0;
}
