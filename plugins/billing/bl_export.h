/*
 * bl_export — copies of committed records in files: <dir>/usage-YYYY-MM-DD.jsonl and .csv, one
 * file per UTC day of writing (a new file at midnight), appended after each group commit; and each
 * issued invoice in files of its own.
 */
#ifndef BL_EXPORT_H
#define BL_EXPORT_H

#include <stdio.h>
#include "bl_record.h"

typedef struct {
    char dir[1024];
    int jsonl, csv;
    FILE *jf, *cf;
    char jday[11], cday[11];
} bl_export_t;

/* Writes the batch to the enabled files; logs (through host) what fails. */
void bl_export_write(bl_export_t *e, const ig_host_t *host, const bl_record_t *recs, size_t n);
void bl_export_close(bl_export_t *e);
/* An issued invoice as <dir>/invoice-<number>.json (with jsonl) and .csv (with csv). Any thread:
 * touches none of the daily files. */
void bl_export_invoice(const bl_export_t *e, const ig_host_t *host, const char *number, const ig_buf_t *json,
                       const ig_buf_t *csv);

#endif
