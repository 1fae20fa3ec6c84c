/*
 * test_oac_audio.c — the audio half of plugins/common/openai_compat.c, with a fake host:
 * oac_wav_seconds on well-formed, padded, streamed, truncated and malformed RIFF/WAVE headers;
 * oac_prepare_form's splice (the spans point into the client's body, only the model's value
 * changes, the Content-Type carries the boundary, quoted when it must be) and the usage it reads
 * from verbose_json, vLLM's usage.seconds and streamed segments.
 */
#include <stdlib.h>
#include <string.h>

#include "ig_test.h"
#include "oac_test_host.h"

static int str_eq_lit(ig_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

static test_pool_t pool; /* freed at the end */

/* ---- WAV headers ------------------------------------------------------------------------------- */

static size_t put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
    return 4;
}

/* RIFF/WAVE, 16 kHz mono 16-bit; an optional odd-sized LIST chunk before data. */
static size_t make_wav(unsigned char *w, uint32_t data_size, size_t data_present, int list)
{
    size_t o = 0;
    memcpy(w, "RIFF", 4), o += 4;
    o += put32(w + o, 36 + data_size);
    memcpy(w + o, "WAVEfmt ", 8), o += 8;
    o += put32(w + o, 16);
    unsigned char fmt[16] = {1, 0, 1, 0};
    put32(fmt + 4, 16000);
    put32(fmt + 8, 32000);
    fmt[12] = 2, fmt[14] = 16;
    memcpy(w + o, fmt, 16), o += 16;
    if (list) {
        memcpy(w + o, "LIST", 4), o += 4;
        o += put32(w + o, 3);
        memcpy(w + o, "abc\0", 4), o += 4; /* 3 bytes + 1 pad */
    }
    memcpy(w + o, "data", 4), o += 4;
    o += put32(w + o, data_size);
    memset(w + o, 0x11, data_present);
    return o + data_present;
}

static void test_wav(void)
{
    static unsigned char w[70000];
    size_t n = make_wav(w, 48000, 48000, 0);
    CHECK(oac_wav_seconds((char *)w, n) == 1.5);
    n = make_wav(w, 48000, 48000, 1);
    CHECK(oac_wav_seconds((char *)w, n) == 1.5);
    n = make_wav(w, 0xFFFFFFFFu, 64000, 0); /* streamed: size unknown, the bytes present count */
    CHECK(oac_wav_seconds((char *)w, n) == 2.0);
    n = make_wav(w, 64000, 16000, 0); /* truncated upload */
    CHECK(oac_wav_seconds((char *)w, n) == 0.5);
    CHECK(oac_wav_seconds("ID3\x04\0\0\0\0\0\0mp3", 13) == -1);
    CHECK(oac_wav_seconds((char *)w, 11) == -1);
    n = make_wav(w, 100, 100, 0);
    memcpy(w + 12, "junk", 4); /* no fmt before data */
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    n = make_wav(w, 100, 100, 0);
    put32(w + 16, 8); /* fmt chunk too short */
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    n = make_wav(w, 100, 100, 1);
    put32(w + 40, 0x7FFFFFF0u); /* a chunk size past the end before data */
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    n = make_wav(w, 100, 100, 0);
    put32(w + 28, 0); /* byte rate 0 */
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    /* a byte rate the other fields do not give is refused, not billed: 1.5 s of 16 kHz mono 16-bit
     * audio claiming 4 GB/s would otherwise cost nothing (a decoder plays it at the sample rate) */
    n = make_wav(w, 48000, 48000, 0);
    put32(w + 28, 0xFFFFFFF0u);
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    n = make_wav(w, 48000, 48000, 0);
    w[32] = 4; /* block align 4 for mono 16-bit */
    put32(w + 28, 64000);
    CHECK(oac_wav_seconds((char *)w, n) == -1);
    n = make_wav(w, 48000, 48000, 0);
    w[22] = 2, w[32] = 4; /* stereo: 4-byte frames, 64000 bytes a second: 0.75 s */
    put32(w + 28, 64000);
    CHECK(oac_wav_seconds((char *)w, n) == 0.75);
}

/* ---- the form splice ----------------------------------------------------------------------------- */

static ig_engine_req_t form_req(const char *body, const char *boundary, ig_form_part_t *parts, size_t nparts, int stream)
{
    ig_engine_req_t r;
    memset(&r, 0, sizeof(r));
    r.host = &oac_test_host;
    r.pool = &pool;
    r.api = IG_API_AUDIO_TRANSCRIPTIONS;
    r.raw_body = (ig_str_t){body, strlen(body)};
    r.boundary = (ig_str_t){boundary, strlen(boundary)};
    r.form = parts;
    r.nform = nparts;
    r.stream = stream;
    r.usage = (ig_usage_t){-1, -1, -1, -1};
    return r;
}

static void joined(const ig_engine_req_t *r, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < r->nupstream_body; i++) {
        memcpy(out + o, r->upstream_body[i].ptr, r->upstream_body[i].len);
        o += r->upstream_body[i].len;
    }
    out[o] = '\0';
}

