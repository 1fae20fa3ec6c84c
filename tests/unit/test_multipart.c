/*
 * test_multipart.c — the multipart/form-data reader (core/multipart.c) and the audio request
 * pass on top of it (core/audio_request.c): boundaries from Content-Type, parts and their names,
 * empty and binary contents, preamble and epilogue, and every malformed shape refused with a
 * message rather than read past the end. Bodies are copied into exact-size blocks so an overread
 * is caught by the sanitizers.
 */
#include <stdlib.h>
#include <string.h>

#include "http/audio_request.h"
#include "ig_test.h"
#include "http/multipart.h"

static int str_is(ig_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static void test_boundary(void)
{
    char msg[200];
    ig_str_t b;
    const char *ct = "multipart/form-data; boundary=abc123";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == 0 && str_is(b, "abc123"));
    ct = "Multipart/Form-Data ;charset=utf-8; BOUNDARY=\"with space:ok\"";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == 0 && str_is(b, "with space:ok"));
    ct = "application/json";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == 1);
    ct = "multipart/mixed; boundary=x";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == 1);
    ct = "multipart/form-data";
    CHECKF(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == -1 && strstr(msg, "boundary"), "%s", msg);
    ct = "multipart/form-data; boundary=";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == -1);
    ct = "multipart/form-data; boundary=\"unterminated";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == -1);
    ct = "multipart/form-data; boundary=a; boundary=b";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == -1);
    ct = "multipart/form-data; boundary=\"ends in space \"";
    CHECK(ig_multipart_boundary(ct, strlen(ct), &b, msg, sizeof(msg)) == -1);
    char longb[128] = "multipart/form-data; boundary=";
    memset(longb + strlen(longb), 'x', 71);
    CHECK(ig_multipart_boundary(longb, strlen(longb), &b, msg, sizeof(msg)) == -1);
}

typedef struct {
    ig_form_part_t parts[16];
    size_t n;
    int rc;
    char msg[200];
} parsed_t;

static void parse(const char *body, size_t len, const char *boundary, parsed_t *out)
{
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    ig_multipart_iter_t it;
    memset(out, 0, sizeof(*out));
    out->rc = ig_multipart_init(&it, copy, len, (ig_str_t){boundary, strlen(boundary)}, out->msg, sizeof(out->msg));
    while (out->rc == 0) {
        int r = ig_multipart_next(&it, &out->parts[out->n], out->msg, sizeof(out->msg));
        if (r <= 0) {
            out->rc = r;
            break;
        }
        /* spans inside the body */
        ig_form_part_t *p = &out->parts[out->n];
        CHECK(p->value.ptr >= copy && p->value.ptr + p->value.len <= copy + len);
        CHECK(p->whole.ptr >= copy && p->whole.ptr + p->whole.len <= copy + len);
        if (++out->n == 16)
            break;
    }
    /* the spans are checked against the copy; the tests below read names, so keep values meaningful */
    for (size_t i = 0; i < out->n; i++) {
        ig_form_part_t *p = &out->parts[i];
        size_t off;
#define REBASE(s) if ((s).ptr) { off = (size_t)((s).ptr - copy); (s).ptr = body + off; }
        REBASE(p->name) REBASE(p->filename) REBASE(p->content_type) REBASE(p->value) REBASE(p->whole)
#undef REBASE
    }
    free(copy);
}

