/* models_pg.c — runtime models in PostgreSQL: the store and its watcher thread (models_pg.h). */
#include "server/models_pg.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "ig_pg.h"
#include "observe/log.h"

#define CHANNEL "ig_runtime_models"
#define RESYNC_MS 2000
#define RETRY_MS 1000

static const ig_pg_migration_t migrations[] = {
    {1, "CREATE TABLE runtime_models(name text PRIMARY KEY, manifest text NOT NULL, version bigint NOT NULL);"
        "CREATE TABLE runtime_models_version(one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL);"
        "INSERT INTO runtime_models_version(one, version) VALUES (true, 0)"},
};

struct ig_models_pg_s {
    char *url;
    PGconn *conn;                /* the thread's (the opener's until start) */
    uv_thread_t thread;
    int started;
    int wake_fd;                 /* eventfd: a write queued, or stop */
    uv_async_t async;
    void (*on_change)(void *data);
    void *data;
    uv_mutex_t lock;             /* what follows: the thread and the main thread */
    int stop;
    ig_models_set_t *fresh;      /* read, not taken yet */
    uint64_t seen;               /* the version last read */
    char *w_name, *w_text;       /* the queued write */
    size_t w_len;
    int w_state;                 /* 0 none, 1 queued, 2 done */
    int w_ok;
    char w_msg[512];
};

void ig_models_set_free(ig_models_set_t *ms)
{
    if (ms == NULL)
        return;
    for (size_t i = 0; i < ms->set.n; i++) {
        free((char *)ms->docs[i].name);
        free((char *)ms->docs[i].text);
    }
    free(ms->docs);
    free(ms);
}

/* The version, and the whole set when it differs from have (*out NULL when it does not). */
static int read_set(PGconn *c, uint64_t have, int force, ig_models_set_t **out, char *msg, size_t cap)
{
    *out = NULL;
    PGresult *r = PQexec(c, "SELECT version FROM runtime_models_version");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(msg, cap, "reading runtime_models_version: %s", r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        return -1;
    }
    uint64_t v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    if (!force && v == have)
        return 0;
    /* one statement: the version and the rows of one snapshot */
    r = PQexec(c, "SELECT v.version, m.name, m.manifest FROM runtime_models_version v LEFT JOIN runtime_models m ON "
                  "true ORDER BY m.name COLLATE \"C\"");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(msg, cap, "reading runtime_models: %s", r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r);
    ig_models_set_t *ms = calloc(1, sizeof(*ms));
    if (ms != NULL && n > 0)
        ms->docs = calloc((size_t)n, sizeof(*ms->docs));
    if (ms == NULL || (n > 0 && ms->docs == NULL)) {
        free(ms);
        PQclear(r);
        snprintf(msg, cap, "out of memory reading runtime_models");
        return -1;
    }
    ms->version = n > 0 ? strtoull(PQgetvalue(r, 0, 0), NULL, 10) : v;
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(r, i, 1))
            continue; /* no models: the LEFT JOIN's one row */
        ig_runtime_doc_t *d = &ms->docs[ms->set.n];
        d->name = strdup(PQgetvalue(r, i, 1));
        d->len = (size_t)PQgetlength(r, i, 2);
        d->text = strndup(PQgetvalue(r, i, 2), d->len);
        ms->set.n++;
        if (d->name == NULL || d->text == NULL) {
            PQclear(r);
            ig_models_set_free(ms);
            snprintf(msg, cap, "out of memory reading runtime_models");
            return -1;
        }
    }
    ms->set.docs = ms->docs;
    PQclear(r);
    *out = ms;
    return 0;
}

