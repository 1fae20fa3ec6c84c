#include "sim_multipart.h"

#include <string.h>
#include <strings.h>

/* Value of parameter `key` in "type; k=v; k2="v2"" (after the first ';'), or NULL. */
static const char *param(const char *s, const char *end, const char *key, size_t *len)
{
    size_t klen = strlen(key);
    const char *p = memchr(s, ';', (size_t)(end - s));
    while (p != NULL && p < end) {
        p++;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq == NULL)
            return NULL;
        int match = (size_t)(eq - p) == klen && strncasecmp(p, key, klen) == 0;
        const char *v = eq + 1, *ve;
        if (v < end && *v == '"') {
            v++;
            ve = v;
            while (ve < end && *ve != '"')
                ve += *ve == '\\' && ve + 1 < end ? 2 : 1;
            if (ve >= end)
                return NULL;
            p = ve + 1;
        } else {
            ve = v;
            while (ve < end && *ve != ';' && *ve != ' ')
                ve++;
            p = ve;
        }
        if (match) {
            *len = (size_t)(ve - v);
            return v;
        }
        p = memchr(p, ';', (size_t)(end - p));
    }
    return NULL;
}

int sim_form_parse(const char *ct, size_t ct_len, const char *body, size_t len, sim_form_t *out, const char **err)
{
    out->n = 0;
    const char *ct_end = ct + ct_len;
    if (ct_len < 19 || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        *err = "Content-Type is not multipart/form-data";
        return -1;
    }
    size_t blen;
    const char *b = param(ct, ct_end, "boundary", &blen);
    if (b == NULL || blen == 0 || blen > 200) {
        *err = "no boundary in Content-Type";
        return -1;
    }
    char delim[204];
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, b, blen);
    size_t dlen = blen + 4;
    const char *end = body + len;
    /* the first delimiter has no CRLF before it when there is no preamble */
    const char *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0) {
        p = body + dlen - 2;
    } else {
        const char *d = len ? memmem(body, len, delim, dlen) : NULL;
        if (d == NULL) {
            *err = "boundary not found in body";
            return -1;
        }
        p = d + dlen;
    }
    for (;;) {
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return 0; /* close delimiter */
        if (end - p < 2 || p[0] != '\r' || p[1] != '\n') {
            *err = "malformed delimiter";
            return -1;
        }
        p += 2;
        const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
        if (hend == NULL) {
            *err = "part headers not terminated";
            return -1;
        }
        if (out->n == SIM_FORM_MAX_FIELDS) {
            *err = "too many fields";
            return -1;
        }
        sim_form_field_t *f = &out->fields[out->n];
        memset(f, 0, sizeof(*f));
        /* Content-Disposition among the header lines (case-insensitive name) */
        for (const char *line = p; line < hend;) {
            const char *eol = memmem(line, (size_t)(hend + 2 - line), "\r\n", 2);
            if (eol - line > 20 && strncasecmp(line, "content-disposition:", 20) == 0) {
                f->name = param(line, eol, "name", &f->name_len);
                f->filename = param(line, eol, "filename", &f->filename_len);
            }
            line = eol + 2;
        }
        if (f->name == NULL) {
            *err = "part without a name";
            return -1;
        }
        const char *v = hend + 4;
        const char *d = memmem(v, (size_t)(end - v), delim, dlen);
        if (d == NULL) {
            *err = "part not terminated by the boundary";
            return -1;
        }
        f->value = v;
        f->value_len = (size_t)(d - v);
        out->n++;
        p = d + dlen;
    }
}

const sim_form_field_t *sim_form_get(const sim_form_t *f, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = f->n; i-- > 0;)
        if (f->fields[i].name_len == n && memcmp(f->fields[i].name, name, n) == 0)
            return &f->fields[i];
    return NULL;
}