#define B "--XyZ"
static void test_parts(void)
{
    parsed_t r;
    const char ok[] = "preamble ignored\r\n" B "\r\n"
                      "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
                      "whisper-1\r\n" B "\r\n"
                      "content-disposition: form-data; name=\"file\"; filename=\"a b.wav\"\r\n"
                      "Content-Type: audio/wav\r\n\r\n"
                      "RIFF\0\r\n--Xy\r\nbinary\r\n" B "\r\n"
                      "Content-Disposition: form-data; name=empty\r\n\r\n"
                      "\r\n" B "--\r\nepilogue ignored";
    parse(ok, sizeof(ok) - 1, "XyZ", &r);
    CHECKF(r.rc == 0 && r.n == 3, "rc %d n %zu %s", r.rc, r.n, r.msg);
    CHECK(str_is(r.parts[0].name, "model") && str_is(r.parts[0].value, "whisper-1") && r.parts[0].filename.ptr == NULL);
    CHECK(str_is(r.parts[1].name, "file") && str_is(r.parts[1].filename, "a b.wav"));
    CHECK(str_is(r.parts[1].content_type, "audio/wav"));
    CHECK(r.parts[1].value.len == 19 && memcmp(r.parts[1].value.ptr, "RIFF\0\r\n--Xy\r\nbinary", 19) == 0);
    CHECK(str_is(r.parts[2].name, "empty") && r.parts[2].value.len == 0);
    CHECK(r.parts[0].whole.ptr[0] == '-' && r.parts[0].whole.ptr + r.parts[0].whole.len == r.parts[0].value.ptr + 9);

    /* an escaped quote inside a quoted name is kept as written */
    const char esc[] = B "\r\nContent-Disposition: form-data; name=\"a\\\"b\"\r\n\r\nv\r\n" B "--";
    parse(esc, sizeof(esc) - 1, "XyZ", &r);
    CHECK(r.rc == 0 && r.n == 1 && str_is(r.parts[0].name, "a\\\"b"));
    /* filename* (RFC 5987) alone marks a file; with filename, filename wins */
    const char ext[] = B "\r\nContent-Disposition: form-data; name=file; filename*=utf-8''%C3%A9.wav\r\n\r\nv\r\n"
                       B "\r\nContent-Disposition: form-data; name=f2; filename=\"a.wav\"; filename*=utf-8''b.wav\r\n\r\nv\r\n" B "--";
    parse(ext, sizeof(ext) - 1, "XyZ", &r);
    CHECK(r.rc == 0 && r.n == 2 && str_is(r.parts[0].filename, "utf-8''%C3%A9.wav") && str_is(r.parts[1].filename, "a.wav"));
    /* transport padding after a delimiter */
    const char pad[] = B " \t\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n" B "--";
    parse(pad, sizeof(pad) - 1, "XyZ", &r);
    CHECK(r.rc == 0 && r.n == 1);
    /* an empty form */
    const char none[] = B "--\r\n";
    parse(none, sizeof(none) - 1, "XyZ", &r);
    CHECK(r.rc == 0 && r.n == 0);
}

