/* runtime_models.c — runtime model changes, applied on the main thread (runtime_models.h). */
#include "server/runtime_models.h"
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "observe/log.h"
#include "server/models_pg.h"
#include "server/server.h"
#include "server/worker.h"
#include "util/arena.h"
#include "util/file.h"
#include "util/json_write.h"

#define BODY_NAME "request body"

struct ig_runtime_models_s {
    ig_server_t *s;
    uv_mutex_t lock;                 /* queue and closed: workers submit, the main thread takes */
    ig_model_change_t *head, *tail;
    int closed;
    uv_async_t async;
    uv_timer_t wait;                 /* polls the workers while current waits to be taken up */
    int started;
    ig_model_change_t *current;      /* applied; its generation not yet taken up by every worker */
    uint64_t wait_id;
    ig_models_pg_t *pg;              /* server.database, or NULL: the folder */
    ig_generation_t *writing;        /* current's generation, waiting for the database's commit */
};

ig_runtime_models_t *ig_runtime_models_create(ig_server_t *s)
{
    ig_runtime_models_t *rm = calloc(1, sizeof(*rm));
    if (rm == NULL)
        return NULL;
    rm->s = s;
    rm->closed = 1;
    uv_mutex_init(&rm->lock);
    return rm;
}

int ig_runtime_models_submit(void *data, ig_model_change_t *ch)
{
    ig_runtime_models_t *rm = data;
    uv_mutex_lock(&rm->lock);
    if (rm->closed) {
        uv_mutex_unlock(&rm->lock);
        return -1;
    }
    ch->next = NULL;
    if (rm->tail)
        rm->tail->next = ch;
    else
        rm->head = ch;
    rm->tail = ch;
    uv_async_send(&rm->async); /* under the lock: close() cannot slip in between */
    uv_mutex_unlock(&rm->lock);
    return 0;
}

/* ---- outcomes ------------------------------------------------------------------------------ */

static void post_outcome(ig_runtime_models_t *rm, ig_model_change_t *ch)
{
    if (ig_worker_post_call(ch->worker, ig_model_change_outcome, ch) != 0)
        ig_model_change_release(ch); /* out of memory: the request is cut at shutdown, or the client gives up */
}

static void fail(ig_runtime_models_t *rm, ig_model_change_t *ch, int status, const char *type, const char *param,
                 const char *code, const ig_errors_t *errs, const char *fmt, ...) __attribute__((format(printf, 8, 9)));

/* An OpenAI-shaped error; with errs, every message is listed in "errors" too. */
static void fail(ig_runtime_models_t *rm, ig_model_change_t *ch, int status, const char *type, const char *param,
                 const char *code, const ig_errors_t *errs, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_buf_t b = {0};
    ig_buf_lit(&b, "{\"error\":{\"message\":");
    ig_json_write_cstr(&b, msg);
    ig_buf_lit(&b, ",\"type\":");
    ig_json_write_cstr(&b, type);
    ig_buf_lit(&b, ",\"param\":");
    ig_json_write_cstr(&b, param);
    ig_buf_lit(&b, ",\"code\":");
    ig_json_write_cstr(&b, code);
    if (errs != NULL) {
        ig_buf_lit(&b, ",\"errors\":[");
        for (size_t i = 0; i < errs->count; i++) {
            ig_buf_puts(&b, i ? "," : "");
            ig_json_write_cstr(&b, errs->items[i]);
        }
        ig_buf_lit(&b, "]");
    }
    ig_buf_lit(&b, "}}\n");
    ch->status = status;
    ch->error_json = ig_buf_take(&b, NULL);
    post_outcome(rm, ch);
}

/* "request body:3: spec.engine: unknown ..." → "spec.engine"; `missing "engine"` → "engine". */
static const char *body_param(const char *e, char *buf, size_t cap)
{
    const char *p = e + sizeof(BODY_NAME);
    while (*p >= '0' && *p <= '9')
        p++;
    if (p[0] != ':' || p[1] != ' ')
        return NULL;
    p += 2;
    const char *end = strstr(p, ": ");
    const char *sp = strchr(p, ' ');
    if (end != NULL && (sp == NULL || sp > end) && (size_t)(end - p) < cap) {
        memcpy(buf, p, (size_t)(end - p));
        buf[end - p] = '\0';
        return buf;
    }
    if (strncmp(p, "missing \"", 9) == 0 && (end = strchr(p + 9, '"')) != NULL && (size_t)(end - p - 9) < cap) {
        memcpy(buf, p + 9, (size_t)(end - p - 9));
        buf[end - p - 9] = '\0';
        return buf;
    }
    return NULL;
}

