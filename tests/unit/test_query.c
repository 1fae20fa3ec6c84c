/*
 * test_query.c — util/query.c: pairs decoded once ('+' a space, %XX), empty pieces skipped, a key
 * without '=' has the value "", and refusals naming the parameter: unknown (against the allowed
 * list), repeated, badly encoded, too many.
 */
#include <string.h>
#include "ig_test.h"
#include "util/query.h"

static char mem[4096];

static int parse(const char *q, const char *const *allowed, ig_query_t *out, ig_query_error_t *e)
{
    return ig_query_parse(q, strlen(q), allowed, mem, IG_QUERY_MEM(strlen(q)), out, e);
}

int main(void)
{
    static const char *const usage[] = {"customer", "start_date", "end_date", NULL};
    ig_query_t q;
    ig_query_error_t e;
    CHECK(parse("", usage, &q, &e) == 0 && q.n == 0);
    CHECK(ig_query_parse(NULL, 0, usage, mem, 2, &q, &e) == 0 && q.n == 0); /* an empty ig_str_t may be {NULL, 0} */
    CHECK(parse("customer=ac%6De&start_date=2026-11-01", usage, &q, &e) == 0 && q.n == 2);
    CHECK(strcmp(ig_query_get(&q, "customer"), "acme") == 0);
    CHECK(strcmp(ig_query_get(&q, "start_date"), "2026-11-01") == 0);
    CHECK(ig_query_get(&q, "end_date") == NULL);
    CHECK(parse("customer=a+b%2B&&end_date&", usage, &q, &e) == 0 && q.n == 2);
    CHECK(strcmp(ig_query_get(&q, "customer"), "a b+") == 0 && strcmp(ig_query_get(&q, "end_date"), "") == 0);
    /* unknown: named, decoded */
    CHECK(parse("customer=a&st%61rt=1", usage, &q, &e) == -1 && e.status == IG_QUERY_UNKNOWN &&
          strcmp(e.param, "start") == 0 && strcmp(ig_query_error_code(&e), "unknown_parameter") == 0);
    char msg[160];
    CHECK(strstr(ig_query_error_message(&e, msg, sizeof(msg)), "`start`") != NULL);
    /* no list: anything goes */
    CHECK(parse("x=1&y", NULL, &q, &e) == 0 && q.n == 2 && strcmp(ig_query_get(&q, "y"), "") == 0);
    /* repeated */
    CHECK(parse("customer=a&customer=b", usage, &q, &e) == -1 && e.status == IG_QUERY_REPEATED &&
          strcmp(e.param, "customer") == 0 && strcmp(ig_query_error_code(&e), "invalid_value") == 0);
    /* malformed: in a value (named by its key) or a key (named as written, unprintables as '?') */
    CHECK(parse("customer=%zz", usage, &q, &e) == -1 && e.status == IG_QUERY_MALFORMED &&
          strcmp(e.param, "customer") == 0);
    CHECK(parse("customer=%00", usage, &q, &e) == -1 && e.status == IG_QUERY_MALFORMED);
    CHECK(parse("a%0=1", NULL, &q, &e) == -1 && e.status == IG_QUERY_MALFORMED && strcmp(e.param, "a%0") == 0);
    /* too many */
    char many[400] = "";
    for (int i = 0; i <= IG_QUERY_MAX_PARAMS; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%sp%d=1", i ? "&" : "", i);
    CHECK(parse(many, NULL, &q, &e) == -1 && e.status == IG_QUERY_TOO_MANY);
    /* a long name is cut to fit, never overflows */
    char longname[200];
    memset(longname, 'k', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK(parse(longname, usage, &q, &e) == -1 && e.status == IG_QUERY_UNKNOWN && strlen(e.param) == sizeof(e.param) - 1);
    return ig_test_summary();
}
