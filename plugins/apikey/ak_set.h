/*
 * ak_set.h — customers, keys and model publications as one immutable set.
 *
 * Two sets exist at a time: the one declared in YAML (per configuration generation, replaced on
 * reload) and the one stored in SQLite (process-wide, replaced by a new set after every admin
 * write). A set never changes after ak_set_seal(): worker threads read it without locks of their
 * own; see apikey.c for how the stored set is swapped.
 *
 * Keys are found by the SHA-256 of the presented key in an open-addressing table; the final
 * comparison of the 32 bytes is constant-time. (The probe order depends only on the hash of what
 * the client sent, which tells an attacker nothing about any stored key.)
 */
#ifndef AK_SET_H
#define AK_SET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "util/arena.h"
#include "ak_key.h"
#include "infergate/plugin.h"

#define AK_ID_MAX 64       /* ids: [A-Za-z0-9._-]{1,64} */
#define AK_NAME_MAX 256    /* names and model names: 1..256 bytes of UTF-8, no control characters */
#define AK_MODELS_MAX 256  /* entries in a key's models list or a publication's customers */

typedef enum { AK_SRC_CONFIG = 0, AK_SRC_API = 1 } ak_source_t;

typedef struct {
    const char *id, *name;
    ig_limits_t limits;
    int64_t created;          /* unix seconds; 0 for config */
    ak_source_t source;
} ak_customer_t;

typedef struct {
    const char *id, *customer, *name;
    uint8_t hash[AK_HASH_LEN];
    const char *const *models; /* NULL: every model the customer may see */
    size_t nmodels;
    ig_limits_t limits;
    int64_t created, expires, revoked; /* unix seconds; 0 = none */
    ak_source_t source;
} ak_key_t;

typedef struct {
    const char *customer;
    ig_limits_t limits;
} ak_grant_t;

/* A published model: visible only to its grants' customers. */
typedef struct {
    const char *model;
    ak_grant_t *grants;
    size_t ngrants;
    int64_t created;
} ak_publication_t;

typedef struct ak_set_s {
    ig_arena_t *arena;         /* every string and array below */
    ak_customer_t *customers;
    size_t ncustomers, capcustomers;
    ak_key_t *keys;
    size_t nkeys, capkeys;
    ak_publication_t *pubs;    /* sorted by model after seal */
    size_t npubs, cappubs;
    uint32_t *slots;           /* hash table: key index + 1, 0 empty */
    size_t nslots;
    atomic_uint refs;          /* readers that took it out of the lock (admin listings) */
    int64_t version;           /* PostgreSQL store: ak_version.v it was read at (0 for SQLite) */
} ak_set_t;

ak_set_t *ak_set_new(void);
void ak_set_free(ak_set_t *s);
/* Room for this many of each up front (a store read knows its row counts). 0 or -1. */
int ak_set_reserve(ak_set_t *s, size_t customers, size_t keys, size_t pubs);
/* Appends (copies nothing: strings must already be in s->arena). Pointer to the new slot or NULL. */
ak_customer_t *ak_set_add_customer(ak_set_t *s);
ak_key_t *ak_set_add_key(ak_set_t *s);
ak_publication_t *ak_set_add_pub(ak_set_t *s);
/* Builds the lookup structures. 0 or -1 (out of memory). */
int ak_set_seal(ak_set_t *s);

const ak_key_t *ak_set_key_by_hash(const ak_set_t *s, const uint8_t hash[AK_HASH_LEN]);
const ak_key_t *ak_set_key_by_id(const ak_set_t *s, const char *id, size_t len);
const ak_customer_t *ak_set_customer(const ak_set_t *s, const char *id, size_t len);
const ak_publication_t *ak_set_pub(const ak_set_t *s, const char *model, size_t len);
const ak_grant_t *ak_pub_grant(const ak_publication_t *p, const char *customer, size_t len);

#endif
