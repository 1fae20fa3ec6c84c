/* sim_multipart: reads a multipart/form-data request body the way Starlette does for FastAPI
 * engines (faster-whisper-server, vLLM): the boundary from the Content-Type, then each part's
 * name, filename and content.  Nothing is copied; spans point into the body. */
#ifndef SIM_MULTIPART_H
#define SIM_MULTIPART_H

#include <stddef.h>

#define SIM_FORM_MAX_FIELDS 32

typedef struct sim_form_field {
    const char *name;
    size_t name_len;
    const char *filename; /* NULL: a plain field */
    size_t filename_len;
    const char *value;
    size_t value_len;
} sim_form_field_t;

typedef struct sim_form {
    sim_form_field_t fields[SIM_FORM_MAX_FIELDS];
    size_t n;
} sim_form_t;

/* 0, or -1 with *err set to a static reason. */
int sim_form_parse(const char *content_type, size_t ct_len, const char *body, size_t len, sim_form_t *out,
                   const char **err);

/* The last field called `name`, or NULL. */
const sim_form_field_t *sim_form_get(const sim_form_t *f, const char *name);

#endif
