/* bl_me.c — GET /v1/me/usage (bl_me.h). */
#include "bl_me.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bl_http.h"
#include "bl_query.h"
#include "bl_report.h"
#include "util/json_write.h"

/* One call, from the handler to the deferred answer (malloc'd: the work outlives a client that left). */
typedef struct {
    const bl_report_ctx_t *ctx;
    char customer[256], start[64], end[64], group[16];
    int has_start, has_end;
    int64_t start_ms, end_ms;
    ig_buf_t rows, total;
    int rc;
    char msg[400];
} me_usage_t;

static int refuse(ig_http_exchange_t *x, ig_error_t *err, int status, const char *code, const char *fmt,
                  const char *a)
{
    err->status = status;
    err->type = "invalid_request_error";
    err->code = code;
    return x->host->error(err, fmt, a);
}

/* off the event loop */
static void work(void *arg)
{
    me_usage_t *u = arg;
    u->rc = bl_usage_of_customer(u->ctx, u->customer, u->start_ms, u->end_ms, u->group, &u->rows, &u->total, u->msg,
                                 sizeof(u->msg));
}

static void str_or_null(ig_buf_t *b, const char *s, int present)
{
    if (present)
        ig_json_write_str(b, s, strlen(s));
    else
        ig_buf_puts(b, "null");
}

/* on the worker: the answer (x NULL: the client left, nothing to say) */
static int done(void *arg, ig_http_exchange_t *x, ig_error_t *err)
{
    me_usage_t *u = arg;
    int rc = 0;
    if (x != NULL && u->rc != 0) {
        err->status = 500;
        err->type = "server_error";
        rc = x->host->error(err, "%s", u->msg);
    } else if (x != NULL) {
        ig_buf_t b = {0};
        ig_buf_puts(&b, "{\"object\":\"list\",\"customer\":");
        ig_json_write_str(&b, u->customer, strlen(u->customer));
        ig_buf_printf(&b, ",\"currency\":\"%s\",\"start\":", u->ctx->currency);
        str_or_null(&b, u->start, u->has_start);
        ig_buf_puts(&b, ",\"end\":");
        str_or_null(&b, u->end, u->has_end);
        ig_buf_printf(&b, ",\"group_by\":\"%s\",\"data\":[", u->group);
        ig_buf_put(&b, u->rows.p ? u->rows.p : "", u->rows.len);
        ig_buf_puts(&b, "],\"total\":{");
        ig_buf_put(&b, u->total.p ? u->total.p : "", u->total.len);
        ig_buf_puts(&b, "}}");
        b.failed |= u->rows.failed | u->total.failed;
        rc = bl_respond(x, &b, "application/json", err);
    }
    ig_buf_free(&u->rows);
    ig_buf_free(&u->total);
    free(u);
    return rc;
}

int bl_route_me_usage(void *state, ig_http_exchange_t *x, ig_error_t *err)
{
    const bl_report_ctx_t *c = state; /* the generation state starts with it (billing.c) */
    const ig_principal_t *p = IG_HAS(x->host, route_principal) ? x->host->route_principal(x) : NULL;
    if (p == NULL || p->customer_id.len == 0 || p->customer_id.len >= 256) {
        /* an older core would call this route unauthenticated: never answer for nobody */
        err->status = 401;
        err->type = "invalid_request_error";
        err->code = "invalid_api_key";
        return x->host->error(err, "GET /v1/me/usage needs the caller's API key");
    }
    if (x->rest.len != 0)
        return refuse(x, err, 404, "unknown_url", "Unknown request URL: %s", "GET /v1/me/usage/...");
    if (x->method.len != 3 || memcmp(x->method.ptr, "GET", 3) != 0)
        return refuse(x, err, 405, "method_not_allowed", "%s is not allowed on /v1/me/usage (use GET)",
                      x->method.len == 4 && memcmp(x->method.ptr, "HEAD", 4) == 0 ? "HEAD" : "this method");
    static const char *const allowed[] = {"start", "end", "group_by", NULL};
    ig_query_t q;
    if (bl_read_query(x, allowed, &q) != 0)
        return 0; /* answered: 400 naming the parameter */
    me_usage_t *u = calloc(1, sizeof(*u));
    if (u == NULL) {
        err->status = 500;
        err->type = "server_error";
        return x->host->error(err, "out of memory");
    }
    u->ctx = c;
    memcpy(u->customer, p->customer_id.ptr, p->customer_id.len);
    u->end_ms = INT64_MAX;
    const char *vs = ig_query_get(&q, "start"), *ve = ig_query_get(&q, "end"), *vg = ig_query_get(&q, "group_by");
    int has_group = vg != NULL;
    const char *bad = NULL;
    u->has_start = vs != NULL;
    u->has_end = ve != NULL;
    snprintf(u->start, sizeof(u->start), "%s", vs ? vs : "");
    snprintf(u->end, sizeof(u->end), "%s", ve ? ve : "");
    snprintf(u->group, sizeof(u->group), "%s", vg ? vg : "");
    if (u->has_start && (strlen(vs) >= sizeof(u->start) || bl_parse_time(u->start, &u->start_ms) != 0))
        bad = "start";
    else if (u->has_end && (strlen(ve) >= sizeof(u->end) || bl_parse_time(u->end, &u->end_ms) != 0))
        bad = "end";
    else if (has_group && strlen(vg) >= sizeof(u->group))
        bad = "group_by";
    if (bad) {
        free(u);
        return bl_fail(x, 400, "invalid_request_error", "invalid_value", bad,
                       "query parameter `%s`: not YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or Unix seconds", bad);
    }
    if (!has_group || u->group[0] == '\0')
        strcpy(u->group, "none");
    if (strcmp(u->group, "none") != 0 && strcmp(u->group, "day") != 0 && strcmp(u->group, "model") != 0) {
        free(u);
        return bl_fail(x, 400, "invalid_request_error", "invalid_value", "group_by",
                       "query parameter `group_by`: not one of day, model");
    }
    if (IG_HAS(x->host, route_defer) && x->host->route_defer(x, work, done, u) == 0)
        return IG_PENDING;
    work(u); /* a core that cannot defer: read here */
    return done(u, x, err);
}
