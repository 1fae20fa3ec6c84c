#include "bl_export.h"
#include <stdio.h>
#include "util/file.h"
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* The open file for today, reopened when the UTC day changed. NULL when it cannot be opened. */
static FILE *file_for(bl_export_t *e, const ig_host_t *host, FILE **f, char day[11], const char *ext, int csv)
{
    char today[11];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    bl_format_day((int64_t)ts.tv_sec * 1000, today);
    if (*f != NULL && strcmp(day, today) == 0)
        return *f;
    if (*f != NULL)
        fclose(*f);
    char path[1200];
    snprintf(path, sizeof(path), "%s/usage-%s.%s", e->dir, today, ext);
    struct stat st;
    int fresh = stat(path, &st) != 0 || st.st_size == 0;
    *f = ig_file_append_private(path);
    if (*f == NULL) {
        host->log(IG_LOG_ERROR, "billing", "export file %s: cannot open it for appending", path);
        return NULL;
    }
    memcpy(day, today, 11);
    if (csv && fresh) {
        ig_buf_t b = {0};
        bl_record_csv_header(&b);
        fwrite(b.p, 1, b.len, *f);
        ig_buf_free(&b);
    }
    return *f;
}

void bl_export_write(bl_export_t *e, const ig_host_t *host, const bl_record_t *recs, size_t n)
{
    if (n == 0 || e->dir[0] == '\0')
        return;
    ig_buf_t b = {0};
    if (e->jsonl && file_for(e, host, &e->jf, e->jday, "jsonl", 0) != NULL) {
        for (size_t i = 0; i < n; i++) {
            bl_record_json(&b, &recs[i]);
            ig_buf_put(&b, "\n", 1);
        }
        if (fwrite(b.p, 1, b.len, e->jf) != b.len || fflush(e->jf) != 0)
            host->log(IG_LOG_ERROR, "billing", "export %s/usage-%s.jsonl: write failed", e->dir, e->jday);
    }
    b.len = 0;
    if (e->csv && file_for(e, host, &e->cf, e->cday, "csv", 1) != NULL) {
        for (size_t i = 0; i < n; i++)
            bl_record_csv(&b, &recs[i]);
        if (fwrite(b.p, 1, b.len, e->cf) != b.len || fflush(e->cf) != 0)
            host->log(IG_LOG_ERROR, "billing", "export %s/usage-%s.csv: write failed", e->dir, e->cday);
    }
    ig_buf_free(&b);
}

void bl_export_close(bl_export_t *e)
{
    if (e->jf)
        fclose(e->jf);
    if (e->cf)
        fclose(e->cf);
    e->jf = e->cf = NULL;
}

/* One file per format, written whole and renamed into place: a reader never sees half an invoice. */
static void write_whole(const bl_export_t *e, const ig_host_t *host, const char *number, const char *ext,
                        const ig_buf_t *b)
{
    char path[1200], tmp[1210];
    snprintf(path, sizeof(path), "%s/invoice-%s.%s", e->dir, number, ext);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    int ok = f != NULL && fwrite(b->p ? b->p : "", 1, b->len, f) == b->len;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        host->log(IG_LOG_ERROR, "billing", "export %s: write failed (the ledger has the invoice)", path);
        remove(tmp);
    }
}

void bl_export_invoice(const bl_export_t *e, const ig_host_t *host, const char *number, const ig_buf_t *json,
                       const ig_buf_t *csv)
{
    if (e->dir[0] == '\0')
        return;
    if (e->jsonl)
        write_whole(e, host, number, "json", json);
    if (e->csv)
        write_whole(e, host, number, "csv", csv);
}
