/*
 * error_filter.h — turns the plain-text errors h2o itself produces (413 for a
 * body over its limit, 400 for a malformed request, ...) into OpenAI's error
 * shape, so a client never sees an error it cannot parse.
 */
#ifndef IG_ERROR_FILTER_H
#define IG_ERROR_FILTER_H

#include <h2o.h>

int ig_error_filter_register(h2o_pathconf_t *pathconf);

#endif
