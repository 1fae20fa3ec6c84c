/*
 * plugin_host.h — loads plugin shared objects and keeps them loaded.
 *
 * The host outlives configuration generations: a .so is dlopen'ed once,
 * the first time a configuration lists it, and stays mapped while any
 * generation refers to it. Instances (the plugin's init() state) belong to
 * generations, not to the host. Each loaded plugin counts the live
 * generations that use it; a plugin loaded from a file whose count is 0 is
 * unloaded (unload(), dlclose) by ig_plugin_host_collect on the main thread.
 */
#ifndef IG_PLUGIN_HOST_H
#define IG_PLUGIN_HOST_H

#include <stdatomic.h>
#include "infergate/plugin.h"
#include "config/errors.h"

typedef struct ig_loaded_plugin_s ig_loaded_plugin_t; /* also in config.h; C11 allows the repeat */

/* A plugin's function table as this core lays it out (ig_plugin_host_load fills it). */
typedef union {
    ig_engine_vtable_t engine;
    ig_lb_vtable_t lb;
    ig_auth_vtable_t auth;
    ig_ratelimit_vtable_t ratelimit;
    ig_billing_vtable_t billing;
} ig_plugin_vtable_t;

struct ig_loaded_plugin_s {
    char *name;              /* as requested in plugins.load */
    char *path;              /* the file it came from ("builtin" for builtins) */
    void *dl;                /* dlopen handle; NULL for builtins */
    /*
     * The exported descriptor and its vtable, copied as this core's header lays them out: a plugin
     * built against an older header of this ABI version has shorter tables, and what it lacks reads
     * as NULL here, so the rest of the core never looks at sizes. desc points to desc_copy, whose
     * vtable points to vtable_copy.
     */
    const ig_plugin_t *desc;
    ig_plugin_t desc_copy;
    ig_plugin_vtable_t vtable_copy;
    void *process_state;     /* from desc->load(), released by desc->unload() when the .so goes */
    atomic_uint users;       /* live generations whose config lists it (any thread releases) */
    const void *base;        /* where the .so is mapped (dladdr), NULL for builtins */
    int pinned_logged;       /* collect said once that it keeps it (worker-exit hooks) */
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

/* A generation starts / stops using lp (generation.c). Release is the last touch of lp's code by that
 * generation: fini and model_free have returned. Any thread. */
void ig_plugin_retain(const ig_loaded_plugin_t *lp);
void ig_plugin_release(const ig_loaded_plugin_t *lp);

/*
 * Unloads every plugin loaded from a file that no live generation uses: its unload(process_state),
 * then dlclose. Builtins stay. Main thread, and never while a configuration is being loaded (a
 * config being parsed holds plugins it has not yet handed to a generation). Returns how many went;
 * each is logged at info level.
 */
size_t ig_plugin_host_collect(ig_plugin_host_t *host);

/* How many plugins are loaded now (builtins included). Main thread. */
size_t ig_plugin_host_count(const ig_plugin_host_t *host);

/* The table handed to every plugin entry point. */
const ig_host_t *ig_plugin_host_api(void);

/* A worker thread says which it is, for host->worker_loop() and worker_index(). */
struct uv_loop_s;
void ig_host_set_worker(struct uv_loop_s *loop, int index);
/* The calling thread's worker index, or -1 on any other thread. */
int ig_host_worker_index(void);
/* The calling worker's loop is about to end: runs (and forgets) what plugins registered on this thread
 * with host->on_worker_exit, in registration order. The worker then runs its loop until the handles
 * they closed are closed. */
void ig_host_run_worker_exit(void);
/*
 * The shared object holding code (a worker-exit hook) stays mapped until the process exits, even if
 * a reload drops its plugin: the hook runs only at exit. Any thread.
 */
void ig_plugin_pin(const void *code);

#endif
