/*
 * test_hex.c — util/hex.c: digit values over every byte, decoding (either case, a bad digit
 * anywhere refused) and encoding (lowercase, NUL-terminated), and the round trip.
 */
#include <stdint.h>
#include <string.h>

#include "ig_test.h"
#include "util/hex.h"

static void test_digit(void)
{
    for (int c = -128; c < 256; c++) {
        int want = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        CHECKF(ig_hex_digit(c) == want, "ig_hex_digit(%d) = %d, want %d", c, ig_hex_digit(c), want);
    }
    /* a plain (possibly signed) char holding a byte >= 0x80 is not a digit */
    CHECK(ig_hex_digit((char)0xC3) == -1);
}

static void test_decode(void)
{
    uint8_t out[4] = {0};
    CHECK(ig_hex_decode("00ff7fA0", 4, out) == 0);
    CHECK(out[0] == 0x00 && out[1] == 0xff && out[2] == 0x7f && out[3] == 0xa0);
    CHECK(ig_hex_decode("", 0, out) == 0);
    CHECK(ig_hex_decode("0g", 1, out) == -1);
    CHECK(ig_hex_decode("g0", 1, out) == -1);
    CHECK(ig_hex_decode("0011 2", 3, out) == -1);
    CHECK(ig_hex_decode("00112-", 3, out) == -1);
    /* only 2 * n digits are read: what follows does not matter */
    CHECK(ig_hex_decode("abZZ", 1, out) == 0 && out[0] == 0xab);
}

static void test_encode(void)
{
    const uint8_t in[] = {0x00, 0x01, 0xab, 0xff, 0x7e};
    char out[2 * sizeof(in) + 1];
    memset(out, 'x', sizeof(out));
    ig_hex_encode(in, sizeof(in), out);
    CHECK(strcmp(out, "0001abff7e") == 0);
    char empty[1] = {'x'};
    ig_hex_encode(in, 0, empty);
    CHECK(empty[0] == '\0');
}

static void test_round_trip(void)
{
    uint8_t all[256], back[256];
    char text[513];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    ig_hex_encode(all, sizeof(all), text);
    CHECK(strlen(text) == 512);
    CHECK(ig_hex_decode(text, sizeof(back), back) == 0);
    CHECK(memcmp(all, back, sizeof(all)) == 0);
    for (size_t i = 0; i < 512; i++) /* upper case decodes the same */
        if (text[i] >= 'a')
            text[i] = (char)(text[i] - 'a' + 'A');
    memset(back, 0, sizeof(back));
    CHECK(ig_hex_decode(text, sizeof(back), back) == 0);
    CHECK(memcmp(all, back, sizeof(all)) == 0);
}

int main(void)
{
    test_digit();
    test_decode();
    test_encode();
    test_round_trip();
    return ig_test_summary();
}
