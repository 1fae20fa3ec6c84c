/*
 * ak_pg.h — the apikey store in PostgreSQL (server.database), shared by every gateway of a fleet.
 *
 * Two connections: the writer's (admin writes and the read-back after them, used under the plugin's
 * write lock, like the SQLite connection) and the watcher's, on a thread of its own, which LISTENs on
 * channel infergate_keys and reads the whole store into a new set whenever another gateway's write is
 * notified, and every resync period as a safety net (a lost connection, a missed notification). Each
 * write bumps ak_version.v in its transaction; a set carries the version it was read at, so an older
 * read never replaces a newer set. Requests only ever read the set in memory.
 */
#ifndef AK_PG_H
#define AK_PG_H

#include "ak_set.h"
#include "infergate/plugin.h"

typedef struct ak_pg_s ak_pg_t;

/* Connects and applies the schema's migrations. NULL with msg. */
ak_pg_t *ak_pg_open(const char *url, const char *gateway_id, char *msg, size_t cap);
void ak_pg_close(ak_pg_t *pg);
ak_set_t *ak_pg_load(ak_pg_t *pg, const ig_json_api_t *j, char *msg, size_t cap);
int ak_pg_begin(ak_pg_t *pg);
/* Bumps the version, notifies every gateway and commits. */
int ak_pg_commit(ak_pg_t *pg);
void ak_pg_rollback(ak_pg_t *pg);
int ak_pg_put_customer(ak_pg_t *pg, const ak_customer_t *c);
int ak_pg_put_key(ak_pg_t *pg, const ak_key_t *k);
int ak_pg_put_grant(ak_pg_t *pg, const char *model, const char *customer, const ig_limits_t *limits, int64_t created);
int ak_pg_delete_grants(ak_pg_t *pg, const char *model, const char *customer);
const char *ak_pg_error(ak_pg_t *pg);
/* Starts the watcher: on_set(arg, set) from its thread with every set it reads (the callee owns it).
 * resync_ms: the periodic full read. 0 or -1 with msg. */
int ak_pg_watch(ak_pg_t *pg, const ig_host_t *host, unsigned resync_ms, void (*on_set)(void *arg, ak_set_t *set),
                void *arg, char *msg, size_t cap);

#endif