static PGconn *connect_listen(const char *url, char *msg, size_t cap)
{
    PGconn *c = ig_pg_connect(url, "infergate runtime models", msg, cap);
    if (c == NULL)
        return NULL;
    if (ig_pg_migrate(c, "core.runtime_models", migrations, sizeof(migrations) / sizeof(migrations[0]), msg, cap) != 0 ||
        ig_pg_exec(c, "LISTEN " CHANNEL, msg, cap) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

ig_models_pg_t *ig_models_pg_open(const char *url, ig_models_set_t **out, char *msg, size_t cap)
{
    *out = NULL;
    ig_models_pg_t *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->url = strdup(url)) == NULL) {
        free(p);
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    p->wake_fd = -1;
    uv_mutex_init(&p->lock);
    char e[512];
    if ((p->conn = connect_listen(url, e, sizeof(e))) == NULL || read_set(p->conn, 0, 1, out, e, sizeof(e)) != 0) {
        snprintf(msg, cap, "runtime models: %s", e);
        ig_models_pg_free(p);
        return NULL;
    }
    p->seen = (*out)->version;
    return p;
}

/* ---- the thread ---------------------------------------------------------------------------- */

/* r had the status want (and is cleared); else its error into e. */
static int result_ok(PGresult *r, ExecStatusType want, char *e, size_t cap)
{
    int ok = r && PQresultStatus(r) == want;
    if (!ok)
        snprintf(e, cap, "%s", r ? PQresultErrorMessage(r) : "out of memory");
    PQclear(r);
    return ok;
}

static int do_write(PGconn *c, const char *name, const char *text, size_t len, char *msg, size_t cap)
{
    char e[400];
    if (ig_pg_exec(c, "BEGIN", e, sizeof(e)) != 0)
        goto fail;
    PGresult *r = PQexec(c, "UPDATE runtime_models_version SET version = version + 1 RETURNING version");
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        snprintf(e, sizeof(e), "%s", r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        goto fail;
    }
    char v[32];
    snprintf(v, sizeof(v), "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *params[3] = {name, text, v};
    int lens[3] = {0, (int)len, 0};
    if (text != NULL)
        r = PQexecParams(c,
                         "INSERT INTO runtime_models(name, manifest, version) VALUES($1, $2, $3::bigint) ON CONFLICT "
                         "(name) DO UPDATE SET manifest = excluded.manifest, version = excluded.version",
                         3, NULL, params, lens, NULL, 0);
    else
        r = PQexecParams(c, "DELETE FROM runtime_models WHERE name = $1", 1, NULL, params, NULL, NULL, 0);
    if (!result_ok(r, PGRES_COMMAND_OK, e, sizeof(e)))
        goto fail;
    const char *np[1] = {v};
    r = PQexecParams(c, "SELECT pg_notify('" CHANNEL "', $1)", 1, NULL, np, NULL, NULL, 0);
    if (!result_ok(r, PGRES_TUPLES_OK, e, sizeof(e)) || ig_pg_exec(c, "COMMIT", e, sizeof(e)) != 0)
        goto fail;
    return 0;
fail:
    ig_pg_exec(c, "ROLLBACK", msg, cap);
    snprintf(msg, cap, "server.database: cannot store the runtime model \"%s\": %s", name, e);
    for (char *q = msg; *q; q++)
        if (*q == '\n')
            *q = ' ';
    return -1;
}

static void drain_wake(int fd)
{
    uint64_t n;
    while (read(fd, &n, sizeof(n)) == sizeof(n))
        ;
}

static void run(void *arg)
{
    ig_models_pg_t *p = arg;
    uint64_t next_check = uv_hrtime() / 1000000 + RESYNC_MS;
    int failing = 0;
    for (;;) {
        uv_mutex_lock(&p->lock);
        int stop = p->stop;
        char *name = p->w_state == 1 ? p->w_name : NULL;
        uv_mutex_unlock(&p->lock);
        if (stop)
            break;
        char msg[512] = "";
        if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
            PQfinish(p->conn);
            p->conn = connect_listen(p->url, msg, sizeof(msg));
            if (p->conn == NULL) {
                if (!failing)
                    ig_log_warn("runtime models: %s; retrying every %d ms", msg, RETRY_MS);
                failing = 1;
                if (name != NULL) { /* the client waits: it learns now, not after the outage */
                    uv_mutex_lock(&p->lock);
                    p->w_state = 2;
                    p->w_ok = -1;
                    snprintf(p->w_msg, sizeof(p->w_msg), "%s", msg);
                    uv_mutex_unlock(&p->lock);
                    uv_async_send(&p->async);
                }
                struct pollfd w = {.fd = p->wake_fd, .events = POLLIN};
                poll(&w, 1, RETRY_MS);
                drain_wake(p->wake_fd);
                continue;
            }
            if (failing)
                ig_log_info("runtime models: connected to the database again");
            failing = 0;
            next_check = 0; /* what changed meanwhile */
        }
        int changed = 0;
        if (name != NULL) {
            int ok = do_write(p->conn, name, p->w_text, p->w_len, msg, sizeof(msg));
            uv_mutex_lock(&p->lock);
            p->w_state = 2;
            p->w_ok = ok;
            snprintf(p->w_msg, sizeof(p->w_msg), "%s", msg);
            uv_mutex_unlock(&p->lock);
            uv_async_send(&p->async);
            changed = 1;
        }
        /* notifications */
        if (PQconsumeInput(p->conn) == 1) {
            PGnotify *nt;
            while ((nt = PQnotifies(p->conn)) != NULL) {
                changed = 1;
                PQfreemem(nt);
            }
        }
        uint64_t now = uv_hrtime() / 1000000;
        if (changed || now >= next_check) {
            next_check = now + RESYNC_MS;
            ig_models_set_t *ms = NULL;
            uv_mutex_lock(&p->lock);
            uint64_t seen = p->seen;
            uv_mutex_unlock(&p->lock);
            if (read_set(p->conn, seen, 0, &ms, msg, sizeof(msg)) != 0) {
                ig_log_warn("runtime models: %s", msg);
            } else if (ms != NULL) {
                uv_mutex_lock(&p->lock);
                ig_models_set_free(p->fresh);
                p->fresh = ms;
                p->seen = ms->version;
                uv_mutex_unlock(&p->lock);
                uv_async_send(&p->async);
            }
            continue; /* the read may have brought notifications */
        }
        struct pollfd fds[2] = {{.fd = PQsocket(p->conn), .events = POLLIN}, {.fd = p->wake_fd, .events = POLLIN}};
        int wait = (int)(next_check > now ? next_check - now : 0);
        if (poll(fds, 2, wait) > 0 && (fds[1].revents & POLLIN))
            drain_wake(p->wake_fd);
    }
}

static void on_async(uv_async_t *a)
{
    ig_models_pg_t *p = a->data;
    p->on_change(p->data);
}

int ig_models_pg_start(ig_models_pg_t *p, uv_loop_t *loop, void (*on_change)(void *data), void *data)
{
    p->on_change = on_change;
    p->data = data;
    p->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->wake_fd < 0 || uv_async_init(loop, &p->async, on_async) != 0)
        return -1;
    p->async.data = p;
    if (uv_thread_create(&p->thread, run, p) != 0) {
        uv_close((uv_handle_t *)&p->async, NULL);
        return -1;
    }
    p->started = 1;
    return 0;
}

