/*
 * ak_pg.c — the apikey store in PostgreSQL (see ak_pg.h). Same tables as the SQLite store (limits
 * and model lists as the admin API's JSON, read back through its strict readers), plus ak_version.
 */
#define _POSIX_C_SOURCE 200809L
#include "ak_pg.h"
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ak_buf.h"
#include "ak_parse.h"
#include "ig_pg.h"
#include "util/hex.h"

#define AK_PG_CHANNEL "infergate_keys"

struct ak_pg_s {
    PGconn *conn;              /* the writer's: under the plugin's write lock */
    char url[2048];
    char app[128];
    char err[512];
    /* the watcher */
    const ig_host_t *host;
    const ig_json_api_t *json;
    pthread_t thread;
    int watching;
    atomic_int stop;
    unsigned resync_ms;
    void (*on_set)(void *arg, ak_set_t *set);
    void *arg;
};

static const ig_pg_migration_t migrations[] = {
    {1, "CREATE TABLE ak_customers(id text PRIMARY KEY, name text NOT NULL, limits text NOT NULL,"
        " created bigint NOT NULL);"
        "CREATE TABLE ak_keys(id text PRIMARY KEY, customer text NOT NULL, name text, hash bytea NOT NULL UNIQUE,"
        " models text, limits text NOT NULL, created bigint NOT NULL, expires bigint NOT NULL DEFAULT 0,"
        " revoked bigint NOT NULL DEFAULT 0);"
        "CREATE TABLE ak_grants(model text NOT NULL, customer text NOT NULL, limits text NOT NULL,"
        " created bigint NOT NULL, PRIMARY KEY(model, customer));"
        "CREATE TABLE ak_version(v bigint NOT NULL);"
        "INSERT INTO ak_version VALUES(0);"},
};

ak_pg_t *ak_pg_open(const char *url, const char *gateway_id, char *msg, size_t cap)
{
    ak_pg_t *pg = calloc(1, sizeof(*pg));
    if (!pg) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    snprintf(pg->url, sizeof(pg->url), "%s", url);
    snprintf(pg->app, sizeof(pg->app), "infergate %s apikey", gateway_id ? gateway_id : "");
    pg->conn = ig_pg_connect(url, pg->app, msg, cap);
    if (!pg->conn || ig_pg_migrate(pg->conn, "apikey", migrations, sizeof(migrations) / sizeof(migrations[0]), msg,
                                   cap) != 0) {
        PQfinish(pg->conn);
        free(pg);
        return NULL;
    }
    return pg;
}

void ak_pg_close(ak_pg_t *pg)
{
    if (!pg)
        return;
    if (pg->watching) {
        atomic_store(&pg->stop, 1);
        pthread_join(pg->thread, NULL);
    }
    PQfinish(pg->conn);
    free(pg);
}

const char *ak_pg_error(ak_pg_t *pg)
{
    return pg->err;
}

/* The writer's connection, reset once when the server went away since the last write. */
static PGconn *writer(ak_pg_t *pg)
{
    if (PQstatus(pg->conn) != CONNECTION_OK)
        PQreset(pg->conn);
    return pg->conn;
}

/* A statement with text parameters; 0 (rows affected into *rows when not NULL) or -1 with pg->err. */
static int run(ak_pg_t *pg, PGconn *c, const char *sql, int n, const char *const *vals, int *rows)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, vals, NULL, NULL, 0);
    int st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok) {
        snprintf(pg->err, sizeof(pg->err), "server.database: %s",
                 r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(c));
        size_t k = strlen(pg->err);
        while (k && pg->err[k - 1] == '\n')
            pg->err[--k] = '\0';
        for (char *p = pg->err; *p; p++)
            if (*p == '\n')
                *p = ' '; /* libpq's detail lines: one log line */
    } else if (rows) {
        *rows = atoi(PQcmdTuples(r));
    }
    PQclear(r);
    return ok ? 0 : -1;
}

int ak_pg_begin(ak_pg_t *pg)
{
    return run(pg, writer(pg), "BEGIN", 0, NULL, NULL);
}

int ak_pg_commit(ak_pg_t *pg)
{
    if (run(pg, pg->conn, "UPDATE ak_version SET v = v + 1", 0, NULL, NULL) != 0 ||
        run(pg, pg->conn, "NOTIFY " AK_PG_CHANNEL, 0, NULL, NULL) != 0)
        return -1;
    return run(pg, pg->conn, "COMMIT", 0, NULL, NULL);
}

void ak_pg_rollback(ak_pg_t *pg)
{
    PGresult *r = PQexec(pg->conn, "ROLLBACK");
    PQclear(r);
}