static void test_malformed(void)
{
    static const struct {
        const char *body, *why;
    } bad[] = {
        {"", "boundary"},
        {"no delimiter at all", "boundary"},
        {B, "delimiter"},
        {B "\r\nContent-Disposition: form-data; name=x\r\n\r\nvalue without a closing delimiter", "closing boundary"},
        {B "\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n" B, "delimiter"},
        {B "\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n" B "junk", "CRLF"},
        {B "\nContent-Disposition: form-data; name=x\n\nv\n" B "--", "CRLF"},
        {B "\r\nContent-Disposition: form-data; name=x\r\nno blank line", "blank line"},
        {B "\r\nContent-Type: text/plain\r\n\r\nv\r\n" B "--", "Content-Disposition"},
        {B "\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n" B "--", "form-data"},
        {B "\r\nContent-Disposition: form-data; filename=x\r\n\r\nv\r\n" B "--", "name"},
        {B "\r\nContent-Disposition: form-data; name=\"x\r\n\r\nv\r\n" B "--", "malformed"},
        {B "\r\nContent-Disposition: form-data;\r\n name=x\r\n\r\nv\r\n" B "--", "folded"},
        {B "\r\nContent-Disposition: form-data; name=x\r\nContent-Disposition: form-data; name=y\r\n\r\nv\r\n" B "--", "two"},
        {B "\r\nBad Header: x\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n" B "--", "invalid character"},
        {B "\r\n: x\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n" B "--", "no name"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        parsed_t r;
        parse(bad[i].body, strlen(bad[i].body), "XyZ", &r);
        CHECKF(r.rc == -1 && strstr(r.msg, bad[i].why) != NULL, "case %zu: rc %d msg '%s' (want '%s')", i, r.rc, r.msg,
               bad[i].why);
    }
    /* a header block over the limit */
    size_t n = IG_MULTIPART_MAX_HEADERS + 200;
    char *big = malloc(n + 64);
    size_t k = (size_t)sprintf(big, B "\r\nX-Long: ");
    memset(big + k, 'a', n);
    strcpy(big + k + n, "\r\n\r\nv\r\n" B "--");
    parsed_t r;
    parse(big, strlen(big), "XyZ", &r);
    CHECKF(r.rc == -1 && strstr(r.msg, "longer"), "%s", r.msg);
    free(big);
}

static int audio_parse(const char *ct, const char *body, ig_openai_request_t *o, ig_audio_request_t *a,
                       ig_request_error_t *e)
{
    return ig_audio_request_parse(IG_API_AUDIO_TRANSCRIPTIONS, ct, ct ? strlen(ct) : 0, body, strlen(body), o, a, e);
}

#define CT "multipart/form-data; boundary=XyZ"
#define FILEPART B "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n\r\nRIFF\r\n"
#define FIELD(n, v) B "\r\nContent-Disposition: form-data; name=\"" n "\"\r\n\r\n" v "\r\n"

static void test_audio_request(void)
{
    static ig_audio_request_t a;
    ig_openai_request_t o;
    ig_request_error_t e;
    CHECK(audio_parse(CT, FILEPART FIELD("model", " whisper-1 ") FIELD("stream", "True") FIELD("response_format", "srt") B "--",
                      &o, &a, &e) == 0);
    CHECK(strcmp(o.model_name, "whisper-1") == 0 && o.stream == 1 && str_is(a.response_format, "srt"));
    CHECK(a.file != NULL && str_is(a.file->value, "RIFF") && a.nparts == 4);
    CHECK(o.model.type == IG_JSON_INVALID && o.body.type == IG_JSON_INVALID);
    CHECK(audio_parse(CT, FILEPART FIELD("model", "m") B "--", &o, &a, &e) == 0 && str_is(a.response_format, "json") &&
          o.stream == 0);

    static const struct {
        const char *ct, *body, *param, *why;
    } bad[] = {
        {NULL, FILEPART FIELD("model", "m") B "--", NULL, "multipart/form-data"},
        {"application/json", "{}", NULL, "multipart/form-data"},
        {"multipart/form-data", FILEPART B "--", NULL, "boundary"},
        {CT, FIELD("model", "m") B "--", "file", "file"},
        {CT, FIELD("file", "not a file") FIELD("model", "m") B "--", "file", "file upload"},
        {CT, FILEPART B "--", "model", "model"},
        {CT, FILEPART FIELD("model", "  ") B "--", "model", "non-empty"},
        {CT, FILEPART FIELD("model", "a") FIELD("model", "b") B "--", "model", "more than once"},
        {CT, FILEPART FILEPART FIELD("model", "a") B "--", "file", "more than once"},
        {CT, FILEPART FIELD("model", "m") FIELD("stream", "maybe") B "--", "stream", "boolean"},
        {CT, FILEPART FIELD("model", "m") FIELD("response_format", "mp3") B "--", "response_format", "json, text, srt"},
        {CT, FILEPART FIELD("model", "m"), NULL, "malformed"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&e, 0, sizeof(e));
        int rc = audio_parse(bad[i].ct, bad[i].body, &o, &a, &e);
        CHECKF(rc == -1 && e.status == 400 && strstr(e.message, bad[i].why) != NULL &&
                   ((bad[i].param == NULL && e.param == NULL) || (bad[i].param && e.param && !strcmp(e.param, bad[i].param))),
               "case %zu: rc %d status %d param %s msg '%s'", i, rc, e.status, e.param ? e.param : "(null)", e.message);
    }
}

int main(void)
{
    test_boundary();
    test_parts();
    test_malformed();
    test_audio_request();
    return ig_test_summary();
}