static void test_prepare_form(void)
{
    const char *body = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                       "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n\r\nDATA\r\n--b--\r\n";
    const char *m = strstr(body, "whisper-1"), *f = strstr(body, "DATA");
    ig_form_part_t parts[2] = {{.name = {"model", 5}, .value = {m, 9}}, {.name = {"file", 4}, .filename = {"x.wav", 5}, .value = {f, 4}}};
    ig_error_t err;
    char out[1024];

    ig_engine_req_t r = form_req(body, "b", parts, 2, 0);
    CHECK(oac_prepare_form(&r, "/v1/audio/transcriptions", IG_STR("Systran/faster-whisper-small"), &err) == 0);
    joined(&r, out);
    CHECKF(strstr(out, "\r\n\r\nSystran/faster-whisper-small\r\n--b") != NULL && strstr(out, "whisper-1") == NULL, "%s", out);
    CHECK(strlen(out) == strlen(body) - 9 + 28);
    CHECK(r.nupstream_body == 3 && r.upstream_body[0].ptr == body && r.upstream_body[2].ptr == m + 9);
    CHECK(str_eq_lit(r.upstream_content_type, "multipart/form-data; boundary=\"b\""));
    CHECK(r.usage.audio_seconds == -1); /* "DATA" is no WAV */
    /* verbose_json's duration is billed, the answer passes through */
    oac_test_sink_t s = OAC_TEST_SINK;
    const char *ans = "{\"task\":\"transcribe\",\"duration\":\"7.25\",\"text\":\"hi\"}";
    oac_test_answer(&r, 200, ans, strlen(ans), strlen(ans), 1, &s);
    CHECK(r.usage.audio_seconds == 7.25 && s.out.len == strlen(ans) && memcmp(s.out.p, ans, s.out.len) == 0);

    /* same name: the body is forwarded as one span; the boundary is quoted as it must be here */
    r = form_req(body, "a b:c", parts, 2, 0);
    CHECK(oac_prepare_form(&r, "/v1/audio/transcriptions", IG_STR("whisper-1"), &err) == 0);
    CHECK(r.nupstream_body == 1 && r.upstream_body[0].ptr == body && r.upstream_body[0].len == strlen(body));
    CHECK(str_eq_lit(r.upstream_content_type, "multipart/form-data; boundary=\"a b:c\""));
    /* vLLM's usage.seconds */
    ig_buf_reset(&s.out);
    ans = "{\"text\":\"hi\",\"usage\":{\"type\":\"duration\",\"seconds\":3}}";
    oac_test_answer(&r, 200, ans, strlen(ans), strlen(ans), 1, &s);
    CHECK(r.usage.audio_seconds == 3);

    /* a stream of verbose_json events without a WAV header: the latest segment end */
    r = form_req(body, "b", parts, 2, 1);
    CHECK(oac_prepare_form(&r, "/v1/audio/transcriptions", IG_STR("whisper-1"), &err) == 0);
    ig_buf_reset(&s.out);
    const char *ev = "data: {\"duration\":2,\"segments\":[{\"start\":0,\"end\":2}]}\n\n"
                     "data: {\"duration\":1.5,\"segments\":[{\"start\":2,\"end\":3.5}]}\n\n";
    oac_test_answer(&r, 200, ev, strlen(ev), strlen(ev), 1, &s);
    CHECK(r.usage.audio_seconds == 3.5 && s.out.len == strlen(ev));
    ig_buf_free(&s.out);
}

/* A WAV upload is billed its header's duration only when the engine transcribed it: a refusal (404
 * "model not installed", 400) or no answer at all bills no audio. */
static void test_refused_bills_nothing(void)
{
    static unsigned char wav[40000];
    size_t n = make_wav(wav, 32000, 32000, 0); /* 1 s */
    static char body[41000];
    const char *head = "--b\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                       "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.wav\"\r\n\r\n";
    size_t hl = strlen(head);
    memcpy(body, head, hl);
    memset(body + hl, 'x', n); /* placeholder: the form part below points at the real bytes */
    strcpy(body + hl + n, "\r\n--b--\r\n");
    ig_form_part_t parts[2] = {{.name = {"model", 5}, .value = {strstr(body, "whisper-1"), 9}},
                               {.name = {"file", 4}, .filename = {"x.wav", 5}, .value = {(const char *)wav, n}}};
    ig_error_t err;
    oac_test_sink_t s = OAC_TEST_SINK;
    static const int statuses[] = {404, 400, 500, 0};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        for (int stream = 0; stream < 2; stream++) {
            ig_engine_req_t r = form_req(body, "b", parts, 2, stream);
            CHECK(oac_prepare_form(&r, "/v1/audio/transcriptions", IG_STR("whisper-1"), &err) == 0);
            CHECK(r.usage.audio_seconds == 1); /* read from the header at prepare */
            const char *ans = "{\"detail\":\"Model 'x' is not installed locally.\"}";
            ig_buf_reset(&s.out);
            oac_test_answer(&r, statuses[i], ans, strlen(ans), 3, statuses[i] != 0, &s);
            CHECKF(r.usage.audio_seconds == -1, "status %d stream %d: %g audio seconds", statuses[i], stream,
                   r.usage.audio_seconds);
        }
    }
    /* answered: the header's duration stands */
    ig_engine_req_t r = form_req(body, "b", parts, 2, 0);
    CHECK(oac_prepare_form(&r, "/v1/audio/transcriptions", IG_STR("whisper-1"), &err) == 0);
    ig_buf_reset(&s.out);
    oac_test_answer(&r, 200, "{\"text\":\"hi\"}", 13, 5, 1, &s);
    CHECK(r.usage.audio_seconds == 1);
    ig_buf_free(&s.out);
}

int main(void)
{
    test_wav();
    test_prepare_form();
    test_refused_bills_nothing();
    test_pool_free(&pool);
    return ig_test_summary();
}
