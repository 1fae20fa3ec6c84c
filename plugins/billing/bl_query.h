/* bl_query — the admin routes' query values: times and months (the query string itself: util/query.h). */
#ifndef BL_QUERY_H
#define BL_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"

/* "YYYY-MM-DD" (midnight UTC), "YYYY-MM-DDTHH:MM:SSZ" or Unix seconds → Unix ms. 0 or -1 (a field
 * not exactly its digits, a day the month does not have, a year before 1970). */
int bl_parse_time(const char *s, int64_t *ms);
/* "YYYY-MM" in digits, with a real month. 0 or -1. */
int bl_parse_month(const char *s);

#endif
