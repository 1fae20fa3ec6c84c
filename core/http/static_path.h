/*
 * static_path.h — which file of server.ui.dir a /ui/ or /portal/ URL names (static_files.h has the
 * table), or that it names none. No I/O: the rules alone, so they can be fuzzed.
 */
#ifndef IG_STATIC_PATH_H
#define IG_STATIC_PATH_H

#include <stddef.h>

typedef enum {
    IG_STATIC_FILE = 0,       /* out holds the path inside the folder: "console/app.js" */
    IG_STATIC_REDIRECT = 1,   /* "/ui" or "/portal": out holds where to ("/ui/") */
    IG_STATIC_REFUSED = -1    /* names nothing we serve: a 404 */
} ig_static_kind_t;

/*
 * raw: the path as sent (up to the query), which is checked for .. segments, encoded dots, slashes,
 * backslashes and NULs; path: h2o's normalized path, starting with /ui or /portal. Whatever is
 * accepted is relative, free of "." and ".." segments, hidden names and empty segments, and made
 * of A-Z a-z 0-9 . - _ ~ @ + and '/' only. *portal tells which of the two it is.
 */
ig_static_kind_t ig_static_map(const char *raw, size_t raw_len, const char *path, size_t len, char *out, size_t cap,
                               int *portal);

#endif
