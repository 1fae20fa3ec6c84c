/*
 * plugin_options.h — the core side of Fluent Bit-style config maps: a plugin
 * declares its options (ig_option_decl_t), the core parses and validates the
 * YAML against the declarations, so every plugin gets the same error messages
 * ("file:line: plugins.options.vllm.timeout: ...") and never sees bad input.
 */
#ifndef IG_PLUGIN_OPTIONS_H
#define IG_PLUGIN_OPTIONS_H

#include "infergate/plugin.h"
#include "util/arena.h"
#include "config/config_yaml.h"

/* Number of declarations before the terminating {name = NULL}; 0 for NULL. */
size_t ig_options_count(const ig_option_decl_t *decls);

/*
 * Parses map (a YAML map, or NULL when the config has none: defaults only)
 * against decls into a zeroed struct of size bytes allocated in a (strings
 * too): each value at its declaration's offset, as the type plugin.h names.
 * Unknown options are listed with the known ones; required ones
 * (default_value NULL) must be present; types and bounds are checked.
 * absent_line is where errors about a missing map point. Returns the struct,
 * or NULL after reporting. NULL or empty decls give a zeroed struct (one byte
 * when size is 0) unless map has keys.
 */
void *ig_options_parse(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                       const char *owner, const ig_option_decl_t *decls, size_t size);

/*
 * Checks declarations against the struct they write into (size bytes):
 * names present, unique, types known, each field inside the struct and
 * aligned for its type, min <= max, every default parses as its type and
 * lies within bounds. 0, or -1 with msg.
 */
int ig_options_check_decls(const ig_option_decl_t *decls, size_t size, char *msg, size_t msgsize);

#endif
