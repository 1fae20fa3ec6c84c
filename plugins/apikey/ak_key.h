/*
 * ak_key.h — API keys as secrets: making them, hashing them, reading them from request headers.
 *
 * A key is only ever stored as its SHA-256. Keys made here look like ig-<key id>-<secret>, the secret
 * being 32 bytes from OpenSSL's RAND_bytes in base64url; the id in front is informative (it tells an
 * operator which record a leaked key belongs to) and is never trusted: a key is found by its hash.
 */
#ifndef AK_KEY_H
#define AK_KEY_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"

#define AK_HASH_LEN 32
#define AK_KEY_MAX 512      /* longer presented keys are refused before hashing */
#define AK_SECRET_BYTES 32

/* SHA-256 of the key text. */
void ak_key_hash(const char *key, size_t len, uint8_t out[AK_HASH_LEN]);

/* Equal hashes, in time independent of where they differ (CRYPTO_memcmp). */
int ak_hash_equal(const uint8_t a[AK_HASH_LEN], const uint8_t b[AK_HASH_LEN]);

/* "sha256:<64 hex digits>" (either case) → 32 bytes. 0, or -1 with why. */
int ak_hash_parse(const char *s, size_t len, uint8_t out[AK_HASH_LEN], const char **why);

/* "sha256:<64 lowercase hex>" into buf (at least 72 bytes). */
void ak_hash_format(const uint8_t h[AK_HASH_LEN], char *buf);

/* A new key "ig-<id>-<secret>" into buf (cap bytes, NUL-terminated). 0, or -1 (no randomness, too small). */
int ak_key_generate(const char *id, char *buf, size_t cap);

/* Random lowercase hex id with a prefix ("k_" + 16 hex digits) for records the admin did not name. */
int ak_random_id(const char *prefix, char *buf, size_t cap);

/*
 * The presented key, from `Authorization: Bearer <key>` (scheme in any case) or else `X-API-Key`.
 * 1 with *key set, 0 when neither header carries one, -1 with *why when a header is malformed
 * (another scheme, an over-long or empty key).
 */
int ak_key_from_headers(ig_str_t authorization, ig_str_t api_key, ig_str_t *key, const char **why);

#endif