static void fmt_i64(char *out, int64_t v)
{
    snprintf(out, 24, "%" PRId64, v);
}

int ak_pg_put_customer(ak_pg_t *pg, const ak_customer_t *c)
{
    ak_buf_t b = {0};
    ak_buf_limits(&b, &c->limits);
    char created[24];
    fmt_i64(created, c->created);
    const char *v[4] = {c->id, c->name, b.p, created};
    int rc = b.failed ? -1
                      : run(pg, pg->conn,
                            "INSERT INTO ak_customers(id, name, limits, created) VALUES($1, $2, $3, $4::bigint)"
                            " ON CONFLICT(id) DO UPDATE SET name = EXCLUDED.name, limits = EXCLUDED.limits,"
                            " created = EXCLUDED.created",
                            4, v, NULL);
    ig_buf_free(&b);
    return rc;
}

int ak_pg_put_key(ak_pg_t *pg, const ak_key_t *k)
{
    ak_buf_t lim = {0}, models = {0};
    ak_buf_limits(&lim, &k->limits);
    if (k->models)
        ak_buf_models(&models, k->models, k->nmodels);
    char hash[AK_HASH_LEN * 2 + 4] = "\\x", created[24], expires[24], revoked[24];
    ig_hex_encode(k->hash, AK_HASH_LEN, hash + 2);
    hash[2 + AK_HASH_LEN * 2] = '\0';
    fmt_i64(created, k->created);
    fmt_i64(expires, k->expires);
    fmt_i64(revoked, k->revoked);
    const char *v[9] = {k->id, k->customer, k->name, hash, k->models ? models.p : NULL, lim.p, created, expires, revoked};
    int rc = lim.failed || models.failed
                 ? -1
                 : run(pg, pg->conn,
                       "INSERT INTO ak_keys(id, customer, name, hash, models, limits, created, expires, revoked)"
                       " VALUES($1, $2, $3, $4::bytea, $5, $6, $7::bigint, $8::bigint, $9::bigint)"
                       " ON CONFLICT(id) DO UPDATE SET customer = EXCLUDED.customer, name = EXCLUDED.name,"
                       " hash = EXCLUDED.hash, models = EXCLUDED.models, limits = EXCLUDED.limits,"
                       " created = EXCLUDED.created, expires = EXCLUDED.expires, revoked = EXCLUDED.revoked",
                       9, v, NULL);
    ig_buf_free(&lim);
    ig_buf_free(&models);
    return rc;
}

int ak_pg_put_grant(ak_pg_t *pg, const char *model, const char *customer, const ig_limits_t *limits, int64_t created)
{
    ak_buf_t b = {0};
    ak_buf_limits(&b, limits);
    char c[24];
    fmt_i64(c, created);
    const char *v[4] = {model, customer, b.p, c};
    int rc = b.failed ? -1
                      : run(pg, pg->conn,
                            "INSERT INTO ak_grants(model, customer, limits, created) VALUES($1, $2, $3, $4::bigint)"
                            " ON CONFLICT(model, customer) DO UPDATE SET limits = EXCLUDED.limits,"
                            " created = EXCLUDED.created",
                            4, v, NULL);
    ig_buf_free(&b);
    return rc;
}

int ak_pg_delete_grants(ak_pg_t *pg, const char *model, const char *customer)
{
    const char *v[2] = {model, customer};
    int rows = 0;
    if (run(pg, pg->conn,
            customer ? "DELETE FROM ak_grants WHERE model = $1 AND customer = $2" : "DELETE FROM ak_grants WHERE model = $1",
            customer ? 2 : 1, v, &rows) != 0)
        return -1;
    return rows;
}

/* ---- reading the whole store ---- */

static const char *cell(PGresult *r, int row, int col, ig_arena_t *a)
{
    return PQgetisnull(r, row, col) ? NULL : ig_arena_strdup(a, PQgetvalue(r, row, col));
}

static int cell_limits(const ig_json_api_t *j, PGresult *r, int row, int col, ig_limits_t *out, ak_err_t *e)
{
    const char *t = PQgetvalue(r, row, col);
    ig_json_value_t v;
    if (PQgetisnull(r, row, col) || j->validate_value(t, strlen(t), NULL, &v) != 0) {
        snprintf(e->msg, sizeof(e->msg), "limits: not JSON");
        return -1;
    }
    return ak_parse_limits(j, &v, "limits", out, e);
}

