/*
 * util/file.h — files that hold keys or money: readable and writable by their owner only (0600),
 * whatever the process's umask, whether this process created them or found them wider.
 */
#ifndef IG_UTIL_FILE_H
#define IG_UTIL_FILE_H

#include <stdio.h>

/* path exists afterwards as a regular file with mode 0600: created empty when missing, narrowed
 * when wider (symlinks are not followed). 0, or -1 with errno. */
int ig_file_private(const char *path);

/* ig_file_private for an SQLite database and the -wal and -shm files next to it that exist (SQLite
 * gives the ones it creates later the database's mode). ":memory:" is left alone. 0, or -1 with errno. */
int ig_file_private_sqlite(const char *path);

/* mkdir -p: dir and its missing parents made 0700 (state folders hold keys and money). 0, or -1
 * with msg "the path is empty or too long" or "cannot create <path>: <reason>". */
int ig_dir_private(const char *dir, char *msg, size_t cap);

/* fopen(path, "a") on a file ig_file_private made 0600. NULL with errno. */
FILE *ig_file_append_private(const char *path);

#endif
