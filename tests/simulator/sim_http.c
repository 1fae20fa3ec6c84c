#include "sim_http.h"

#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>

#include "sim_config.h"
#include "sim_server.h"
#include "sim_stats.h"

static h2o_generator_t static_generator = {NULL, NULL};

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void sim_http_send(h2o_req_t *req, int status, const char *content_type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason_of(status);
    if (content_type != NULL)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type, strlen(content_type));
    req->res.content_length = len;
    h2o_iovec_t buf = h2o_iovec_init(NULL, 0);
    if (len > 0) {
        buf.base = h2o_mem_alloc_pool(&req->pool, len);
        memcpy(buf.base, body, len);
        buf.len = len;
    }
    int head = req->input.method.len == 4 && memcmp(req->input.method.base, "HEAD", 4) == 0;
    h2o_start_response(req, &static_generator);
    h2o_send(req, &buf, len > 0 && !head ? 1 : 0, H2O_SEND_STATE_FINAL);
}

void sim_http_send_vllm_error(h2o_req_t *req, int status, const char *type, const char *message)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    int flat = sim_cfg.error_format == SIM_ERRORS_VLLM_0_6;
    ig_buf_reset(b);
    ig_buf_puts(b, flat ? "{\"object\":\"error\",\"message\":" : "{\"error\":{\"message\":");
    ig_json_write_str(b, message, strlen(message));
    ig_buf_lit(b, ",\"type\":");
    ig_json_write_str(b, type, strlen(type));
    ig_buf_lit(b, ",\"param\":null,\"code\":");
    ig_buf_put_u64(b, (uint64_t)status);
    ig_buf_puts(b, flat ? "}" : "}}");
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}

void sim_http_send_422(h2o_req_t *req, const char *type, const char *field, const char *msg)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"detail\":[{\"type\":");
    ig_json_write_str(b, type, strlen(type));
    ig_buf_lit(b, ",\"loc\":[\"body\"");
    if (field != NULL) {
        ig_buf_putc(b, ',');
        ig_json_write_str(b, field, strlen(field));
    }
    ig_buf_lit(b, "],\"msg\":");
    ig_json_write_str(b, msg, strlen(msg));
    ig_buf_lit(b, ",\"input\":null}]}");
    sim_http_send(req, 422, SIM_CT_JSON, b->p, b->len);
}

void sim_http_send_detail(h2o_req_t *req, int status, const char *detail)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"detail\":");
    ig_json_write_str(b, detail, strlen(detail));
    ig_buf_putc(b, '}');
    sim_http_send(req, status, SIM_CT_JSON, b->p, b->len);
}

void sim_http_abort(h2o_req_t *req, int started)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock != NULL) {
        int fd = h2o_socket_get_fd(sock);
        if (fd >= 0)
            shutdown(fd, SHUT_RDWR);
    }
    if (!started) {
        req->res.status = 500;
        req->res.reason = "Internal Server Error";
        h2o_start_response(req, &static_generator);
    }
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
}

/* ---- hang ------------------------------------------------------------------------------------ */

typedef struct sim_hung {
    h2o_linklist_t link;
    h2o_req_t *req;
} sim_hung_t;

static void on_hung_dispose(void *p)
{
    sim_hung_t *h = p;
    if (h2o_linklist_is_linked(&h->link))
        h2o_linklist_unlink(&h->link);
}

void sim_http_hang(h2o_req_t *req)
{
    sim_hung_t *h = h2o_mem_alloc_shared(&req->pool, sizeof(*h), on_hung_dispose);
    h->link = (h2o_linklist_t){NULL, NULL};
    h->req = req;
    h2o_linklist_insert(&sim_worker_of(req)->hung, &h->link);
}

int sim_http_peer_gone(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL)
        return 0;
    int fd = h2o_socket_get_fd(sock);
    if (fd < 0)
        return 0;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void sim_http_check_hung(struct sim_worker *w)
{
    if (h2o_linklist_is_empty(&w->hung))
        return;
    /* Move everything aside, then put back what is still alive.  Aborting a request disposes of
     * it, which unlinks its node from whichever list holds it, so always re-read the head. */
    h2o_linklist_t pending;
    h2o_linklist_init_anchor(&pending);
    h2o_linklist_insert_list(&pending, &w->hung);
    while (!h2o_linklist_is_empty(&pending)) {
        sim_hung_t *h = H2O_STRUCT_FROM_MEMBER(sim_hung_t, link, pending.next);
        h2o_linklist_unlink(&h->link);
        if (sim_http_peer_gone(h->req)) {
            sim_http_abort(h->req, 0);
        } else {
            h2o_linklist_insert(&w->hung, &h->link);
        }
    }
}

/* ---- active gauge ---------------------------------------------------------------------------- */

static void on_active_dispose(void *p)
{
    (void)p;
    SIM_STAT_SUB(active_requests, 1);
}

void sim_http_track_active(h2o_req_t *req)
{
    h2o_mem_alloc_shared(&req->pool, 1, on_active_dispose);
    SIM_STAT_ADD(active_requests, 1);
}