static void fail_errors(ig_runtime_models_t *rm, ig_model_change_t *ch, const ig_errors_t *errs)
{
    const char *first = NULL;
    for (size_t i = 0; i < errs->count && first == NULL; i++)
        if (strncmp(errs->items[i], BODY_NAME ":", sizeof(BODY_NAME)) == 0)
            first = errs->items[i];
    ig_buf_t joined = {0}; /* one line */
    for (size_t i = 0; i < errs->count; i++)
        ig_buf_printf(&joined, "%s%s", i ? "; " : "", errs->items[i]);
    char *all = ig_buf_take(&joined, NULL);
    char param[256];
    if (first != NULL)
        fail(rm, ch, 400, "invalid_request_error", body_param(first, param, sizeof(param)), "invalid_model", errs, "%s",
             all ? all : first);
    else
        fail(rm, ch, 500, "server_error", NULL, "configuration_invalid", errs,
             "the configuration does not load any more, so nothing was changed: %s", all ? all : "(no message)");
    free(all);
}

/* ---- applying ------------------------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}


/* dir/<name>.yaml replaced atomically by text (a temporary file, fsync, rename, fsync of dir). */
static int store(const char *dir, const char *name, const char *text, size_t len, char *msg, size_t cap)
{
    char tmp[4200], path[4200];
    char dmsg[512];
    if (ig_dir_private(dir, dmsg, sizeof(dmsg)) != 0) {
        snprintf(msg, cap, "server.stateDir: %s", dmsg);
        return -1;
    }
    snprintf(tmp, sizeof(tmp), "%s/.%s.yaml.tmp", dir, name);
    snprintf(path, sizeof(path), "%s/%s.yaml", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && fchmod(fd, 0600) != 0) { /* 0600 whatever the umask, and if tmp was left wider */
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(msg, cap, "cannot write %.400s: %s", tmp, strerror(errno));
        return -1;
    }
    int ok = write_all(fd, text, len) == 0 && fsync(fd) == 0;
    int err = errno;
    ok &= close(fd) == 0;
    if (!ok || rename(tmp, path) != 0) {
        err = ok ? errno : err;
        unlink(tmp);
        snprintf(msg, cap, "cannot write %.400s: %s", path, strerror(err));
        return -1;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd); /* the rename itself is durable */
        close(dfd);
    }
    return 0;
}

static const ig_model_config_t *model_named(const ig_config_t *cfg, const char *name)
{
    return ig_config_find_model(cfg, name, strlen(name));
}

static void start_waiting(ig_runtime_models_t *rm, ig_model_change_t *ch, uint64_t id);
static void install(ig_runtime_models_t *rm, ig_model_change_t *ch, ig_generation_t *gen, int existed);
static void write_pg(ig_runtime_models_t *rm, ig_model_change_t *ch, ig_generation_t *gen);
static void next_change(ig_runtime_models_t *rm);

static void apply(ig_runtime_models_t *rm, ig_model_change_t *ch)
{
    ig_server_t *s = rm->s;
    const ig_model_config_t *cur = model_named(s->gen->config, ch->name);
    if (cur != NULL && !cur->runtime) {
        fail(rm, ch, 409, "invalid_request_error", "name", "model_in_config_file", NULL,
             "model \"%s\" is defined in %s:%d: change it there (the admin API changes only the models it made)",
             ch->name, cur->file, cur->line);
        return;
    }
    if (ch->remove && cur == NULL) {
        fail(rm, ch, 404, "invalid_request_error", NULL, "model_not_found", NULL, "no model named \"%s\"", ch->name);
        return;
    }
    ig_runtime_change_t rc = {.name = ch->name, .text = ch->remove ? NULL : ch->body, .len = ch->body_len,
                              .text_name = BODY_NAME};
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_runtime(s->config_path, s->config_text, s->config_len, s->plugins, &rc, &errs);
    ig_generation_t *gen = cfg ? ig_generation_build(cfg, s->next_gen_id + 1, s->endpoints, &errs) : NULL;
    if (gen == NULL) {
        fail_errors(rm, ch, &errs);
        ig_errors_clear(&errs);
        ig_plugin_host_collect(s->plugins);
        return;
    }
    if (rm->pg != NULL) {
        write_pg(rm, ch, gen);
        return;
    }
    char *dir = ig_config_runtime_dir(gen->config);
    char msg[600] = "";
    int stored = -1;
    if (dir != NULL && ch->remove) {
        char path[4200];
        snprintf(path, sizeof(path), "%s/%s.yaml", dir, ch->name);
        stored = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
        if (stored != 0)
            snprintf(msg, sizeof(msg), "cannot remove %.400s: %s", path, strerror(errno));
    } else if (dir != NULL) {
        size_t len = 0;
        char *text = ig_config_runtime_manifest(ch->name, ch->body, ch->body_len, &len);
        if (text == NULL)
            snprintf(msg, sizeof(msg), "out of memory writing the manifest");
        else
            stored = store(dir, ch->name, text, len, msg, sizeof(msg));
        free(text);
        /* the model now lives in its file (until now it was the request body) */
        for (size_t i = 0; stored == 0 && i < gen->config->nmodels; i++) {
            ig_model_config_t *m = &gen->config->models[i];
            if (m->runtime && strcmp(m->model.name, ch->name) == 0) {
                m->file = ig_arena_printf(gen->config->arena, "%s/%s.yaml", dir, ch->name);
                m->line = IG_RUNTIME_MANIFEST_LINE;
            }
        }
    }
    free(dir);
    if (stored != 0) {
        ig_generation_release(gen);
        ig_plugin_host_collect(s->plugins);
        fail(rm, ch, 500, "server_error", NULL, "state_not_written", NULL, "%s (nothing was changed)",
             msg[0] ? msg : "server.stateDir is not set");
        return;
    }
    install(rm, ch, gen, cur != NULL);
}

