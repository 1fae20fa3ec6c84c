/*
 * stage.h — what the stages around plugins that may answer later (auth.c, ratelimit.c) share:
 * keeping an answer that came too early, and checking where a late answer comes from.
 */
#ifndef IG_STAGE_H
#define IG_STAGE_H

#include <h2o.h>
#include "infergate/plugin.h"
#include "observe/log.h"
#include "plugin/plugin_host.h"

/* A *_done call made from inside the call that then returned IG_PENDING: kept, taken on its return. */
typedef struct ig_stage_early_s {
    int rc;
    int has_err;
    ig_error_t err;
} ig_stage_early_t;

static inline ig_stage_early_t *ig_stage_early_keep(h2o_mem_pool_t *pool, int rc, const ig_error_t *err)
{
    ig_stage_early_t *e = h2o_mem_alloc_pool(pool, sizeof(*e));
    e->rc = rc;
    e->has_err = err != NULL;
    if (err != NULL)
        e->err = *err;
    return e;
}

/*
 * A late answer is taken only on the worker thread the call was made on and only while the call is
 * pending; anything else is a plugin bug, logged (naming the plugin) and ignored: acting on it would
 * race with the worker that owns the request, or answer a request twice.
 */
static inline int ig_stage_answer_ok(const char *what, const char *plugin, int pending, int worker)
{
    if (!pending) {
        ig_log_error("plugin `%s` called %s for a request that is not waiting for it (twice, after cancel, or "
                     "without IG_PENDING): ignored", plugin, what);
        return 0;
    }
    if (ig_host_worker_index() != worker) {
        ig_log_error("plugin `%s` called %s from another thread than the request's worker (%d): ignored", plugin,
                     what, worker);
        return 0;
    }
    return 1;
}

#endif
