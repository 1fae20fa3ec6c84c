/*
 * ak_plugin.h — the apikey plugin's two states, shared by apikey.c (auth) and ak_admin.c (routes).
 *
 * Threads: authenticate/authorize_model and the admin routes run on worker threads at once.
 *  - The configuration's set (YAML) is immutable for its generation: read freely.
 *  - The stored set (SQLite) is an immutable snapshot behind proc->set_lock, a rwlock held only
 *    to look a key up and copy what the request needs into its pool (readers never wait for each
 *    other), or to take a reference for a listing. A writer builds the next snapshot outside the
 *    rwlock and holds it in write mode only to swap the pointer.
 *  - Admin writes are serialized by proc->write_lock, which also guards the SQLite connection.
 *    They run on threads of the core's pool (route_offload), never on a worker's event loop; the
 *    PostgreSQL watcher's thread swaps its sets under write_lock too.
 */
#ifndef AK_PLUGIN_H
#define AK_PLUGIN_H

#include <pthread.h>
#include "ak_set.h"
#include "ak_store.h"
#include "infergate/plugin.h"

typedef struct {
    const ig_host_t *host;
    pthread_mutex_t write_lock;
    pthread_rwlock_t set_lock;
    ak_set_t *stored;        /* never NULL once a store is open */
    ak_store_t *store;       /* opened by the first init() */
} ak_proc_t;

typedef struct {
    ak_proc_t *proc;
    const ig_host_t *host;
    ak_set_t *config;        /* customers and keys from plugins.options.apikey */
} ak_gen_t;

/* The stored set with a reference taken (release with ak_stored_release). */
ak_set_t *ak_stored_acquire(ak_proc_t *p);
void ak_stored_release(ak_set_t *s);
/* Replaces the stored set (caller holds write_lock). */
void ak_stored_swap(ak_proc_t *p, ak_set_t *next);

/* The admin routes (/admin/customers, /admin/keys, /admin/models), one handler for the three. */
int ak_admin(void *state, ig_http_exchange_t *x, ig_error_t *err);

#endif
