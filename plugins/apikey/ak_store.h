/*
 * ak_store.h — customers, keys and publications made through the admin API, in SQLite, or in
 * PostgreSQL with server.database (ak_pg.c; the same calls).
 *
 * One connection (WAL mode, state_dir/keys.db), used only under the plugin's writer lock, so it
 * needs no locking of its own. Writers wrap their statements in ak_store_begin/commit: a request
 * writes everything or nothing. After a commit the whole stored set is read back
 * (ak_store_load) and swapped in; admin writes are rare, and the set in memory can then never
 * disagree with the file.
 */
#ifndef AK_STORE_H
#define AK_STORE_H

#include "ak_set.h"
#include "infergate/json.h"

typedef struct ak_store_s ak_store_t;

/* dir NULL: an in-memory database (nothing survives exit). NULL with msg on failure. */
ak_store_t *ak_store_open(const char *dir, char *msg, size_t cap);
/* The same store in PostgreSQL (server.database, see ak_pg.h): every function below then goes there. */
ak_store_t *ak_store_open_pg(const char *url, const char *gateway_id, char *msg, size_t cap);
/* PostgreSQL only: reads of what other gateways wrote, handed to on_set from a thread of the store's
 * (see ak_pg_watch). 0 (nothing to watch for SQLite) or -1 with msg. */
int ak_store_watch(ak_store_t *st, const ig_host_t *host, void (*on_set)(void *arg, ak_set_t *set), void *arg,
                   char *msg, size_t cap);
void ak_store_close(ak_store_t *st);
const char *ak_store_path(const ak_store_t *st);

/* Everything stored, as a new sealed set. NULL with msg. */
ak_set_t *ak_store_load(ak_store_t *st, const ig_json_api_t *j, char *msg, size_t cap);

int ak_store_begin(ak_store_t *st);
int ak_store_commit(ak_store_t *st);
void ak_store_rollback(ak_store_t *st);
/* Insert or replace the whole record. 0 or -1 (ak_store_error says why). */
int ak_store_put_customer(ak_store_t *st, const ig_json_api_t *j, const ak_customer_t *c);
int ak_store_put_key(ak_store_t *st, const ig_json_api_t *j, const ak_key_t *k);
int ak_store_put_grant(ak_store_t *st, const ig_json_api_t *j, const char *model, const char *customer,
                       const ig_limits_t *limits, int64_t created);
/* Removes one customer's grant (customer != NULL) or the whole publication. Rows removed, or -1. */
int ak_store_delete_grants(ak_store_t *st, const char *model, const char *customer);
const char *ak_store_error(const ak_store_t *st);

#endif
