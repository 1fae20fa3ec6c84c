/* test_file.c — files for keys and money are 0600 whatever the umask (util/file.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "util/file.h"
#include "ig_test.h"

static unsigned mode_of(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

int main(void)
{
    char dir[] = "/tmp/ig-test-file-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char a[256], b[256], wal[256], db[256];
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b.jsonl", dir);
    snprintf(db, sizeof(db), "%s/x.db", dir);
    snprintf(wal, sizeof(wal), "%s/x.db-wal", dir);

    umask(0); /* would give 0600 as asked... */
    CHECK(ig_file_private(a) == 0 && mode_of(a) == 0600);
    chmod(a, 0644); /* ...and an older, wider file is narrowed */
    CHECK(ig_file_private(a) == 0 && mode_of(a) == 0600);
    umask(0277); /* a umask narrower than 0600 does not make it 0400 */
    FILE *f = ig_file_append_private(b);
    CHECK(f != NULL && mode_of(b) == 0600);
    if (f)
        fclose(f);
    umask(022);
    FILE *w = fopen(wal, "w");
    if (w)
        fclose(w);
    chmod(wal, 0644);
    CHECK(ig_file_private_sqlite(db) == 0 && mode_of(db) == 0600 && mode_of(wal) == 0600);
    CHECK(ig_file_private_sqlite(":memory:") == 0);
    CHECK(ig_file_private(dir) == -1); /* not a regular file */
    unlink(a);
    unlink(b);
    unlink(db);
    unlink(wal);
    rmdir(dir);
    return ig_test_summary();
}
