#include "route_offload.h"
#include <stdlib.h>
#include <string.h>
#include "util/arena.h"

typedef struct {
    void *state;                  /* valid until done: the core holds the generation */
    ig_host_t host;               /* the host's table with palloc from the arena */
    ig_arena_t *arena;
    ig_http_exchange_t jx;        /* the handler's copy */
    route_offload_fn_t handler;
    int rc;
    ig_error_t err;
} offload_t;

static void *arena_palloc(void *pool, size_t n)
{
    return ig_arena_alloc(pool, n ? n : 1);
}

static ig_str_t copy_str(ig_arena_t *a, ig_str_t s, int *oom)
{
    char *p = ig_arena_strndup(a, s.ptr ? s.ptr : "", s.len);
    *oom |= p == NULL;
    return (ig_str_t){p ? p : "", p ? s.len : 0};
}

static void release(offload_t *o)
{
    ig_arena_destroy(o->arena);
    free(o);
}

/* a thread of the core's pool */
static void work(void *arg)
{
    offload_t *o = arg;
    o->rc = o->handler(o->state, &o->jx, &o->err);
}

/* the worker: the copy's answer into the request (x NULL: its client left) */
static int done(void *arg, ig_http_exchange_t *x, ig_error_t *err)
{
    offload_t *o = arg;
    int rc = 0;
    if (x != NULL && o->rc != 0) {
        *err = o->err;
        rc = -1;
    } else if (x != NULL) {
        char *body = x->host->palloc(x->pool, o->jx.response.len + 1);
        if (body == NULL) {
            err->status = 500;
            err->type = "server_error";
            rc = x->host->error(err, "out of memory copying the answer");
        } else {
            memcpy(body, o->jx.response.ptr ? o->jx.response.ptr : "", o->jx.response.len);
            body[o->jx.response.len] = '\0';
            x->response = (ig_str_t){body, o->jx.response.len};
            x->status = o->jx.status;
            x->content_type = o->jx.content_type; /* static strings, as the handlers' headers */
            x->nheaders = o->jx.nheaders;
            memcpy(x->headers, o->jx.headers, sizeof(x->headers));
        }
    }
    release(o);
    return rc;
}

int route_offload(void *state, ig_http_exchange_t *x, ig_error_t *err, route_offload_fn_t handler)
{
    if (!IG_HAS(x->host, route_defer) || x->host->route_defer == NULL)
        return handler(state, x, err);
    offload_t *o = calloc(1, sizeof(*o));
    ig_arena_t *a = o ? ig_arena_create() : NULL;
    int oom = a == NULL;
    if (!oom) {
        o->arena = a;
        o->state = state;
        o->host = *x->host;
        o->host.palloc = arena_palloc;
        o->handler = handler;
        ig_http_exchange_t *j = &o->jx;
        /* the request may be gone while the work runs: its inputs are copied; the models belong to
         * the generation, which the core holds until done */
        *j = (ig_http_exchange_t){.host = &o->host, .pool = a, .models = x->models, .nmodels = x->nmodels};
        j->method = copy_str(a, x->method, &oom);
        j->path = copy_str(a, x->path, &oom);
        j->rest = copy_str(a, x->rest, &oom);
        j->query = copy_str(a, x->query, &oom);
        j->body = copy_str(a, x->body, &oom);
        j->accept = copy_str(a, x->accept, &oom);
    }
    if (oom || x->host->route_defer(x, work, done, o) != 0) {
        if (o != NULL)
            ig_arena_destroy(a);
        free(o);
        if (oom) {
            err->status = 500;
            err->type = "server_error";
            return x->host->error(err, "out of memory");
        }
        return handler(state, x, err); /* the core could not defer: answer in place */
    }
    return IG_PENDING;
}
