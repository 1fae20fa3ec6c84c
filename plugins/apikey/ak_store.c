/*
 * ak_store.c — the SQLite side of the apikey plugin (see ak_store.h).
 *
 * Schema (user_version 1). Limits and model lists are kept as the JSON the admin API speaks and
 * read back through the same strict readers, so a row that does not parse is reported, not guessed.
 * A publication is its grants: one row per (model, customer); a model with a row whose customer is
 * '' is published to nobody (hidden from every key).
 */
#define _POSIX_C_SOURCE 200809L
#include "ak_store.h"
#include "util/file.h"
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ak_buf.h"
#include "ak_parse.h"
#include "ak_pg.h"

struct ak_store_s {
    sqlite3 *db;
    ak_pg_t *pg;               /* set: PostgreSQL instead (db NULL) */
    char path[4096];
};

/* PostgreSQL stores: each public call below starts with this */
#define AK_PG_OR(call) \
    do { \
        if (st->pg) \
            return call; \
    } while (0)

ak_store_t *ak_store_open_pg(const char *url, const char *gateway_id, char *msg, size_t cap)
{
    ak_store_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    if (!(st->pg = ak_pg_open(url, gateway_id, msg, cap))) {
        free(st);
        return NULL;
    }
    snprintf(st->path, sizeof(st->path), "server.database");
    return st;
}

int ak_store_watch(ak_store_t *st, const ig_host_t *host, void (*on_set)(void *arg, ak_set_t *set), void *arg,
                   char *msg, size_t cap)
{
    /* 2 s: notifications carry changes within milliseconds; this only bounds what a lost one costs */
    return st->pg ? ak_pg_watch(st->pg, host, 2000, on_set, arg, msg, cap) : 0;
}

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS customers("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, limits TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keys("
    "  id TEXT PRIMARY KEY, customer TEXT NOT NULL, name TEXT, hash BLOB NOT NULL, models TEXT,"
    "  limits TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL DEFAULT 0,"
    "  revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS grants("
    "  model TEXT NOT NULL, customer TEXT NOT NULL, limits TEXT NOT NULL, created INTEGER NOT NULL,"
    "  PRIMARY KEY(model, customer));"
    "PRAGMA user_version = 1;";

ak_store_t *ak_store_open(const char *dir, char *msg, size_t cap)
{
    ak_store_t *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    if (dir) {
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            snprintf(msg, cap, "cannot create server.stateDir %s: %s", dir, strerror(errno));
            free(st);
            return NULL;
        }
        snprintf(st->path, sizeof(st->path), "%s/keys.db", dir);
    } else {
        snprintf(st->path, sizeof(st->path), ":memory:");
    }
    if (dir && ig_file_private_sqlite(st->path) != 0) { /* 0600 from the start: -wal and -shm take its mode */
        snprintf(msg, cap, "cannot create %s with mode 0600: %s", st->path, strerror(errno));
        free(st);
        return NULL;
    }
    int rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    char *err = NULL;
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(st->db, 2000);
        /* every admin write reads the whole store back: map it (no read syscall per 4 KB page) and
         * keep up to 64 MB of pages in the connection's cache across those reads */
        rc = sqlite3_exec(st->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA mmap_size=1073741824;"
                          " PRAGMA cache_size=-65536;",
                          NULL, NULL, &err);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(st->db, schema, NULL, NULL, &err);
    }
    if (rc != SQLITE_OK) {
        snprintf(msg, cap, "%s: %s", st->path, err ? err : st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        sqlite3_free(err);
        sqlite3_close(st->db);
        free(st);
        return NULL;
    }
    return st;
}

void ak_store_close(ak_store_t *st)
{
    if (!st)
        return;
    ak_pg_close(st->pg);
    sqlite3_close(st->db);
    free(st);
}

const char *ak_store_path(const ak_store_t *st)
{
    return st->path;
}

const char *ak_store_error(const ak_store_t *st)
{
    AK_PG_OR(ak_pg_error(st->pg));
    return sqlite3_errmsg(st->db);
}

static int exec(ak_store_t *st, const char *sql)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

int ak_store_begin(ak_store_t *st)
{
    AK_PG_OR(ak_pg_begin(st->pg));
    return exec(st, "BEGIN IMMEDIATE");
}

int ak_store_commit(ak_store_t *st)
{
    AK_PG_OR(ak_pg_commit(st->pg));
    return exec(st, "COMMIT");
}

void ak_store_rollback(ak_store_t *st)
{
    if (st->pg) {
        ak_pg_rollback(st->pg);
        return;
    }
    exec(st, "ROLLBACK");
}

