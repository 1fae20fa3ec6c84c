/*
 * multipart.h — a strict, bounded reader of multipart/form-data bodies (RFC 7578 over RFC 2046).
 *
 * It finds the parts and their names without copying anything: every span it returns points
 * into the body, so a transcription's audio stays where h2o received it. Delimiters must be
 * CRLF-framed; a body that does not end with the close delimiter is refused.
 */
#ifndef IG_MULTIPART_H
#define IG_MULTIPART_H

#include <stddef.h>
#include "infergate/plugin.h"

#define IG_MULTIPART_MAX_BOUNDARY 70     /* RFC 2046 */
#define IG_MULTIPART_MAX_HEADERS 8192    /* bytes of one part's header block */

/*
 * The boundary parameter of a Content-Type value. 0 with *boundary (into ct, unquoted span; a
 * quoted boundary never holds escapes in practice and one that does is refused), 1 when the type
 * is not multipart/form-data, -1 when it is but the boundary is missing or invalid (msg says why).
 */
int ig_multipart_boundary(const char *ct, size_t len, ig_str_t *boundary, char *msg, size_t cap);

typedef struct {
    const char *body, *end;
    const char *cur;          /* start of the next part's delimiter line, or NULL once closed */
    ig_str_t boundary;
    size_t index;
} ig_multipart_iter_t;

/* Positions it on the first delimiter (a preamble before it is skipped). 0, or -1 with msg. */
int ig_multipart_init(ig_multipart_iter_t *it, const char *body, size_t len, ig_str_t boundary, char *msg, size_t cap);

/* 1 with *part filled, 0 after the close delimiter (the epilogue is ignored), -1 with msg. */
int ig_multipart_next(ig_multipart_iter_t *it, ig_form_part_t *part, char *msg, size_t cap);

/* 1 if the part's name (as written) equals name. */
int ig_form_name_is(const ig_form_part_t *part, const char *name);

#endif
