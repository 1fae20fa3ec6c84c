/*
 * plugin_host.h — loads plugin shared objects and keeps them loaded.
 *
 * The host outlives configuration generations: a .so is dlopen'ed once,
 * the first time a configuration lists it, and stays mapped while any
 * generation refers to it. Instances (the plugin's init() state) belong to
 * generations, not to the host.
 */
#ifndef IG_PLUGIN_HOST_H
#define IG_PLUGIN_HOST_H

#include "infergate/plugin.h"
#include "errors.h"

typedef struct ig_loaded_plugin_s ig_loaded_plugin_t; /* also in config.h; C11 allows the repeat */

struct ig_loaded_plugin_s {
    char *name;              /* as requested in plugins.load */
    char *path;              /* the file it came from ("builtin" for builtins) */
    void *dl;                /* dlopen handle; NULL for builtins */
    const ig_plugin_t *desc; /* the exported descriptor */
    void *process_state;     /* from desc->load(), released by desc->unload() when the .so goes */
};

typedef struct ig_plugin_host_s ig_plugin_host_t;

/* api: the table handed to plugins' load() (ig_plugin_host_api() in the server; NULL where no
 * plugin with load() is expected, as in the config fuzzer). */
ig_plugin_host_t *ig_plugin_host_create(const ig_host_t *api);
void ig_plugin_host_free(ig_plugin_host_t *host);

/*
 * Loads <dir>/<name>.so (or returns it if already loaded from the same path).
 * Refuses a missing file, a missing IG_PLUGIN_SYMBOL, an ABI version other than
 * ours (naming both), a descriptor whose name differs from the file's, or a
 * malformed descriptor. Returns NULL with msg filled.
 */
const ig_loaded_plugin_t *ig_plugin_host_load(ig_plugin_host_t *host, const char *dir, const char *name,
                                              char *msg, size_t msgsize);

/*
 * Registers a descriptor linked into the binary under desc->name, checked like
 * a file would be. Later loads of that name return it without touching the
 * file system: unit tests and the fuzzer use this. NULL with msg on error.
 */
const ig_loaded_plugin_t *ig_plugin_host_add_builtin(ig_plugin_host_t *host, const ig_plugin_t *desc, char *msg,
                                                     size_t msgsize);

/* With allow = 0, loads of anything but builtins fail (the fuzzer must not dlopen what it invents). */
void ig_plugin_host_allow_files(ig_plugin_host_t *host, int allow);

/*
 * The plugin of kind `kind` among `loaded` whose name or alias equals `name`
 * case-insensitively, or NULL.
 */
const ig_loaded_plugin_t *ig_plugin_find(const ig_loaded_plugin_t *const *loaded, size_t n, ig_plugin_kind_t kind,
                                         const char *name);

/* The table handed to every plugin entry point. */
const ig_host_t *ig_plugin_host_api(void);

#endif
