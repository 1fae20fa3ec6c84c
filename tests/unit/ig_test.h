/*
 * ig_test.h — the few helpers the plain-C unit tests share (no framework).
 *
 * Each test program calls CHECK / CHECKF as often as it likes and ends main()
 * with `return ig_test_summary();`, which prints "N passed, M failed" and
 * yields a non-zero exit status when anything failed. Failures are printed as
 * file:line so they can be clicked in an editor.
 */
#ifndef IG_TEST_H
#define IG_TEST_H

#include <stdarg.h>
#include <stdio.h>

static int ig_test_passed;
static int ig_test_failed;

#if defined(__GNUC__)
__attribute__((format(printf, 4, 5)))
#endif
static int ig_check_at(const char *file, int line, int ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        ig_test_passed++;
        return 1;
    }
    ig_test_failed++;
    fprintf(stderr, "%s:%d: FAIL: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 0;
}

/* CHECK(cond) reports the condition's text; CHECKF adds a printf-style message. */
#define CHECK(cond) ig_check_at(__FILE__, __LINE__, !!(cond), "%s", #cond)
#define CHECKF(cond, ...) ig_check_at(__FILE__, __LINE__, !!(cond), __VA_ARGS__)

static int ig_test_summary(void)
{
    printf("%d passed, %d failed\n", ig_test_passed, ig_test_failed);
    return ig_test_failed ? 1 : 0;
}

#endif
