#include "bl_offload.h"
#include <stdlib.h>
#include <string.h>
#include "bl_report.h"
#include "util/arena.h"

typedef struct {
    bl_job_t job;
    bl_report_ctx_t ctx;          /* a copy: the generation's may be freed before the job runs */
    ig_host_t host;               /* the host's table with palloc from the arena */
    ig_arena_t *arena;
    ig_http_exchange_t *x;        /* the core's, answered with route_done */
    ig_http_exchange_t jx;        /* the handler's */
    bl_handler_t handler;
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

static void run(bl_job_t *job)
{
    offload_t *o = (offload_t *)job;
    ig_error_t err = {{0}};
    int rc = o->handler(&o->ctx, &o->jx, &err);
    ig_http_exchange_t *x = o->x;
    x->status = o->jx.status;
    x->content_type = o->jx.content_type;
    x->response = o->jx.response;
    x->nheaders = o->jx.nheaders;
    memcpy(x->headers, o->jx.headers, sizeof(x->headers));
    o->ctx.host->route_done(x, rc == 0 ? 0 : -1, &err); /* copies the answer out of the arena */
    ig_arena_destroy(o->arena);
    free((char *)o->ctx.currency);
    free(o);
}

int bl_offload(void *state, ig_http_exchange_t *x, ig_error_t *err, bl_handler_t handler)
{
    const bl_report_ctx_t *c = state;
    if (!IG_HAS(x->host, route_done) || x->host->route_done == NULL || !bl_writer_started(c->writer))
        return handler(state, x, err);
    offload_t *o = calloc(1, sizeof(*o));
    ig_arena_t *a = o ? ig_arena_create() : NULL;
    char *currency = a ? strdup(c->currency) : NULL;
    int oom = currency == NULL;
    ig_model_t *models = NULL;
    const ig_model_t **views = NULL;
    if (!oom) {
        o->arena = a;
        o->ctx = *c;
        o->ctx.currency = currency;
        o->ctx.on_writer = 1;
        o->host = *x->host;
        o->host.palloc = arena_palloc;
        o->x = x;
        o->handler = handler;
        o->job.run = run;
        ig_http_exchange_t *j = &o->jx;
        *j = (ig_http_exchange_t){.host = &o->host, .pool = a};
        j->method = copy_str(a, x->method, &oom);
        j->path = copy_str(a, x->path, &oom);
        j->rest = copy_str(a, x->rest, &oom);
        j->query = copy_str(a, x->query, &oom);
        j->body = copy_str(a, x->body, &oom);
        j->accept = copy_str(a, x->accept, &oom);
        /* the models as the money routes read them: names and prices */
        models = ig_arena_array(a, x->nmodels + 1, sizeof(*models));
        views = ig_arena_array(a, x->nmodels + 1, sizeof(*views));
        oom |= models == NULL || views == NULL;
        for (size_t i = 0; !oom && i < x->nmodels; i++) {
            const ig_model_t *m = x->models[i];
            const char *const from[] = {m->name, m->pricing.prompt, m->pricing.completion, m->pricing.request,
                                        m->pricing.input_cache_read, m->pricing.audio};
            const char *to[6];
            for (size_t k = 0; k < 6; k++) {
                to[k] = from[k] ? ig_arena_strdup(a, from[k]) : NULL;
                oom |= from[k] != NULL && to[k] == NULL;
            }
            models[i].name = to[0];
            models[i].pricing = (ig_pricing_t){to[1], to[2], to[3], to[4], to[5]};
            views[i] = &models[i];
        }
        j->models = (const ig_model_t *const *)views;
        j->nmodels = x->nmodels;
    }
    if (oom) {
        if (a)
            ig_arena_destroy(a);
        free(currency);
        free(o);
        err->status = 500;
        err->type = "server_error";
        return x->host->error(err, "out of memory");
    }
    if (bl_writer_submit(c->writer, &o->job) != 0) {
        ig_arena_destroy(a);
        free(currency);
        free(o);
        return handler(state, x, err); /* the writer stopped: answer in place */
    }
    return IG_PENDING;
}