static void install(ig_runtime_models_t *rm, ig_model_change_t *ch, ig_generation_t *gen, int existed)
{
    ig_server_t *s = rm->s;
    s->next_gen_id++;
    ig_generation_retain(gen); /* the answer shows it */
    ch->gen = gen;
    ig_server_install(s, gen);
    ig_log_info("runtime model \"%s\" %s: generation %llu, %zu models", ch->name,
                ch->remove ? "deleted" : existed ? "replaced" : "created", (unsigned long long)gen->id, gen->nmodels);
    ch->status = ch->remove || existed ? 200 : 201;
    start_waiting(rm, ch, gen->id);
}

/* ---- server.database ----------------------------------------------------------------------- */

/* The change goes to the database thread; current stays ch until the commit's outcome (write_done). */
static void write_pg(ig_runtime_models_t *rm, ig_model_change_t *ch, ig_generation_t *gen)
{
    size_t len = 0;
    char *text = ch->remove ? NULL : ig_config_runtime_manifest(ch->name, ch->body, ch->body_len, &len);
    int queued = (ch->remove || text != NULL) && ig_models_pg_write(rm->pg, ch->name, text, len) == 0;
    free(text);
    if (!queued) {
        ig_generation_release(gen);
        ig_plugin_host_collect(rm->s->plugins);
        fail(rm, ch, 500, "server_error", NULL, "state_not_written", NULL,
             "out of memory queueing the runtime model \"%s\" for the database (nothing was changed)", ch->name);
        return;
    }
    /* the model now lives in the database (until now it was the request body) */
    for (size_t i = 0; i < gen->config->nmodels; i++) {
        ig_model_config_t *m = &gen->config->models[i];
        if (m->runtime && strcmp(m->model.name, ch->name) == 0) {
            m->file = ig_arena_printf(gen->config->arena, "postgres:runtime_models/%s", ch->name);
            m->line = IG_RUNTIME_MANIFEST_LINE;
        }
    }
    ch->existed = model_named(rm->s->gen->config, ch->name) != NULL;
    rm->current = ch;
    rm->writing = gen;
}

static void write_done(ig_runtime_models_t *rm)
{
    int ok = 0;
    char msg[600];
    if (rm->writing == NULL || !ig_models_pg_write_result(rm->pg, &ok, msg, sizeof(msg)))
        return;
    ig_generation_t *gen = rm->writing;
    ig_model_change_t *ch = rm->current;
    rm->writing = NULL;
    rm->current = NULL;
    if (ok != 0) {
        ig_generation_release(gen);
        ig_plugin_host_collect(rm->s->plugins);
        fail(rm, ch, 503, "server_error", NULL, "state_not_written", NULL, "%s (nothing was changed)", msg);
        return;
    }
    install(rm, ch, gen, ch->existed);
}

