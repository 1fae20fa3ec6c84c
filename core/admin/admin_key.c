/* admin_key.c — the generated admin key, stored hashed (admin_key.h). */
#include "admin/admin_key.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "admin/sessions.h"
#include "util/file.h"
#include "util/hex.h"


static int read_hash(const char *path, unsigned char hash[32], char *msg, size_t cap)
{
    char text[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(msg, cap, "%s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n < 0)
        n = 0;
    text[n] = '\0';
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' '))
        text[--n] = '\0';
    if (n != 7 + 64 || strncmp(text, "sha256:", 7) != 0 || ig_hex_decode(text + 7, 32, hash) != 0) {
        snprintf(msg, cap, "%s: expected one line \"sha256:<64 hex digits>\"; delete the file to get a new key", path);
        return -1;
    }
    return 0;
}

int ig_admin_key_setup(const char *state_dir, unsigned char hash[32], char *key, size_t cap, char *path,
                       size_t path_cap, char *msg, size_t msg_cap)
{
    key[0] = '\0';
    char dmsg[512];
    if (ig_dir_private(state_dir, dmsg, sizeof(dmsg)) != 0) {
        snprintf(msg, msg_cap, "server.stateDir: %s", dmsg);
        return -1;
    }
    size_t sl = strlen(state_dir);
    snprintf(path, path_cap, "%s%s%s", state_dir, sl && state_dir[sl - 1] == '/' ? "" : "/", IG_ADMIN_KEY_FILE);
    if (access(path, F_OK) == 0)
        return read_hash(path, hash, msg, msg_cap);

    unsigned char raw[32];
    if (cap < sizeof(IG_ADMIN_KEY_PREFIX) + IG_SESSION_TOKEN_LEN || RAND_bytes(raw, sizeof(raw)) != 1) {
        snprintf(msg, msg_cap, "cannot make an admin key: no randomness");
        return -1;
    }
    memcpy(key, IG_ADMIN_KEY_PREFIX, sizeof(IG_ADMIN_KEY_PREFIX) - 1);
    ig_base64url(raw, sizeof(raw), key + sizeof(IG_ADMIN_KEY_PREFIX) - 1);
    OPENSSL_cleanse(raw, sizeof(raw));
    SHA256((const unsigned char *)key, strlen(key), hash);
    char line[7 + 64 + 2] = "sha256:";
    ig_hex_encode(hash, 32, line + 7);
    line[7 + 64] = '\n';
    line[7 + 64 + 1] = '\0';

    /* written whole under a temporary name, then linked: two gateways starting at once on one
     * stateDir keep the first key, and nobody reads half a file */
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0 && fchmod(fd, 0600) != 0) { /* 0600 whatever the umask */
        close(fd);
        fd = -1;
    }
    if (fd < 0) {
        snprintf(msg, msg_cap, "cannot write %s: %s", tmp, strerror(errno));
        key[0] = '\0';
        return -1;
    }
    int ok = write(fd, line, strlen(line)) == (ssize_t)strlen(line) && fsync(fd) == 0;
    ok &= close(fd) == 0;
    int linked = ok ? link(tmp, path) : -1;
    int err = errno;
    unlink(tmp);
    if (!ok || (linked != 0 && err != EEXIST)) {
        snprintf(msg, msg_cap, "cannot write %s: %s", path, strerror(ok ? err : EIO));
        OPENSSL_cleanse(key, cap);
        key[0] = '\0';
        return -1;
    }
    if (linked != 0) { /* another start was first: its key stands */
        OPENSSL_cleanse(key, cap);
        key[0] = '\0';
        return read_hash(path, hash, msg, msg_cap);
    }
    return 0;
}
