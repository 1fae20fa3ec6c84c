/*
 * json_api.h — internal: the ig_json_api_t table the core hands to plugins
 * (through ig_host_t.json). Defined in json.c next to the functions it lists.
 */
#ifndef INFERGATE_JSON_API_H
#define INFERGATE_JSON_API_H

#include "infergate/json.h"

extern const ig_json_api_t ig_json_api;

#endif
