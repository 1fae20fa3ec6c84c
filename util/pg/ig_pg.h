/*
 * ig_pg.h — what the plugins that keep state in PostgreSQL (server.database) share: connecting with
 * bounded timeouts, and the versioned schema migrations each gateway applies itself.
 *
 * Migrations: a table schema_migrations(component, version) records what was applied. ig_pg_migrate
 * runs in one transaction under pg_advisory_xact_lock, so gateways starting together apply each
 * migration exactly once (the second waits for the first, then finds the versions there). Every
 * call here blocks: plugins call them from their own threads or at startup, never from a worker.
 */
#ifndef IG_PG_H
#define IG_PG_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    int version;        /* 1, 2, ... in order; never renumbered, never edited once released */
    const char *sql;    /* one or more statements */
} ig_pg_migration_t;

/* Connects to url (postgres://...) with a 3 s connect timeout and TCP keepalives; application_name
 * is app. NULL with msg on failure (the password is never part of msg). */
PGconn *ig_pg_connect(const char *url, const char *app, char *msg, size_t cap);
/* Applies the migrations of component newer than the database's. 0, or -1 with msg (nothing applied). */
int ig_pg_migrate(PGconn *c, const char *component, const ig_pg_migration_t *m, size_t n, char *msg, size_t cap);
/* A statement without rows. 0, or -1 with msg. */
int ig_pg_exec(PGconn *c, const char *sql, char *msg, size_t cap);
/* The connection's error as one line (libpq's ends with a newline) into msg. Returns msg. */
const char *ig_pg_error(PGconn *c, char *msg, size_t cap);

#endif
