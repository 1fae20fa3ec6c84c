#include "http/error_filter.h"
#include <string.h>
#include "http/openai_error.h"
#include "server/worker.h"

typedef struct {
    h2o_ostream_t super;
    h2o_iovec_t body;
} replace_body_t;

/* Drops h2o's text and sends ours, in one piece, when h2o ends the response. */
static void replace_do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t n, h2o_send_state_t state)
{
    replace_body_t *r = (replace_body_t *)self;
    if (h2o_send_state_is_in_progress(state)) {
        h2o_ostream_send_next(self, req, NULL, 0, state);
        return;
    }
    h2o_ostream_send_next(self, req, &r->body, 1, state);
}

static int is_plain_text(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    return i >= 0 && req->res.headers.entries[i].value.len >= 10 &&
           memcmp(req->res.headers.entries[i].value.base, "text/plain", 10) == 0;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (req->res.status >= 400 && is_plain_text(req)) {
        char msg[256];
        if (req->res.status == 413) {
            const ig_worker_t *w = ig_worker_of(req);
            snprintf(msg, sizeof(msg), "the request body is over this server's limit of %zu bytes",
                     w->gen->config->server.max_body_bytes);
        } else {
            snprintf(msg, sizeof(msg), "%s", req->res.reason ? req->res.reason : "request refused");
        }
        h2o_iovec_t body = ig_openai_error_body(&req->pool, "invalid_request_error", NULL,
                                                req->res.status == 413 ? "request_too_large" : NULL, msg, strlen(msg));
        ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
        req->res.headers.entries[i].value = h2o_iovec_init(H2O_STRLIT("application/json"));
        req->res.content_length = body.len;
        replace_body_t *r = (replace_body_t *)h2o_add_ostream(req, sizeof(*r), slot);
        r->super.do_send = replace_do_send;
        r->body = body;
        slot = &r->super.next;
    }
    h2o_setup_next_ostream(req, slot);
}

int ig_error_filter_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    if (f == NULL)
        return -1;
    f->on_setup_ostream = on_setup_ostream;
    return 0;
}
