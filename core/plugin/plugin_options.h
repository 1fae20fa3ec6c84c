/*
 * plugin_options.h — Fluent Bit-style config maps: options are declared
 * (ig_option_decl_t: name, type, default, description, bounds, offset), and
 * one parser reads YAML against the declarations into a struct, so every
 * option gets the same error messages ("file:line: plugins.options.vllm.timeout: ...")
 * and nobody sees bad input. Plugins declare theirs in their descriptor; the
 * core declares its own simple sections (server:, scheduler:) the same way
 * with ig_option_row_t, which adds what only the core needs.
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

/* ---- core sections: the same declarations, plus shapes only the core has ------------------- */

/* The C type a core row's value is stored as, when not the one plugin.h gives its option type. */
typedef enum {
    IG_FIELD_ABI = 0,  /* as plugin.h says (int64_t for INT, DURATION, SIZE) */
    IG_FIELD_UNSIGNED, /* unsigned (INT within 0..UINT_MAX) */
    IG_FIELD_SIZE_T    /* size_t (INT or SIZE, min >= 0) */
} ig_field_store_t;

enum {
    IG_ROW_OPTIONAL = 1, /* without default_value: absent leaves the field zeroed (instead of required) */
    IG_ROW_NONEMPTY = 2  /* IG_OPT_STRING: "" is refused ("must not be empty") */
};

typedef struct ig_option_row_s ig_option_row_t;

/*
 * Reads a value whose shape the option types cannot express (a list of
 * listeners, "auto" or a number, an enum, hashes). n is never NULL: an
 * absent key's default text is parsed as YAML and read the same way. out is
 * the section's struct (the row's offset names the main field; a reader may
 * also fill the field that counts it). 0, or -1 after reporting at n.
 */
typedef int (*ig_option_reader_t)(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path,
                                  const ig_option_row_t *row, void *out);

struct ig_option_row_s {
    ig_option_decl_t decl;          /* name, type, default (as in YAML), description, bounds, offset */
    ig_field_store_t store;
    unsigned flags;                 /* IG_ROW_* */
    ig_option_reader_t read;        /* custom reader, or NULL: by decl.type */
    const ig_option_row_t *section; /* a nested map declared as its own table (decl.type 0, no default):
                                       its struct is at decl.offset; absent or null gives its defaults */
    size_t size;                    /* section: sizeof its struct */
};

/* One row: name, type, default, description, min, max, the struct and its field. */
#define IG_ROW(name, type, dflt, desc, min, max, st, field) \
    {{(name), (type), (dflt), (desc), (min), (max), offsetof(st, field)}, IG_FIELD_ABI, 0, NULL, NULL, 0}
#define IG_ROW_AS(name, type, store, dflt, desc, min, max, st, field) \
    {{(name), (type), (dflt), (desc), (min), (max), offsetof(st, field)}, (store), 0, NULL, NULL, 0}
#define IG_ROW_FLAGS(name, type, flags, dflt, desc, st, field) \
    {{(name), (type), (dflt), (desc), 0, 0, offsetof(st, field)}, IG_FIELD_ABI, (flags), NULL, NULL, 0}
/* type documents the value (and what a missing-option message says); reader parses it */
#define IG_ROW_READ(name, type, flags, dflt, desc, min, max, st, field, reader) \
    {{(name), (type), (dflt), (desc), (min), (max), offsetof(st, field)}, IG_FIELD_ABI, (flags), (reader), NULL, 0}
/* a nested map: its rows, declared as their own table, fill the struct member field */
#define IG_ROW_SECTION(name, desc, st, field, rows) \
    {{(name), (ig_option_type_t)0, NULL, (desc), 0, 0, offsetof(st, field)}, IG_FIELD_ABI, 0, NULL, (rows), \
     sizeof(((st *)0)->field)}

/*
 * ig_options_parse for a core section: rows (terminated by {decl.name = NULL})
 * into out, a zeroed struct the caller owns. A map that is not a map is
 * reported and the defaults are filled in all the same. owner NULL words
 * messages as the core's own sections do ("server: unknown key "x"
 * (expected one of: ...)"); otherwise as for plugins. 0, or -1 after
 * reporting.
 */
int ig_options_parse_rows(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *map, int absent_line, const char *path,
                          const char *owner, const ig_option_row_t *rows, void *out);

/* ig_options_check_decls for rows into a size-byte struct (nested sections too); also checks that
 * each row's bounds fit its store. 0, or -1 with msg. */
int ig_options_check_rows(const ig_option_row_t *rows, size_t size, char *msg, size_t msgsize);

#endif
