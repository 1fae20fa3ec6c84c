/*
 * plugin_host.c — dlopen()s plugins and checks their descriptors before
 * anything else touches them. A plugin built for another ABI may have a
 * different struct layout, so only abi_version (the first field, fixed
 * forever) is read until the version matches; then the descriptor and its
 * vtable are copied by their declared sizes into tables of this core's
 * layout (a shorter table from an older header reads as NULL at its end).
 *
 * Generations hold pointers into loaded objects (descriptors, vtables,
 * strings), and a reload that drops a plugin may still have requests running
 * on an older generation: so each loaded plugin counts the generations using
 * it, and an object is dlclose()d only by ig_plugin_host_collect, on the main
 * thread, once that count is 0 (the last generation's teardown has returned
 * from the plugin's fini). Until then it stays mapped.
 */
#include "plugin/plugin_host.h"
#include "observe/log.h"
#include "plugin/plugin_options.h"
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

struct ig_plugin_host_s {
    ig_loaded_plugin_t **items;
    size_t n, cap;
    int files_disabled; /* fuzzing: only builtins resolve */
    const ig_host_t *api;
};

ig_plugin_host_t *ig_plugin_host_create(const ig_host_t *api)
{
    ig_plugin_host_t *host = calloc(1, sizeof(ig_plugin_host_t));
    if (host)
        host->api = api;
    return host;
}

/* unload() with what load() made, then dlclose: nothing of the plugin may run afterwards. */
static void unload_plugin(ig_loaded_plugin_t *lp)
{
    if (lp->desc->unload)
        lp->desc->unload(lp->process_state);
    if (lp->dl)
        dlclose(lp->dl);
    free(lp->name);
    free(lp->path);
    free(lp);
}

/* At exit every generation is gone (server.c releases them first): unload in reverse load order. */
void ig_plugin_host_free(ig_plugin_host_t *host)
{
    if (!host)
        return;
    for (size_t i = host->n; i-- > 0;)
        unload_plugin(host->items[i]);
    free(host->items);
    free(host);
}

void ig_plugin_retain(const ig_loaded_plugin_t *lp)
{
    atomic_fetch_add_explicit(&((ig_loaded_plugin_t *)lp)->users, 1, memory_order_relaxed);
}

void ig_plugin_release(const ig_loaded_plugin_t *lp)
{
    /* release: the teardown's calls into the plugin happen before the main thread sees 0 */
    atomic_fetch_sub_explicit(&((ig_loaded_plugin_t *)lp)->users, 1, memory_order_release);
}

/* Shared objects pinned by ig_plugin_pin, by the address they are mapped at. */
static pthread_mutex_t pinned_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *pinned[64];
static size_t npinned;

void ig_plugin_pin(const void *code)
{
    Dl_info info;
    if (dladdr(code, &info) == 0 || info.dli_fbase == NULL)
        return;
    pthread_mutex_lock(&pinned_lock);
    size_t i = 0;
    while (i < npinned && pinned[i] != info.dli_fbase)
        i++;
    if (i == npinned && npinned < sizeof(pinned) / sizeof(pinned[0]))
        pinned[npinned++] = info.dli_fbase;
    pthread_mutex_unlock(&pinned_lock);
}

static int is_pinned(const void *base)
{
    pthread_mutex_lock(&pinned_lock);
    int found = 0;
    for (size_t i = 0; i < npinned && !found; i++)
        found = base != NULL && pinned[i] == base;
    pthread_mutex_unlock(&pinned_lock);
    return found;
}

size_t ig_plugin_host_collect(ig_plugin_host_t *host)
{
    size_t kept = 0, gone = 0;
    for (size_t i = 0; i < host->n; i++) {
        ig_loaded_plugin_t *lp = host->items[i];
        if (lp->dl == NULL || atomic_load_explicit(&lp->users, memory_order_acquire) != 0) {
            host->items[kept++] = lp;
            continue;
        }
        if (is_pinned(lp->base)) {
            /* its worker-exit hooks run only at exit: its code must still be there then */
            if (!lp->pinned_logged)
                ig_log_info("plugin %s: no configuration uses it any more; kept loaded until exit (it has "
                            "worker-exit hooks)", lp->name);
            lp->pinned_logged = 1;
            host->items[kept++] = lp;
            continue;
        }
        ig_log_info("plugin %s: no configuration uses it any more, unloading %s", lp->name, lp->path);
        unload_plugin(lp);
        gone++;
    }
    host->n = kept;
    return gone;
}

size_t ig_plugin_host_count(const ig_plugin_host_t *host)
{
    return host->n;
}

void ig_plugin_host_allow_files(ig_plugin_host_t *host, int allow)
{
    host->files_disabled = !allow;
}