static PGresult *query(PGconn *c, const char *sql, char *msg, size_t cap)
{
    PGresult *r = PQexec(c, sql);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(msg, cap, "server.database: %s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static int read_customers(PGconn *c, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    PGresult *r = query(c, "SELECT id, name, limits, created FROM ak_customers ORDER BY id", msg, cap);
    if (!r)
        return -1;
    int n = PQntuples(r), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ak_customer_t *cu = ak_set_add_customer(set);
        ak_err_t e = {{0}};
        if (!cu) {
            rc = -1;
            break;
        }
        cu->id = cell(r, i, 0, set->arena);
        cu->name = cell(r, i, 1, set->arena);
        cu->created = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        cu->source = AK_SRC_API;
        if (!cu->id || !cu->name || cell_limits(j, r, i, 2, &cu->limits, &e) != 0) {
            snprintf(msg, cap, "server.database: customer row \"%s\" is unreadable: %s", PQgetvalue(r, i, 0), e.msg);
            rc = -1;
        }
    }
    PQclear(r);
    return rc;
}

static int read_keys(PGconn *c, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    PGresult *r = query(c,
                        "SELECT id, customer, name, encode(hash, 'hex'), models, limits, created, expires, revoked"
                        " FROM ak_keys ORDER BY created, id",
                        msg, cap);
    if (!r)
        return -1;
    int n = PQntuples(r), rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        ak_key_t *k = ak_set_add_key(set);
        ak_err_t e = {{0}};
        if (!k) {
            rc = -1;
            break;
        }
        k->id = cell(r, i, 0, set->arena);
        k->customer = cell(r, i, 1, set->arena);
        k->name = cell(r, i, 2, set->arena);
        k->source = AK_SRC_API;
        const char *hex = PQgetvalue(r, i, 3);
        int ok = k->id && k->customer && strlen(hex) == AK_HASH_LEN * 2 &&
                 ig_hex_decode(hex, AK_HASH_LEN, k->hash) == 0;
        if (ok && !PQgetisnull(r, i, 4)) {
            const char *models = PQgetvalue(r, i, 4);
            ig_json_value_t v;
            ok = j->validate_value(models, strlen(models), NULL, &v) == 0 &&
                 ak_parse_models(j, &v, "models", set->arena, &k->models, &k->nmodels, &e) == 0;
        }
        if (ok)
            ok = cell_limits(j, r, i, 5, &k->limits, &e) == 0;
        k->created = strtoll(PQgetvalue(r, i, 6), NULL, 10);
        k->expires = strtoll(PQgetvalue(r, i, 7), NULL, 10);
        k->revoked = strtoll(PQgetvalue(r, i, 8), NULL, 10);
        if (!ok) {
            snprintf(msg, cap, "server.database: key row \"%s\" is unreadable %s", PQgetvalue(r, i, 0), e.msg);
            rc = -1;
        }
    }
    PQclear(r);
    return rc;
}

static int read_grants(PGconn *c, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    PGresult *r = query(c, "SELECT model, customer, limits, created FROM ak_grants ORDER BY model, customer", msg, cap);
    if (!r)
        return -1;
    int n = PQntuples(r), rc = 0;
    ak_publication_t *p = NULL;
    size_t capg = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        const char *model = PQgetvalue(r, i, 0);
        if (!p || strcmp(p->model, model) != 0) {
            if (!(p = ak_set_add_pub(set)) || !(p->model = ig_arena_strdup(set->arena, model))) {
                rc = -1;
                break;
            }
            p->created = strtoll(PQgetvalue(r, i, 3), NULL, 10);
            capg = 0;
        }
        const char *customer = PQgetvalue(r, i, 1);
        if (!*customer)
            continue; /* the marker row of a publication to nobody */
        if (p->ngrants == capg) {
            size_t nc = capg ? capg * 2 : 8;
            ak_grant_t *g = ig_arena_array(set->arena, nc, sizeof(*g));
            if (!g) {
                rc = -1;
                break;
            }
            if (p->ngrants)
                memcpy(g, p->grants, p->ngrants * sizeof(*g));
            p->grants = g;
            capg = nc;
        }
        ak_grant_t *g = &p->grants[p->ngrants++];
        ak_err_t e = {{0}};
        g->customer = ig_arena_strdup(set->arena, customer);
        if (!g->customer || cell_limits(j, r, i, 2, &g->limits, &e) != 0) {
            snprintf(msg, cap, "server.database: grant of \"%s\" to \"%s\" is unreadable: %s", model, customer, e.msg);
            rc = -1;
        }
    }
    PQclear(r);
    return rc;
}

