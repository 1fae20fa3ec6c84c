/*
 * endpoint_memory.h — what an engine plugin has learnt about each endpoint: "adapter sql is loaded
 * on http://10.0.0.5:8000", "tag llama3.2:1b is pulled on http://10.0.0.7:11434".
 *
 * Keyed by (endpoint URL, key string): the URL names the engine server whatever configuration
 * generation is serving, so the memory belongs in a plugin's process_state (plugin.h load/unload)
 * and survives reloads. One mutex, held for a hash lookup: every worker thread asks on every
 * request that needs it.
 *
 * An entry is UNKNOWN, PENDING (one request is finding out: the others wait rather than ask too),
 * YES or NO. epm_claim() is the only way from UNKNOWN to PENDING, so exactly one request finds out.
 */
#ifndef IG_ENDPOINT_MEMORY_H
#define IG_ENDPOINT_MEMORY_H

#include <stdint.h>
#include "infergate/plugin.h"

typedef struct epm_s epm_t;

typedef enum { EPM_UNKNOWN = 0, EPM_PENDING, EPM_YES, EPM_NO } epm_state_t;

epm_t *epm_create(void);
void epm_free(epm_t *m);

/*
 * The state of (endpoint, key). When nobody knows — never asked, forgotten, a PENDING older than
 * stale_ms (its request vanished), or a NO older than no_ttl_ms (worth asking again) — the entry
 * becomes PENDING and EPM_UNKNOWN is returned: the caller must find out and epm_set() the answer
 * (or epm_forget() it). Returns EPM_NO also when out of memory (nothing is remembered then).
 */
epm_state_t epm_claim(epm_t *m, const char *endpoint, ig_str_t key, uint64_t now_ms, uint64_t stale_ms,
                      uint64_t no_ttl_ms);
void epm_set(epm_t *m, const char *endpoint, ig_str_t key, epm_state_t state, uint64_t now_ms);
/* Back to UNKNOWN: the engine restarted, answered "not found", or the check failed. */
void epm_forget(epm_t *m, const char *endpoint, ig_str_t key);
/* Forgets every key of an endpoint (it turned unhealthy: it may come back without them). */
void epm_forget_endpoint(epm_t *m, const char *endpoint);

#endif