/* A set changed through any gateway (this one too): a generation from it, as SIGHUP makes one. */
static void take_set(ig_runtime_models_t *rm)
{
    ig_models_set_t *ms = rm->pg ? ig_models_pg_take(rm->pg) : NULL;
    if (ms == NULL)
        return;
    ig_server_t *s = rm->s;
    uint64_t t0 = uv_hrtime();
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load_runtime_set(s->config_path, s->config_text, s->config_len, s->plugins, &ms->set,
                                                  NULL, &errs);
    ig_generation_t *gen = cfg ? ig_generation_build(cfg, s->next_gen_id + 1, s->endpoints, &errs) : NULL;
    if (gen == NULL) {
        /* one gateway's refusal (a plugin it lacks): it keeps serving what it had, and says why */
        ig_log_error("runtime models from the database (version %llu) do not load here, still serving generation %llu:",
                     (unsigned long long)ms->version, (unsigned long long)s->gen->id);
        for (size_t i = 0; i < errs.count; i++)
            ig_log_error("  %s", errs.items[i]);
        ig_reload_status_failed(&s->reloads, "postgres:runtime_models", &errs);
        ig_errors_clear(&errs);
        ig_models_set_free(ms);
        ig_plugin_host_collect(s->plugins);
        return;
    }
    s->next_gen_id++;
    ig_models_set_free(s->models_set);
    s->models_set = ms;
    ig_server_install(s, gen);
    ig_reload_status_ok(&s->reloads, (uv_hrtime() - t0) / 1000);
    ig_log_info("runtime models from the database (version %llu): generation %llu, %zu models",
                (unsigned long long)ms->version, (unsigned long long)gen->id, gen->nmodels);
}

static void on_pg(void *data)
{
    ig_runtime_models_t *rm = data;
    write_done(rm);
    next_change(rm);
}

int ig_runtime_models_watch(ig_runtime_models_t *rm, ig_models_pg_t *pg)
{
    if (!rm->started || ig_models_pg_start(pg, rm->s->loop, on_pg, rm) != 0)
        return -1;
    rm->pg = pg;
    return 0;
}

/* ---- one at a time ------------------------------------------------------------------------- */

static int taken_up(ig_runtime_models_t *rm)
{
    for (unsigned i = 0; i < rm->s->nworkers; i++)
        if (atomic_load(&rm->s->workers[i].adopted_gen) < rm->wait_id)
            return 0;
    return 1;
}

static void next_change(ig_runtime_models_t *rm)
{
    while (rm->current == NULL) {
        take_set(rm); /* what the database holds first: the next change is judged against it */
        uv_mutex_lock(&rm->lock);
        ig_model_change_t *ch = rm->head;
        if (ch != NULL && (rm->head = ch->next) == NULL)
            rm->tail = NULL;
        uv_mutex_unlock(&rm->lock);
        if (ch == NULL)
            return;
        apply(rm, ch);
    }
}

static void take_set(ig_runtime_models_t *rm);

static void on_wait(uv_timer_t *t)
{
    ig_runtime_models_t *rm = t->data;
    if (rm->current == NULL || !taken_up(rm))
        return;
    uv_timer_stop(&rm->wait);
    ig_model_change_t *ch = rm->current;
    rm->current = NULL;
    post_outcome(rm, ch); /* the worker took the generation up before it runs this */
    next_change(rm);
}

static void start_waiting(ig_runtime_models_t *rm, ig_model_change_t *ch, uint64_t id)
{
    rm->current = ch;
    rm->wait_id = id;
    uv_timer_start(&rm->wait, on_wait, 0, 1);
}

static void on_async(uv_async_t *a)
{
    next_change(a->data);
}

int ig_runtime_models_start(ig_runtime_models_t *rm, uv_loop_t *loop)
{
    if (uv_async_init(loop, &rm->async, on_async) != 0)
        return -1;
    rm->async.data = rm;
    uv_timer_init(loop, &rm->wait);
    rm->wait.data = rm;
    rm->started = 1;
    uv_mutex_lock(&rm->lock);
    rm->closed = 0;
    uv_mutex_unlock(&rm->lock);
    return 0;
}

void ig_runtime_models_close(ig_runtime_models_t *rm)
{
    uv_mutex_lock(&rm->lock);
    rm->closed = 1;
    if (rm->started) {
        uv_close((uv_handle_t *)&rm->async, NULL);
        uv_close((uv_handle_t *)&rm->wait, NULL);
    }
    rm->started = 0;
    uv_mutex_unlock(&rm->lock);
}

void ig_runtime_models_free(ig_runtime_models_t *rm)
{
    if (rm == NULL)
        return;
    /* what was never answered: the workers' requests were cut; drop the main thread's references */
    ig_model_change_release(rm->current);
    if (rm->writing != NULL)
        ig_generation_release(rm->writing);
    for (ig_model_change_t *ch = rm->head, *next; ch != NULL; ch = next) {
        next = ch->next;
        ig_model_change_release(ch);
    }
    uv_mutex_destroy(&rm->lock);
    free(rm);
}