static const char *kind_name(ig_plugin_kind_t k)
{
    switch (k) {
    case IG_PLUGIN_ENGINE:
        return "engine";
    case IG_PLUGIN_LB:
        return "lb";
    case IG_PLUGIN_AUTH:
        return "auth";
    case IG_PLUGIN_RATELIMIT:
        return "ratelimit";
    case IG_PLUGIN_BILLING:
        return "billing";
    }
    return "unknown";
}

/* Plugin names become file names: keep them to a harmless alphabet. */
static int valid_plugin_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return 0;
    }
    return 1;
}

/* The size of a table up to and including member: what ABI 3's first header had. */
#define SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))

static size_t vtable_min_size(ig_plugin_kind_t kind)
{
    switch (kind) {
    case IG_PLUGIN_ENGINE:
        return SIZE_THROUGH(ig_engine_vtable_t, launch);
    case IG_PLUGIN_LB:
        return SIZE_THROUGH(ig_lb_vtable_t, pick);
    case IG_PLUGIN_AUTH:
        return SIZE_THROUGH(ig_auth_vtable_t, cancel);
    case IG_PLUGIN_RATELIMIT:
        return SIZE_THROUGH(ig_ratelimit_vtable_t, cancel);
    case IG_PLUGIN_BILLING:
        return SIZE_THROUGH(ig_billing_vtable_t, record);
    }
    return 0;
}

/*
 * Copies the plugin's descriptor and vtable into lp's tables of this core's layout, by the sizes the
 * plugin declares: too short a table is refused, a longer one (a newer header) is read as far as this
 * core knows it. The ABI version was checked first.
 */
static int normalize(const ig_plugin_t *d, const char *name, const char *where, ig_plugin_t *dcopy,
                     ig_plugin_vtable_t *vcopy, char *msg, size_t msgsize)
{
    const size_t dmin = SIZE_THROUGH(ig_plugin_t, routes);
    if (d->size < dmin) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) declares a %zu-byte descriptor, shorter than ABI version %u's "
                 "%zu bytes", name, where, d->size, (unsigned)IG_PLUGIN_ABI_VERSION, dmin);
        return -1;
    }
    memset(dcopy, 0, sizeof(*dcopy));
    memcpy(dcopy, d, d->size < sizeof(*dcopy) ? d->size : sizeof(*dcopy));
    memset(vcopy, 0, sizeof(*vcopy));
    if (dcopy->vtable) {
        size_t vsize = *(const size_t *)dcopy->vtable, vmin = vtable_min_size(dcopy->kind);
        if (vmin && vsize < vmin) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s) declares a %zu-byte function table, shorter than ABI "
                     "version %u's %zu bytes for its kind", name, where, vsize, (unsigned)IG_PLUGIN_ABI_VERSION, vmin);
            return -1;
        }
        memcpy(vcopy, dcopy->vtable, vsize < sizeof(*vcopy) ? vsize : sizeof(*vcopy));
        dcopy->vtable = vcopy;
    }
    return 0;
}