/* One consistent read (a repeatable-read snapshot) of everything, with the version it saw. */
static ak_set_t *load_from(PGconn *c, const ig_json_api_t *j, char *msg, size_t cap)
{
    msg[0] = '\0';
    ak_set_t *set = ak_set_new();
    if (!set) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    PGresult *r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        char e[400];
        snprintf(msg, cap, "server.database: %s", ig_pg_error(c, e, sizeof(e)));
        ak_set_free(set);
        return NULL;
    }
    r = query(c, "SELECT v FROM ak_version", msg, cap);
    if (r && PQntuples(r) == 1)
        set->version = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    ok = r != NULL;
    PQclear(r);
    ok = ok && read_customers(c, j, set, msg, cap) == 0 && read_keys(c, j, set, msg, cap) == 0 &&
         read_grants(c, j, set, msg, cap) == 0;
    r = PQexec(c, ok ? "COMMIT" : "ROLLBACK");
    PQclear(r);
    if (!ok || ak_set_seal(set) != 0) {
        if (!msg[0])
            snprintf(msg, cap, "out of memory");
        ak_set_free(set);
        return NULL;
    }
    return set;
}

ak_set_t *ak_pg_load(ak_pg_t *pg, const ig_json_api_t *j, char *msg, size_t cap)
{
    return load_from(writer(pg), j, msg, cap);
}

/* ---- the watcher ---- */

/* Waits up to ms for the socket; 1 readable, 0 timeout, -1 error. */
static int wait_readable(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int rc = poll(&p, 1, ms);
    return rc < 0 ? (errno == EINTR ? 0 : -1) : rc > 0;
}

static void nap(int ms)
{
    struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ak_version.v now, or -2 when it cannot be read (then everything is read again) */
static int64_t version_of(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT v FROM ak_version");
    int64_t v = r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -2;
    PQclear(r);
    return v;
}

static void *watch_main(void *arg)
{
    ak_pg_t *pg = arg;
    PGconn *c = NULL;
    char msg[512];
    int logged_down = 0;
    int fresh = 0;     /* 0: read everything next (a new connection, a notification) */
    int64_t seen = -1; /* ak_version.v of the last read */
    while (!atomic_load(&pg->stop)) {
        if (!c || PQstatus(c) != CONNECTION_OK) {
            fresh = 0;
            PQfinish(c);
            c = ig_pg_connect(pg->url, pg->app, msg, sizeof(msg));
            if (!c || ig_pg_exec(c, "LISTEN " AK_PG_CHANNEL, msg, sizeof(msg)) != 0) {
                if (!logged_down++)
                    pg->host->log(IG_LOG_WARN, "apikey", "key watcher: %s (keys in memory keep serving; retrying)", msg);
                PQfinish(c);
                c = NULL;
                nap(250);
                continue;
            }
            if (logged_down)
                pg->host->log(IG_LOG_INFO, "apikey", "key watcher: connected again to server.database");
            logged_down = 0;
        }
        /* read everything (first connection, a notification, or a resync that finds another version
         * than the last read: a notification lost), then wait for the next */
        if (!fresh || version_of(c) != seen) {
            ak_set_t *set = load_from(c, pg->json, msg, sizeof(msg));
            if (set) {
                seen = set->version;
                pg->on_set(pg->arg, set);
            } else {
                pg->host->log(IG_LOG_WARN, "apikey", "key watcher: %s", msg);
            }
        }
        fresh = 1;
        /* a notification that arrived during the read is kept for the wait below: the read's snapshot
         * may predate its change, so it costs one more read rather than a change missed until the resync */
        uint64_t until = pg->host->now_ms() + pg->resync_ms;
        int notified = 0;
        while (!atomic_load(&pg->stop) && PQstatus(c) == CONNECTION_OK) {
            /* first what libpq already holds (read along with the last query's answer) */
            for (PGnotify *n; (n = PQnotifies(c)) != NULL;) {
                notified = 1;
                PQfreemem(n);
            }
            uint64_t now = pg->host->now_ms();
            if (notified || now >= until)
                break;
            /* short slices so unload never waits long for this thread */
            int w = wait_readable(PQsocket(c), (int)(until - now < 200 ? until - now : 200));
            if (w < 0 || (w > 0 && PQconsumeInput(c) == 0)) {
                PQfinish(c);
                c = NULL;
                break;
            }
        }
        if (notified)
            fresh = 0;
    }
    PQfinish(c);
    return NULL;
}

int ak_pg_watch(ak_pg_t *pg, const ig_host_t *host, unsigned resync_ms, void (*on_set)(void *arg, ak_set_t *set),
                void *arg, char *msg, size_t cap)
{
    pg->host = host;
    pg->json = host->json;
    pg->resync_ms = resync_ms;
    pg->on_set = on_set;
    pg->arg = arg;
    if (pthread_create(&pg->thread, NULL, watch_main, pg) != 0) {
        snprintf(msg, cap, "cannot start the key watcher thread");
        return -1;
    }
    pg->watching = 1;
    return 0;
}
