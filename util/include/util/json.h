/*
 * util/json.h — the JSON scanner (util/json.c) for code linked with util: the functions declared in
 * infergate/json.h, and ig_json_api, the same functions as the table the core hands to plugins
 * (ig_host_t.json).
 */
#ifndef IG_UTIL_JSON_H
#define IG_UTIL_JSON_H

#include "infergate/json.h"

extern const ig_json_api_t ig_json_api;

#endif
