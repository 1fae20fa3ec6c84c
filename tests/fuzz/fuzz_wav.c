/*
 * Fuzz target: the duration of an uploaded WAV file read from its header (oac_wav_seconds in
 * plugins/common/openai_compat.c), which is what a transcription is billed. Input: the file's bytes.
 * Properties checked on every input:
 *  - the answer is -1 (not a WAV it can read) or a finite number of seconds >= 0;
 *  - billed is what plays: a duration is given only for a header whose fields agree (byte rate =
 *    sample rate x block align, block align = channels x bytes per sample), and it is the frames
 *    of the data chunk a decoder plays at the sample rate, within one frame;
 *  - a valid header is read: when the chunks walk to a "data" chunk after such a "fmt " chunk, the
 *    answer is not -1;
 *  - more of the upload never bills less: a prefix that has a duration has at most the whole's,
 *    and bytes appended after the file do not lower it.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "openai_compat.h"

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t le16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

/* oac_wav_seconds on an exact-size copy, so any read past the end is caught */
static double seconds(const uint8_t *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    memcpy(copy, p, n);
    double s = oac_wav_seconds(copy, n);
    free(copy);
    if (s != -1 && !(isfinite(s) && s >= 0))
        abort();
    return s;
}

/* What a decoder sees: the last "fmt " before the first "data" chunk, and the data bytes present.
 * 1 when both were found and the fmt chunk is whole, else 0. */
typedef struct {
    uint32_t channels, rate, byte_rate, align, bits;
    uint64_t bytes;
} wav_view_t;

static int decoder_view(const uint8_t *p, size_t n, wav_view_t *v)
{
    if (n < 12 || memcmp(p, "RIFF", 4) != 0 || memcmp(p + 8, "WAVE", 4) != 0)
        return 0;
    int have_fmt = 0;
    for (size_t off = 12; off + 8 <= n;) {
        uint32_t size = le32(p + off + 4);
        const uint8_t *id = p + off, *body = p + off + 8;
        size_t present = n - off - 8;
        if (memcmp(id, "fmt ", 4) == 0) {
            if (size < 16 || present < 16)
                return 0;
            v->channels = le16(body + 2);
            v->rate = le32(body + 4);
            v->byte_rate = le32(body + 8);
            v->align = le16(body + 12);
            v->bits = le16(body + 14);
            have_fmt = 1;
        } else if (memcmp(id, "data", 4) == 0) {
            v->bytes = size == UINT32_MAX || size > present ? present : size;
            return have_fmt;
        }
        if (size > present)
            return 0;
        off += 8 + (size_t)size + (size & 1);
    }
    return 0;
}

static int consistent(const wav_view_t *v)
{
    return v->channels >= 1 && v->rate >= 1 && v->bits >= 1 && v->align == v->channels * ((v->bits + 7) / 8) &&
           (uint64_t)v->byte_rate == (uint64_t)v->rate * v->align;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    double s = seconds(data, size);
    wav_view_t v = {0};
    int found = decoder_view(data, size, &v);
    if (s >= 0) {
        if (!found || !consistent(&v))
            abort(); /* a duration from a header a decoder would not play that way */
        double frames = (double)(v.bytes / v.align);
        if (fabs(s * v.rate - frames) > 1.0 + 1e-9 * frames)
            abort();
    } else if (found && consistent(&v)) {
        abort(); /* a readable header refused */
    }

    /* prefixes: never more than the whole */
    size_t cuts[3] = {size / 2, size > 0 ? size - 1 : 0, size > 44 ? 44 : size};
    for (int i = 0; i < 3; i++) {
        double p = seconds(data, cuts[i]);
        if (p >= 0 && !(s >= 0 && p <= s))
            abort();
    }
    /* bytes after the file: never less */
    if (s >= 0) {
        uint8_t *more = malloc(size + 64);
        memcpy(more, data, size);
        memset(more + size, 0x5a, 64);
        double m = seconds(more, size + 64);
        free(more);
        if (!(m >= s))
            abort();
    }
    return 0;
}
