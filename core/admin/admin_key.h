/*
 * admin_key.h — the admin key a gateway makes for itself when server.adminKeys is not set, so a
 * newcomer reaches the console in one step (as notebook servers print their token). Only its
 * SHA-256 is kept, in <stateDir>/admin-key.sha256 (0600, "sha256:<hex>"); the key itself is shown
 * once, at the start that made it.
 */
#ifndef IG_ADMIN_KEY_H
#define IG_ADMIN_KEY_H

#include <stddef.h>

#define IG_ADMIN_KEY_FILE "admin-key.sha256"
#define IG_ADMIN_KEY_PREFIX "igadm_"

/*
 * Loads the stored hash into hash, or makes a key (igadm_ + 32 random bytes base64url), stores its
 * hash and writes the key into key (cap >= 64) for the caller to print once; key is "" when the
 * hash was loaded. state_dir is created (0700) when missing. path gets the file's path.
 * 0, or -1 with msg.
 */
int ig_admin_key_setup(const char *state_dir, unsigned char hash[32], char *key, size_t cap, char *path,
                       size_t path_cap, char *msg, size_t msg_cap);

#endif
