/*
 * models_pg.h — runtime models kept in PostgreSQL (server.database), shared by every gateway.
 *
 * Tables runtime_models(name primary key, manifest, version) and runtime_models_version (one row,
 * bumped by every write), migrated as component "core.runtime_models" (util/pg). A thread of its own
 * owns the connection: it makes the writes PUT/DELETE queue, LISTENs on ig_runtime_models (every
 * write NOTIFYs) and checks the version every 2 s besides (a lost notification, a reconnect); when
 * the version moved it reads the whole set and wakes the main thread, which takes it
 * (ig_models_pg_take) and builds a generation from it. The event loop never waits on the database.
 */
#ifndef IG_MODELS_PG_H
#define IG_MODELS_PG_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "config/config.h"

typedef struct ig_models_pg_s ig_models_pg_t;

/* A set read from the database: set.docs point into it. */
typedef struct ig_models_set_s {
    ig_runtime_set_t set;
    ig_runtime_doc_t *docs;
    uint64_t version;
} ig_models_set_t;

void ig_models_set_free(ig_models_set_t *ms);

/* Connects, migrates, reads the set (*out). Blocks: startup only. NULL with msg. */
ig_models_pg_t *ig_models_pg_open(const char *url, ig_models_set_t **out, char *msg, size_t cap);
/* Starts the thread; on_change runs on loop's thread when a newer set (or a write's outcome) is there. */
int ig_models_pg_start(ig_models_pg_t *p, uv_loop_t *loop, void (*on_change)(void *data), void *data);
/* The newest set the thread read and the main thread did not take yet, or NULL. Main thread. */
ig_models_set_t *ig_models_pg_take(ig_models_pg_t *p);

/* Queues a write: name's manifest (text NULL: deleted). One at a time. 0, or -1 (not started). */
int ig_models_pg_write(ig_models_pg_t *p, const char *name, const char *text, size_t len);
/* The queued write's outcome once committed or failed: 1 done (0 ok, -1 with msg), 0 pending. Main thread. */
int ig_models_pg_write_result(ig_models_pg_t *p, int *ok, char *msg, size_t cap);

/* Stops the thread (joins it) and closes the async handle on the loop. */
void ig_models_pg_close(ig_models_pg_t *p);
void ig_models_pg_free(ig_models_pg_t *p);

#endif
