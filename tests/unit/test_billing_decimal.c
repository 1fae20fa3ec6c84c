/*
 * The billing plugin's money arithmetic (plugins/billing/bl_decimal.c): prices parsed exactly,
 * costs multiplied in 128-bit integers, and sums that a double would get wrong come out exact.
 */
#include <string.h>
#include "bl_decimal.h"
#include "ig_test.h"

static const char *fmt(bl_i128_t v)
{
    static char buf[64];
    bl_dec_format(v, buf, sizeof(buf));
    return buf;
}

static void test_parse(void)
{
    int64_t u;
    CHECK(bl_dec_parse("0.000008", &u) == 0 && u == 8000000000LL);
    CHECK(bl_dec_parse("1", &u) == 0 && u == BL_DEC_SCALE);
    CHECK(bl_dec_parse("12.5", &u) == 0 && u == 12 * BL_DEC_SCALE + BL_DEC_SCALE / 2);
    CHECK(bl_dec_parse("0.000000000000001", &u) == 0 && u == 1);      /* 15 places: the unit */
    CHECK(bl_dec_parse("0.0000000000000010000", &u) == 0 && u == 1);  /* trailing zeros are fine */
    CHECK(bl_dec_parse("0.0000000000000001", &u) == -1);              /* finer than the unit */
    CHECK(bl_dec_parse(".5", &u) == 0 && u == BL_DEC_SCALE / 2);
    CHECK(bl_dec_parse("5.", &u) == 0 && u == 5 * BL_DEC_SCALE);
    CHECK(bl_dec_parse(NULL, &u) == 0 && u == 0);
    CHECK(bl_dec_parse("", &u) == 0 && u == 0);
    CHECK(bl_dec_parse(".", &u) == -1);
    CHECK(bl_dec_parse("1e-6", &u) == -1);
    CHECK(bl_dec_parse("-1", &u) == -1);
    CHECK(bl_dec_parse("1.2.3", &u) == -1);
    CHECK(bl_dec_parse("9223", &u) == 0 && u == 9223 * BL_DEC_SCALE);
    CHECK(bl_dec_parse("9224", &u) == -1); /* over INT64_MAX units */
    CHECK(bl_dec_parse("99999999999999999999999", &u) == -1);
}

static void test_format(void)
{
    CHECK(strcmp(fmt(0), "0") == 0);
    CHECK(strcmp(fmt(1), "0.000000000000001") == 0);
    CHECK(strcmp(fmt(BL_DEC_SCALE), "1") == 0);
    CHECK(strcmp(fmt(8000000000LL), "0.000008") == 0);
    CHECK(strcmp(fmt((bl_i128_t)12 * BL_DEC_SCALE + BL_DEC_SCALE / 2), "12.5") == 0);
    /* beyond int64: a sum of many records */
    bl_i128_t big = (bl_i128_t)INT64_MAX * 1000 + 7;
    CHECKF(strcmp(fmt(big), "9223372.036854775807007") == 0, "got %s", fmt(big));
    /* parse ∘ format is the identity on normalised strings */
    const char *samples[] = {"0.000008", "0.000024", "3.14159", "0.000000000000123", "42", NULL};
    for (int i = 0; samples[i]; i++) {
        int64_t u;
        bl_dec_parse(samples[i], &u);
        CHECKF(strcmp(fmt(u), samples[i]) == 0, "%s came back as %s", samples[i], fmt(u));
    }
}

static void test_cost(void)
{
    bl_prices_t p = {0};
    bl_dec_parse("0.000008", &p.prompt);
    bl_dec_parse("0.000024", &p.completion);
    bl_dec_parse("0.001", &p.request);
    /* 1000 prompt + 500 completion + one request: 0.008 + 0.012 + 0.001 */
    bl_quantities_t q = {1000, 500, 0, 0, 1};
    CHECKF(strcmp(fmt(bl_dec_cost(&p, &q)), "0.021") == 0, "got %s", fmt(bl_dec_cost(&p, &q)));

    /* cached tokens at the prompt price without input_cache_read, at their own price with it */
    bl_quantities_t qc = {1000, 0, 400, 0, 0};
    CHECK(strcmp(fmt(bl_dec_cost(&p, &qc)), "0.008") == 0);
    p.has_cache_read = 1;
    bl_dec_parse("0.000002", &p.input_cache_read);
    CHECKF(strcmp(fmt(bl_dec_cost(&p, &qc)), "0.0056") == 0, "got %s", fmt(bl_dec_cost(&p, &qc))); /* 600*8e-6 + 400*2e-6 */
    /* cached above prompt (a confused engine) is capped at prompt */
    bl_quantities_t qx = {10, 0, 50, 0, 0};
    CHECK(strcmp(fmt(bl_dec_cost(&p, &qx)), "0.00002") == 0);

    /* audio per second, from milliseconds, rounded half up at 1e-15 */
    bl_prices_t pa = {0};
    bl_dec_parse("0.0001", &pa.audio_per_second);
    bl_quantities_t qa = {0, 0, 0, 1500, 0};
    CHECK(strcmp(fmt(bl_dec_cost(&pa, &qa)), "0.00015") == 0);
    bl_dec_parse("0.000000000000001", &pa.audio_per_second); /* 1 unit per second */
    bl_quantities_t qh = {0, 0, 0, 500, 0};
    CHECK(bl_dec_cost(&pa, &qh) == 1); /* 0.5 unit rounds up */
    bl_quantities_t ql = {0, 0, 0, 499, 0};
    CHECK(bl_dec_cost(&pa, &ql) == 0);

    /* a million requests of 0.1 + 0.2 worth: a double drifts, this does not */
    bl_prices_t pd = {0};
    bl_dec_parse("0.1", &pd.prompt);
    bl_dec_parse("0.2", &pd.completion);
    bl_i128_t sum = 0;
    for (int i = 0; i < 1000000; i++) {
        bl_quantities_t one = {1, 1, 0, 0, 0};
        bl_i128_t c = bl_dec_cost(&pd, &one);
        if (c != (bl_i128_t)3 * BL_DEC_SCALE / 10) { /* 0.3 exactly, every time */
            CHECKF(0, "record %d cost %s", i, fmt(c));
            break;
        }
        sum += c;
    }
    CHECKF(sum == (bl_i128_t)300000 * BL_DEC_SCALE, "got %s", fmt(sum));
    CHECK(strcmp(fmt(sum), "300000") == 0);
    /* a price a double cannot hold, times a count a double rounds: 1000000007 × 0.000000123456789 */
    bl_prices_t pf = {0};
    bl_dec_parse("0.000000123456789", &pf.prompt);
    bl_quantities_t qf = {1000000007LL, 0, 0, 0, 0};
    CHECKF(strcmp(fmt(bl_dec_cost(&pf, &qf)), "123.456789864197523") == 0, "got %s", fmt(bl_dec_cost(&pf, &qf)));

    /* huge token counts do not overflow: 128-bit products */
    bl_prices_t ph = {0};
    bl_dec_parse("9000", &ph.completion);
    bl_quantities_t qb = {0, 1000000000000LL, 0, 0, 0};
    CHECKF(strcmp(fmt(bl_dec_cost(&ph, &qb)), "9000000000000000") == 0, "got %s", fmt(bl_dec_cost(&ph, &qb)));
}

int main(void)
{
    test_parse();
    test_format();
    test_cost();
    return ig_test_summary();
}