/* ---- reading ---- */

static const char *col_text(sqlite3_stmt *s, int i, ig_arena_t *a)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? ig_arena_strndup(a, (const char *)t, (size_t)sqlite3_column_bytes(s, i)) : NULL;
}

/* A stored JSON column through the same reader as the API. */
static int col_limits(const ig_json_api_t *j, sqlite3_stmt *s, int i, ig_limits_t *out, ak_err_t *e)
{
    const char *t = (const char *)sqlite3_column_text(s, i);
    ig_json_value_t v;
    if (!t || j->validate_value(t, strlen(t), NULL, &v) != 0) {
        snprintf(e->msg, sizeof(e->msg), "limits: not JSON");
        return -1;
    }
    return ak_parse_limits(j, &v, "limits", out, e);
}

static int load_customers(ak_store_t *st, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT id, name, limits, created FROM customers ORDER BY id", -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ak_customer_t *c = ak_set_add_customer(set);
        ak_err_t e = {{0}};
        if (!c)
            break;
        c->id = col_text(s, 0, set->arena);
        c->name = col_text(s, 1, set->arena);
        c->created = sqlite3_column_int64(s, 3);
        c->source = AK_SRC_API;
        if (!c->id || !c->name || col_limits(j, s, 2, &c->limits, &e) != 0) {
            snprintf(msg, cap, "%s: customer row \"%s\" is unreadable: %s", st->path, c->id ? c->id : "?", e.msg);
            sqlite3_finalize(s);
            return -1;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int load_keys(ak_store_t *st, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "SELECT id, customer, name, hash, models, limits, created, expires, revoked FROM keys "
                           "ORDER BY created, id",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        ak_key_t *k = ak_set_add_key(set);
        ak_err_t e = {{0}};
        if (!k)
            break;
        k->id = col_text(s, 0, set->arena);
        k->customer = col_text(s, 1, set->arena);
        k->name = col_text(s, 2, set->arena);
        k->source = AK_SRC_API;
        int ok = k->id && k->customer && sqlite3_column_bytes(s, 3) == AK_HASH_LEN;
        if (ok)
            memcpy(k->hash, sqlite3_column_blob(s, 3), AK_HASH_LEN);
        const char *models = (const char *)sqlite3_column_text(s, 4);
        if (ok && models) {
            ig_json_value_t v;
            ok = j->validate_value(models, strlen(models), NULL, &v) == 0 &&
                 ak_parse_models(j, &v, "models", set->arena, &k->models, &k->nmodels, &e) == 0;
        }
        if (ok)
            ok = col_limits(j, s, 5, &k->limits, &e) == 0;
        k->created = sqlite3_column_int64(s, 6);
        k->expires = sqlite3_column_int64(s, 7);
        k->revoked = sqlite3_column_int64(s, 8);
        if (!ok) {
            snprintf(msg, cap, "%s: key row \"%s\" is unreadable %s", st->path, k->id ? k->id : "?", e.msg);
            sqlite3_finalize(s);
            return -1;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

static int load_grants(ak_store_t *st, const ig_json_api_t *j, ak_set_t *set, char *msg, size_t cap)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "SELECT model, customer, limits, created FROM grants ORDER BY model, customer", -1,
                           &s, NULL) != SQLITE_OK)
        return -1;
    int rc;
    ak_publication_t *p = NULL;
    size_t capg = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(s, 0);
        if (!model)
            continue;
        if (!p || strcmp(p->model, model) != 0) {
            p = ak_set_add_pub(set);
            if (!p)
                break;
            p->model = ig_arena_strdup(set->arena, model);
            p->created = sqlite3_column_int64(s, 3);
            capg = 0;
        }
        const char *customer = (const char *)sqlite3_column_text(s, 1);
        if (!customer || !*customer)
            continue; /* the marker row of a publication to nobody */
        if (p->ngrants == capg) {
            /* grants live in the arena: grow by copying (publications are small and rarely written) */
            size_t nc = capg ? capg * 2 : 8;
            ak_grant_t *g = ig_arena_array(set->arena, nc, sizeof(*g));
            if (!g)
                break;
            if (p->ngrants)
                memcpy(g, p->grants, p->ngrants * sizeof(*g));
            p->grants = g;
            capg = nc;
        }
        ak_grant_t *g = &p->grants[p->ngrants++];
        ak_err_t e = {{0}};
        g->customer = ig_arena_strdup(set->arena, customer);
        if (!g->customer || col_limits(j, s, 2, &g->limits, &e) != 0) {
            snprintf(msg, cap, "%s: grant of \"%s\" to \"%s\" is unreadable: %s", st->path, model, customer, e.msg);
            sqlite3_finalize(s);
            return -1;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* A row count, to size the arrays once (0 when unknown: they grow instead). */
static size_t count(ak_store_t *st, const char *sql)
{
    sqlite3_stmt *s;
    size_t n = 0;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return 0;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int64(s, 0) > 0)
        n = (size_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

ak_set_t *ak_store_load(ak_store_t *st, const ig_json_api_t *j, char *msg, size_t cap)
{
    AK_PG_OR(ak_pg_load(st->pg, j, msg, cap));
    ak_set_t *set = ak_set_new();
    msg[0] = '\0';
    if (!set) {
        snprintf(msg, cap, "out of memory");
        return NULL;
    }
    if (ak_set_reserve(set, count(st, "SELECT count(*) FROM customers"), count(st, "SELECT count(*) FROM keys"),
                       count(st, "SELECT count(DISTINCT model) FROM grants")) != 0 ||
        load_customers(st, j, set, msg, cap) != 0 || load_keys(st, j, set, msg, cap) != 0 ||
        load_grants(st, j, set, msg, cap) != 0 || ak_set_seal(set) != 0) {
        if (!msg[0])
            snprintf(msg, cap, "%s: %s", st->path, sqlite3_errmsg(st->db));
        ak_set_free(set);
        return NULL;
    }
    return set;
}

/* ---- writing ---- */

static int bind_limits(sqlite3_stmt *s, int i, const ig_limits_t *l)
{
    ak_buf_t b = {0};
    ak_buf_limits(&b, l);
    int rc = b.failed ? SQLITE_NOMEM : sqlite3_bind_text(s, i, b.p, (int)b.len, SQLITE_TRANSIENT);
    ig_buf_free(&b);
    return rc;
}

static int step_done(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ak_store_put_customer(ak_store_t *st, const ig_json_api_t *j, const ak_customer_t *c)
{
    AK_PG_OR(ak_pg_put_customer(st->pg, c));
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO customers(id, name, limits, created) VALUES(?,?,?,?)", -1,
                           &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, c->name, -1, SQLITE_STATIC);
    bind_limits(s, 3, &c->limits);
    sqlite3_bind_int64(s, 4, c->created);
    return step_done(s);
}

int ak_store_put_key(ak_store_t *st, const ig_json_api_t *j, const ak_key_t *k)
{
    AK_PG_OR(ak_pg_put_key(st->pg, k));
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db,
                           "INSERT OR REPLACE INTO keys(id, customer, name, hash, models, limits, created, expires, "
                           "revoked) VALUES(?,?,?,?,?,?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, k->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, k->customer, -1, SQLITE_STATIC);
    if (k->name)
        sqlite3_bind_text(s, 3, k->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, k->hash, AK_HASH_LEN, SQLITE_STATIC);
    ak_buf_t b = {0};
    if (k->models) {
        ak_buf_models(&b, k->models, k->nmodels);
        if (!b.failed)
            sqlite3_bind_text(s, 5, b.p, (int)b.len, SQLITE_TRANSIENT);
    }
    ig_buf_free(&b);
    bind_limits(s, 6, &k->limits);
    sqlite3_bind_int64(s, 7, k->created);
    sqlite3_bind_int64(s, 8, k->expires);
    sqlite3_bind_int64(s, 9, k->revoked);
    return step_done(s);
}

int ak_store_put_grant(ak_store_t *st, const ig_json_api_t *j, const char *model, const char *customer,
                       const ig_limits_t *limits, int64_t created)
{
    AK_PG_OR(ak_pg_put_grant(st->pg, model, customer, limits, created));
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO grants(model, customer, limits, created) VALUES(?,?,?,?)",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, customer, -1, SQLITE_STATIC);
    bind_limits(s, 3, limits);
    sqlite3_bind_int64(s, 4, created);
    return step_done(s);
}

int ak_store_delete_grants(ak_store_t *st, const char *model, const char *customer)
{
    AK_PG_OR(ak_pg_delete_grants(st->pg, model, customer));
    sqlite3_stmt *s;
    const char *sql = customer ? "DELETE FROM grants WHERE model = ? AND customer = ?" : "DELETE FROM grants WHERE model = ?";
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(s, 1, model, -1, SQLITE_STATIC);
    if (customer)
        sqlite3_bind_text(s, 2, customer, -1, SQLITE_STATIC);
    if (sqlite3_step(s) != SQLITE_DONE) {
        sqlite3_finalize(s);
        return -1;
    }
    sqlite3_finalize(s);
    return sqlite3_changes(st->db);
}
