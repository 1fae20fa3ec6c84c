#include "util/file.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_private(const char *path, int flags)
{
    int fd = open(path, flags | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    struct stat st;
    /* the umask may have narrowed 0600, an older file may be wider: exactly 0600 either way */
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0)) {
        int e = S_ISREG(st.st_mode) ? errno : EINVAL;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int ig_file_private(const char *path)
{
    int fd = open_private(path, O_RDWR);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

int ig_file_private_sqlite(const char *path)
{
    if (strcmp(path, ":memory:") == 0)
        return 0;
    if (ig_file_private(path) != 0)
        return -1;
    static const char *const sides[] = {"-wal", "-shm"};
    for (size_t i = 0; i < 2; i++) {
        char side[4096];
        if ((size_t)snprintf(side, sizeof(side), "%s%s", path, sides[i]) >= sizeof(side))
            continue;
        if (chmod(side, 0600) != 0 && errno != ENOENT)
            return -1;
    }
    return 0;
}

FILE *ig_file_append_private(const char *path)
{
    int fd = open_private(path, O_WRONLY | O_APPEND);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "a");
    if (f == NULL)
        close(fd);
    return f;
}

int ig_dir_private(const char *dir, char *msg, size_t cap)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(path)) {
        snprintf(msg, cap, "the path is empty or too long");
        return -1;
    }
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(msg, cap, "cannot create %.400s: %s", path, strerror(errno));
            return -1;
        }
        path[i] = c;
    }
    return 0;
}