/* Everything but the ABI version, which the caller checked first. */
static int check_descriptor(const ig_plugin_t *d, const char *name, const char *where, char *msg, size_t msgsize)
{
    char omsg[400];
    if (!d->name || strcmp(d->name, name) != 0) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) calls itself \"%s\"; a plugin's file must be named after it",
                 name, where, d->name ? d->name : "(null)");
        return -1;
    }
    switch (d->kind) {
    case IG_PLUGIN_ENGINE:
    case IG_PLUGIN_LB:
    case IG_PLUGIN_AUTH:
    case IG_PLUGIN_RATELIMIT:
    case IG_PLUGIN_BILLING:
        break;
    default:
        snprintf(msg, msgsize, "plugin \"%s\" (%s) has an invalid kind %d", name, where, (int)d->kind);
        return -1;
    }
    if (!d->vtable) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) has no %s function table", name, where, kind_name(d->kind));
        return -1;
    }
    const char *missing = NULL;
    if (d->kind == IG_PLUGIN_ENGINE) {
        const ig_engine_vtable_t *vt = d->vtable;
        const unsigned all = IG_FEATURE_TEXT_GENERATION | IG_FEATURE_TEXT_EMBEDDING | IG_FEATURE_RERANKING |
                             IG_FEATURE_SPEECH_TO_TEXT;
        if (!vt->prepare)
            missing = "prepare";
        else if (!vt->on_response_data)
            missing = "on_response_data";
        else if (!vt->on_response_end)
            missing = "on_response_end";
        else if (vt->features == 0 || (vt->features & ~all)) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s) declares invalid features 0x%x", name, where, vt->features);
            return -1;
        }
        if (!missing && vt->load_path && !vt->parse_load) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s) sets load_path but lacks parse_load()", name, where);
            return -1;
        }
        if (!missing) {
            const char *paths[] = {vt->health_path, vt->load_path};
            for (int i = 0; i < 2; i++)
                if (paths[i] && paths[i][0] != '/') {
                    snprintf(msg, msgsize, "plugin \"%s\" (%s): %s \"%.60s\" must start with '/'", name, where,
                             i == 0 ? "health_path" : "load_path", paths[i]);
                    return -1;
                }
        }
        if (!missing && d->model_options) {
            snprintf(msg, msgsize,
                     "plugin \"%s\" (%s) declares model_options, which only load-balancing plugins can have", name,
                     where);
            return -1;
        }
    } else if (d->kind == IG_PLUGIN_LB) {
        const ig_lb_vtable_t *vt = d->vtable;
        if (!vt->pick)
            missing = "pick";
    } else if (d->kind == IG_PLUGIN_AUTH) {
        const ig_auth_vtable_t *vt = d->vtable;
        if (!vt->authenticate)
            missing = "authenticate";
        else if (!vt->authorize_model)
            missing = "authorize_model";
    } else if (d->kind == IG_PLUGIN_RATELIMIT) {
        const ig_ratelimit_vtable_t *vt = d->vtable;
        if (!vt->admit)
            missing = "admit";
        else if (!vt->complete)
            missing = "complete";
    } else {
        const ig_billing_vtable_t *vt = d->vtable;
        if (!vt->record)
            missing = "record";
    }
    if (!missing && d->kind != IG_PLUGIN_LB && d->model_options) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) declares model_options, which only load-balancing plugins can have",
                 name, where);
        return -1;
    }
    for (size_t i = 0; !missing && d->routes && d->routes[i].path; i++) {
        const ig_route_decl_t *rt = &d->routes[i];
        if (rt->path[0] != '/' || !rt->handle || (rt->access != IG_ROUTE_PUBLIC && rt->access != IG_ROUTE_ADMIN && rt->access != IG_ROUTE_PRINCIPAL)) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s): routes[%zu] (\"%.60s\") needs a path starting with '/', "
                     "a handler and a valid access", name, where, i, rt->path);
            return -1;
        }
    }
    if (missing) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) lacks the required function %s()", name, where, missing);
        return -1;
    }
    for (size_t i = 0; d->aliases && d->aliases[i]; i++)
        if (!d->aliases[i][0]) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s) has an empty alias", name, where);
            return -1;
        }
    if (ig_options_check_decls(d->options, d->options_size, omsg, sizeof(omsg)) != 0) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s): options: %s", name, where, omsg);
        return -1;
    }
    if (d->model_options) {
        if (!d->model_options_key || !d->model_options_key[0] || strcmp(d->model_options_key, "strategy") == 0) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s) declares model_options without a usable model_options_key",
                     name, where);
            return -1;
        }
        if (ig_options_check_decls(d->model_options, d->model_options_size, omsg, sizeof(omsg)) != 0) {
            snprintf(msg, msgsize, "plugin \"%s\" (%s): model_options: %s", name, where, omsg);
            return -1;
        }
    }
    return 0;
}

static int check_abi(const ig_plugin_t *d, const char *name, const char *where, char *msg, size_t msgsize)
{
    if (d->abi_version != IG_PLUGIN_ABI_VERSION) {
        snprintf(msg, msgsize, "plugin \"%s\" (%s) was built for ABI version %u, this infergate speaks version %u",
                 name, where, (unsigned)d->abi_version, (unsigned)IG_PLUGIN_ABI_VERSION);
        return -1;
    }
    return 0;
}

