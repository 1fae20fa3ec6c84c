/*
 * Fuzz target: the multipart/form-data reader (core/multipart.c) and the audio request pass
 * (core/audio_request.c). Input: a Content-Type line, '\n', then the body. Invariants: every span
 * lies inside the body, parts come in order without overlapping, a parsed audio request has a
 * file part, a model and a known response_format, and every refusal is a 400 with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "http/audio_request.h"
#include "http/multipart.h"

static void check(int cond)
{
    if (!cond)
        abort();
}

static int inside(ig_str_t s, const char *b, size_t n)
{
    return s.ptr == NULL ? s.len == 0 : s.ptr >= b && s.ptr + s.len <= b + n;
}

static ig_audio_request_t audio;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t ctlen = nl ? (size_t)(nl - data) : size;
    size_t blen = nl ? size - ctlen - 1 : 0;
    /* private copies, so reads past either end are caught */
    char *ct = malloc(ctlen ? ctlen : 1), *body = malloc(blen ? blen : 1);
    memcpy(ct, data, ctlen);
    if (blen)
        memcpy(body, nl + 1, blen);

    char msg[200];
    ig_str_t boundary;
    if (ig_multipart_boundary(ct, ctlen, &boundary, msg, sizeof(msg)) == 0) {
        check(boundary.len >= 1 && boundary.len <= IG_MULTIPART_MAX_BOUNDARY && inside(boundary, ct, ctlen));
        ig_multipart_iter_t it;
        if (ig_multipart_init(&it, body, blen, boundary, msg, sizeof(msg)) == 0) {
            const char *prev_end = body;
            ig_form_part_t part;
            int rc;
            while ((rc = ig_multipart_next(&it, &part, msg, sizeof(msg))) == 1) {
                check(part.name.ptr != NULL && inside(part.name, body, blen) && inside(part.filename, body, blen));
                check(inside(part.content_type, body, blen) && inside(part.value, body, blen));
                check(inside(part.whole, body, blen) && part.whole.ptr >= prev_end);
                check(part.value.ptr >= part.whole.ptr && part.value.ptr + part.value.len == part.whole.ptr + part.whole.len);
                prev_end = part.whole.ptr + part.whole.len;
            }
            check(rc == 0 || msg[0] != '\0');
        }
    }
    for (int api = 0; api < 2; api++) {
        ig_openai_request_t req;
        ig_request_error_t err;
        int rc = ig_audio_request_parse(api ? IG_API_AUDIO_TRANSLATIONS : IG_API_AUDIO_TRANSCRIPTIONS, ct, ctlen, body, blen,
                                        &req, &audio, &err);
        if (rc != 0) {
            check(err.status == 400 && err.message[0] != '\0');
            continue;
        }
        check(audio.file != NULL && audio.file->filename.ptr != NULL && audio.model != NULL);
        check(req.model_name_len > 0 && req.model_name_len < sizeof(req.model_name) && req.model_name[req.model_name_len] == 0);
        check(audio.nparts <= IG_AUDIO_MAX_PARTS && (req.stream == 0 || req.stream == 1));
        check(strstr(ig_audio_response_formats, "json") && audio.response_format.len > 0);
        for (size_t i = 0; i < audio.nparts; i++)
            check(inside(audio.parts[i].value, body, blen));
    }
    free(ct);
    free(body);
    return 0;
}
