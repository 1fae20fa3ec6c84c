/*
 * rl_memory.h — the in-process backend: counters for every scope in a table that lives in the
 * plugin's process_state, so a reload's new generation finds the windows of the old one.
 *
 * Threads: the table is split into shards, each with its own lock, held only to find or create an
 * entry; every entry has its own lock. An admission locks the entries of its scopes (at most four,
 * in address order so two admissions never deadlock), checks every limit, and counts the request
 * in all of them before unlocking: check-and-increment is atomic per scope, so concurrent requests
 * can never both take the last unit of a limit. Requests that share no scope never share a lock.
 */
#ifndef RL_MEMORY_H
#define RL_MEMORY_H

#include <stdint.h>
#include "rl_report.h"

typedef struct rl_table_s rl_table_t;
typedef struct rl_entry_s rl_entry_t;

enum { RL_CHARGE_TPM = 1, RL_CHARGE_TPH = 2, RL_HOLD_CONC = 4 };

/* What an admitted request holds until it ends: its scopes' entries (referenced) and what to undo. */
typedef struct {
    rl_entry_t *entry[RL_MAX_SCOPES];
    unsigned flags[RL_MAX_SCOPES];
    size_t n;
} rl_mem_ticket_t;

rl_table_t *rl_table_new(void);
void rl_table_free(rl_table_t *t);
/* Entries in the table now (for tests and logs). */
size_t rl_table_size(rl_table_t *t);

/*
 * Fills v->obs for v's scopes at now_ms and, when no limit is used up, counts the request in every
 * one of them. Returns 1 (admitted: tk holds the entries until rl_memory_complete), 0 (refused),
 * or -1 (out of memory: nothing counted, v->obs untouched).
 */
int rl_memory_admit(rl_table_t *t, rl_view_t *v, int64_t now_ms, rl_mem_ticket_t *tk);
/* Fills v->obs for v's scopes at now_ms as an admission would see them, counting nothing and making no
 * entry (a scope nobody used yet has used 0): what GET /v1/me shows. */
void rl_memory_peek(rl_table_t *t, rl_view_t *v, int64_t now_ms);
/* The request ended: charge tokens (>= 0) to the token windows, give back the concurrency slot. */
void rl_memory_complete(rl_table_t *t, rl_mem_ticket_t *tk, int64_t now_ms, int64_t tokens);

#endif