static void wake(ig_models_pg_t *p)
{
    uint64_t one = 1;
    if (write(p->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        ig_log_warn("runtime models: cannot wake the database thread: %s", strerror(errno));
}

ig_models_set_t *ig_models_pg_take(ig_models_pg_t *p)
{
    uv_mutex_lock(&p->lock);
    ig_models_set_t *ms = p->fresh;
    p->fresh = NULL;
    uv_mutex_unlock(&p->lock);
    return ms;
}

int ig_models_pg_write(ig_models_pg_t *p, const char *name, const char *text, size_t len)
{
    if (!p->started)
        return -1;
    char *n = strdup(name), *t = text ? malloc(len + 1) : NULL;
    if (n == NULL || (text && t == NULL)) {
        free(n);
        free(t);
        return -1;
    }
    if (t != NULL) {
        memcpy(t, text, len);
        t[len] = '\0';
    }
    uv_mutex_lock(&p->lock);
    free(p->w_name);
    free(p->w_text);
    p->w_name = n;
    p->w_text = t;
    p->w_len = len;
    p->w_state = 1;
    uv_mutex_unlock(&p->lock);
    wake(p);
    return 0;
}

int ig_models_pg_write_result(ig_models_pg_t *p, int *ok, char *msg, size_t cap)
{
    uv_mutex_lock(&p->lock);
    int done = p->w_state == 2;
    if (done) {
        *ok = p->w_ok;
        snprintf(msg, cap, "%s", p->w_msg);
        p->w_state = 0;
        free(p->w_name);
        free(p->w_text);
        p->w_name = p->w_text = NULL;
    }
    uv_mutex_unlock(&p->lock);
    return done;
}

void ig_models_pg_close(ig_models_pg_t *p)
{
    if (p == NULL || !p->started)
        return;
    uv_mutex_lock(&p->lock);
    p->stop = 1;
    uv_mutex_unlock(&p->lock);
    wake(p);
    uv_thread_join(&p->thread);
    uv_close((uv_handle_t *)&p->async, NULL);
    p->started = 0;
}

void ig_models_pg_free(ig_models_pg_t *p)
{
    if (p == NULL)
        return;
    PQfinish(p->conn);
    if (p->wake_fd >= 0)
        close(p->wake_fd);
    ig_models_set_free(p->fresh);
    free(p->w_name);
    free(p->w_text);
    free(p->url);
    uv_mutex_destroy(&p->lock);
    free(p);
}
