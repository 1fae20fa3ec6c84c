/*
 * ig_pg.c — connecting to PostgreSQL and applying schema migrations (see ig_pg.h).
 */
#include "ig_pg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libpq's messages end with a newline and may hold more: one log line each */
static void one_line(char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t')
            *p = ' ';
}

const char *ig_pg_error(PGconn *c, char *msg, size_t cap)
{
    snprintf(msg, cap, "%s", c ? PQerrorMessage(c) : "out of memory");
    one_line(msg);
    return msg;
}

/* NOTICEs ("relation ... already exists, skipping") are not the gateway's business */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

PGconn *ig_pg_connect(const char *url, const char *app, char *msg, size_t cap)
{
    /* the URL's own parameters win over these defaults (expand_dbname) */
    const char *keys[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "application_name", "dbname", NULL};
    const char *vals[] = {"3", "5", "2", app, url, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char e[400];
        ig_pg_error(c, e, sizeof(e));
        snprintf(msg, cap, "server.database: cannot connect: %s", e);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}

int ig_pg_exec(PGconn *c, const char *sql, char *msg, size_t cap)
{
    PGresult *r = PQexec(c, sql);
    int ok = r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok) {
        char e[400];
        snprintf(msg, cap, "%s", r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : ig_pg_error(c, e, sizeof(e)));
        one_line(msg);
    }
    PQclear(r);
    return ok ? 0 : -1;
}

int ig_pg_migrate(PGconn *c, const char *component, const ig_pg_migration_t *m, size_t n, char *msg, size_t cap)
{
    char e[400];
    int failed = 0; /* the migration that failed, if one did */
    /* one lock for every component: CREATE TABLE IF NOT EXISTS itself races between sessions */
    if (ig_pg_exec(c, "BEGIN", e, sizeof(e)) != 0 ||
        ig_pg_exec(c, "SELECT pg_advisory_xact_lock(7236492018)", e, sizeof(e)) != 0 ||
        ig_pg_exec(c,
                   "CREATE TABLE IF NOT EXISTS schema_migrations(component text NOT NULL, version integer NOT NULL,"
                   " applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY(component, version))",
                   e, sizeof(e)) != 0)
        goto fail;
    const char *params[1] = {component};
    PGresult *r = PQexecParams(c, "SELECT coalesce(max(version), 0) FROM schema_migrations WHERE component = $1", 1,
                               NULL, params, NULL, NULL, 0);
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(e, sizeof(e), "%s", r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        goto fail;
    }
    int have = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    for (size_t i = 0; i < n; i++) {
        if (m[i].version <= have)
            continue;
        char v[16];
        snprintf(v, sizeof(v), "%d", m[i].version);
        const char *p2[2] = {component, v};
        if (ig_pg_exec(c, m[i].sql, e, sizeof(e)) != 0) {
            failed = m[i].version;
            goto fail;
        }
        r = PQexecParams(c, "INSERT INTO schema_migrations(component, version) VALUES($1, $2::integer)", 2, NULL, p2,
                         NULL, NULL, 0);
        int ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(e, sizeof(e), "%s", r ? PQresultErrorMessage(r) : "out of memory");
        PQclear(r);
        if (!ok)
            goto fail;
    }
    if (ig_pg_exec(c, "COMMIT", e, sizeof(e)) != 0)
        goto fail;
    return 0;
fail:
    ig_pg_exec(c, "ROLLBACK", msg, cap);
    if (failed)
        snprintf(msg, cap, "server.database: schema of %s, migration %d: %s", component, failed, e);
    else
        snprintf(msg, cap, "server.database: schema of %s: %s", component, e);
    one_line(msg);
    return -1;
}