/* Checks the exported descriptor d and keeps the plugin. NULL with msg (dl is the caller's to close). */
static const ig_loaded_plugin_t *remember(ig_plugin_host_t *host, const char *name, const char *path, void *dl,
                                          const ig_plugin_t *d, char *msg, size_t msgsize)
{
    ig_plugin_t dcopy;
    ig_plugin_vtable_t vcopy;
    if (check_abi(d, name, path, msg, msgsize) != 0 || normalize(d, name, path, &dcopy, &vcopy, msg, msgsize) != 0 ||
        check_descriptor(&dcopy, name, path, msg, msgsize) != 0)
        return NULL;
    if (host->n == host->cap) {
        size_t ncap = host->cap ? host->cap * 2 : 8;
        ig_loaded_plugin_t **items = realloc(host->items, ncap * sizeof(*items));
        if (!items)
            goto oom;
        host->items = items;
        host->cap = ncap;
    }
    ig_loaded_plugin_t *lp = calloc(1, sizeof(*lp));
    if (!lp)
        goto oom;
    lp->name = strdup(name);
    lp->path = strdup(path);
    if (!lp->name || !lp->path) {
        free(lp->name);
        free(lp->path);
        free(lp);
        goto oom;
    }
    lp->dl = dl;
    if (dl != NULL) {
        Dl_info info;
        if (dladdr(d, &info) != 0)
            lp->base = info.dli_fbase;
    }
    lp->desc_copy = dcopy;
    lp->vtable_copy = vcopy;
    if (lp->desc_copy.vtable)
        lp->desc_copy.vtable = &lp->vtable_copy;
    lp->desc = &lp->desc_copy;
    const ig_plugin_t *desc = lp->desc;
    if (desc->load) {
        ig_error_t err = {{0}};
        if (desc->load(host->api, &lp->process_state, &err) != 0) {
            snprintf(msg, msgsize, "plugin \"%s\" failed to load: %s", name, err.msg[0] ? err.msg : "(no message)");
            free(lp->name);
            free(lp->path);
            free(lp);
            return NULL;
        }
    }
    host->items[host->n++] = lp;
    return lp;
oom:
    snprintf(msg, msgsize, "plugin \"%s\": out of memory", name);
    return NULL;
}

const ig_loaded_plugin_t *ig_plugin_host_add_builtin(ig_plugin_host_t *host, const ig_plugin_t *desc, char *msg,
                                                     size_t msgsize)
{
    const char *name = desc->abi_version == IG_PLUGIN_ABI_VERSION && desc->name ? desc->name : "";
    for (size_t i = 0; i < host->n; i++)
        if (!host->items[i]->dl && strcmp(host->items[i]->name, name) == 0) {
            snprintf(msg, msgsize, "builtin plugin \"%s\" registered twice", name);
            return NULL;
        }
    return remember(host, name, "builtin", NULL, desc, msg, msgsize);
}

const ig_loaded_plugin_t *ig_plugin_host_load(ig_plugin_host_t *host, const char *dir, const char *name, char *msg,
                                              size_t msgsize)
{
    if (!valid_plugin_name(name)) {
        snprintf(msg, msgsize, "invalid plugin name \"%.80s\" (letters, digits, '_', '-', '.')", name);
        return NULL;
    }
    /* builtins win: they are how tests and the fuzzer avoid the file system */
    for (size_t i = 0; i < host->n; i++)
        if (!host->items[i]->dl && strcmp(host->items[i]->name, name) == 0)
            return host->items[i];

    char path[4096];
    int w = snprintf(path, sizeof(path), "%s/%s.so", dir, name);
    if (w < 0 || (size_t)w >= sizeof(path)) {
        snprintf(msg, msgsize, "plugin \"%s\": path is too long", name);
        return NULL;
    }
    for (size_t i = 0; i < host->n; i++)
        if (host->items[i]->dl && strcmp(host->items[i]->path, path) == 0)
            return host->items[i];
    if (host->files_disabled) {
        snprintf(msg, msgsize, "plugin \"%s\" is not built in and loading from files is disabled", name);
        return NULL;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(msg, msgsize, "plugin \"%s\": cannot open %s: %s", name, path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msgsize, "plugin \"%s\": %s is not a regular file", name, path);
        return NULL;
    }
    /* RTLD_NOW: an unresolved symbol fails here, with a message, not mid-request.
     * RTLD_LOCAL: plugins cannot see each other's symbols. */
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        const char *e = dlerror();
        snprintf(msg, msgsize, "plugin \"%s\": cannot load %s: %s", name, path, e ? e : "unknown dlopen error");
        return NULL;
    }
    dlerror();
    const ig_plugin_t *desc = dlsym(dl, IG_PLUGIN_SYMBOL);
    if (!desc) {
        const char *e = dlerror();
        snprintf(msg, msgsize, "plugin \"%s\" (%s) does not export %s: %s", name, path, IG_PLUGIN_SYMBOL,
                 e ? e : "symbol is NULL");
        dlclose(dl);
        return NULL;
    }
    const ig_loaded_plugin_t *lp = remember(host, name, path, dl, desc, msg, msgsize);
    if (!lp)
        dlclose(dl);
    return lp;
}

static int names_match(const ig_plugin_t *d, const char *name)
{
    if (strcasecmp(d->name, name) == 0)
        return 1;
    for (size_t i = 0; d->aliases && d->aliases[i]; i++)
        if (strcasecmp(d->aliases[i], name) == 0)
            return 1;
    return 0;
}

const ig_loaded_plugin_t *ig_plugin_find(const ig_loaded_plugin_t *const *loaded, size_t n, ig_plugin_kind_t kind,
                                         const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (loaded[i] && loaded[i]->desc->kind == kind && names_match(loaded[i]->desc, name))
            return loaded[i];
    return NULL;
}
