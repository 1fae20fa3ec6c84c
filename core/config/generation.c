/*
 * generation.c — builds an immutable generation from a validated config:
 * plugin instances (init in plugins.load order), per-model engine and
 * strategy state, static endpoints, and the name lookup table. Everything
 * is all-or-nothing: a reload that fails anywhere leaves no trace, so the
 * old generation keeps serving.
 */
#include "util/file.h"
#include "config/generation.h"
#include "observe/log.h"
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/hash.h"

/* Where model i is, as messages show it. */
static void model_where(const ig_config_t *cfg, size_t i, char *path, size_t cap)
{
    if (cfg->models_dir || cfg->models[i].runtime)
        snprintf(path, cap, "spec");
    else
        snprintf(path, cap, "models[%zu]", i);
}

static int plugin_index(const ig_config_t *cfg, const ig_loaded_plugin_t *lp)
{
    for (size_t j = 0; j < cfg->nplugins; j++)
        if (cfg->plugins[j].plugin == lp)
            return (int)j;
    return -1;
}

/* Per-model progress, so teardown undoes exactly what was done. */
typedef struct {
    unsigned char engine_inited, lb_inited;
} model_progress_t;

static void teardown(ig_generation_t *gen, const model_progress_t *progress, size_t plugins_inited)
{
    ig_config_t *cfg = gen->config;
    for (size_t i = gen->nmodels; i-- > 0;) {
        ig_model_rt_t *rt = &gen->models[i];
        ig_model_t *model = &cfg->models[i].model;
        if (progress[i].lb_inited && rt->lb->model_free)
            rt->lb->model_free(rt->lb_plugin_state, model);
        if (progress[i].engine_inited && rt->engine->model_free)
            rt->engine->model_free(rt->engine_plugin_state, model);
        for (size_t e = 0; e < rt->nendpoints; e++)
            if (rt->endpoints[e])
                ig_endpoint_release(gen->endpoints, rt->endpoints[e]);
        free(rt->endpoints);
        ig_replica_set_release(rt->replicas);
    }
    /* reverse of init order: later plugins may depend on earlier ones */
    for (size_t j = plugins_inited; j-- > 0;)
        if (gen->plugins[j].desc && gen->plugins[j].desc->fini)
            gen->plugins[j].desc->fini(gen->plugins[j].state);
    /* nothing below calls into a plugin: from here the main thread may unload the ones no one uses */
    for (size_t j = 0; j < cfg->nplugins; j++)
        if (cfg->plugins[j].plugin)
            ig_plugin_release(cfg->plugins[j].plugin);
    free(gen->models);
    free(gen->plugins);
    free(gen->lookup);
    ig_address_index_free(&gen->addresses);
    free(gen->model_views);
    free(gen->ratelimits);
    free(gen->billings);
    ig_config_free(cfg);
    free(gen);
}

/* Every model's hosts and path prefix, for the router (the config refused clashes). */
static int build_addresses(ig_generation_t *gen)
{
    for (size_t i = 0; i < gen->nmodels; i++) {
        const ig_model_config_t *m = &gen->config->models[i];
        for (size_t k = 0; k < m->nhosts; k++)
            if (ig_address_index_add(&gen->addresses, 0, m->hosts[k], (uint32_t)i) != 0)
                return -1;
        if (m->path_prefix && ig_address_index_add(&gen->addresses, 1, m->path_prefix, (uint32_t)i) != 0)
            return -1;
    }
    ig_address_index_seal(&gen->addresses);
    return 0;
}

static int build_lookup(ig_generation_t *gen)
{
    size_t cap = 8;
    while (cap < gen->nmodels * 2)
        cap *= 2;
    gen->lookup = calloc(cap, sizeof(*gen->lookup));
    if (!gen->lookup)
        return -1;
    gen->lookup_mask = cap - 1;
    for (size_t i = 0; i < gen->nmodels; i++) {
        const char *name = gen->config->models[i].model.name;
        size_t slot = ig_fnv1a32(IG_FNV32_OFFSET, name, strlen(name)) & gen->lookup_mask;
        while (gen->lookup[slot])
            slot = (slot + 1) & gen->lookup_mask;
        gen->lookup[slot] = (uint32_t)i + 1; /* 0 marks an empty slot */
    }
    return 0;
}

/* server.stateDir made (mkdir -p, 0700), which plugins keep their files in (keys, ledger). */
static int make_state_dir(const char *dir, char *msg, size_t msgsize)
{
    if (ig_dir_private(dir, msg, msgsize) != 0)
        return -1;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msgsize, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* Which instances authenticate, limit and bill; at most one may authenticate. */
static int sort_roles(ig_generation_t *gen, ig_errors_t *errs)
{
    const ig_config_t *cfg = gen->config;
    gen->ratelimits = calloc(gen->nplugins + 1, sizeof(*gen->ratelimits));
    gen->billings = calloc(gen->nplugins + 1, sizeof(*gen->billings));
    gen->model_views = calloc(gen->nmodels + 1, sizeof(*gen->model_views));
    if (!gen->ratelimits || !gen->billings || !gen->model_views) {
        ig_errors_add(errs, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < gen->nmodels; i++)
        gen->model_views[i] = &cfg->models[i].model;
    for (size_t j = 0; j < gen->nplugins; j++) {
        const ig_plugin_instance_t *inst = &gen->plugins[j];
        switch (inst->desc->kind) {
        case IG_PLUGIN_AUTH:
            if (gen->auth) {
                ig_errors_at(errs, cfg->path, cfg->plugins[j].line,
                             "plugins.load[%zu]: \"%s\" is a second auth plugin (\"%s\" already authenticates); "
                             "load one", j, cfg->plugins[j].name, gen->auth->desc->name);
                return -1;
            }
            gen->auth = inst;
            break;
        case IG_PLUGIN_RATELIMIT:
            gen->ratelimits[gen->nratelimits++] = inst;
            break;
        case IG_PLUGIN_BILLING:
            gen->billings[gen->nbillings++] = inst;
            break;
        default:
            break;
        }
    }
    return 0;
}

ig_generation_t *ig_generation_build(ig_config_t *cfg, uint64_t id, ig_endpoint_registry_t *endpoints,
                                     ig_errors_t *errs)
{
    const ig_host_t *api = ig_plugin_host_api();
    size_t errs_before = errs->count;
    ig_generation_t *gen = calloc(1, sizeof(*gen));
    model_progress_t *progress = calloc(cfg->nmodels + 1, sizeof(*progress));
    if (!gen || !progress) {
        free(gen);
        free(progress);
        ig_config_free(cfg);
        ig_errors_add(errs, "out of memory");
        return NULL;
    }
    atomic_init(&gen->refcount, 1);
    for (size_t j = 0; j < cfg->nplugins; j++) /* released by teardown, whichever way it comes */
        if (cfg->plugins[j].plugin)
            ig_plugin_retain(cfg->plugins[j].plugin);
    gen->id = id;
    gen->created_at = (int64_t)time(NULL);
    gen->config = cfg;
    gen->endpoints = endpoints;
    gen->plugins = calloc(cfg->nplugins + 1, sizeof(*gen->plugins));
    gen->models = calloc(cfg->nmodels + 1, sizeof(*gen->models));
    size_t plugins_inited = 0;
    if (!gen->plugins || !gen->models) {
        ig_errors_add(errs, "out of memory");
        goto fail;
    }
    gen->nplugins = cfg->nplugins;
    gen->nmodels = cfg->nmodels;

    /* plugins find server.stateDir existing; only made when a plugin may keep state there */
    int wants_state = 0;
    for (size_t j = 0; j < cfg->nplugins; j++)
        wants_state |= cfg->plugins[j].plugin->desc->kind >= IG_PLUGIN_AUTH;
    char smsg[300];
    if (wants_state && cfg->server.state_dir && make_state_dir(cfg->server.state_dir, smsg, sizeof(smsg)) != 0) {
        ig_errors_at(errs, cfg->path, 1, "server.stateDir: %s", smsg);
        goto fail;
    }

    /* the gateway's name in shared state: as configured, or the host and the first port it listens on
     * (distinct for gateways sharing a machine) */
    char gateway_id[320];
    if (cfg->server.gateway_id) {
        snprintf(gateway_id, sizeof(gateway_id), "%s", cfg->server.gateway_id);
    } else {
        char host[256] = "localhost";
        if (gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(gateway_id, sizeof(gateway_id), "%s:%u", host, cfg->server.nlisten ? cfg->server.listen[0].port : 0u);
    }

    /* plugin instances, in plugins.load order; stop at the first failure (later ones may need it) */
    for (size_t j = 0; j < cfg->nplugins; j++) {
        const ig_plugin_config_t *pc = &cfg->plugins[j];
        ig_plugin_instance_t *inst = &gen->plugins[j];
        inst->desc = pc->plugin->desc;
        if (inst->desc->init) {
            ig_error_t err = {{0}};
            ig_plugin_init_t ctx = {
                .process_state = pc->plugin->process_state,
                .options = pc->options,
                .state_dir = cfg->server.state_dir,
                .workers = (unsigned)cfg->server.workers,
                .generation = id,
                .database = cfg->server.database,
                .gateway_id = gateway_id,
            };
            if (inst->desc->init(api, &ctx, &inst->state, &err) != 0) {
                ig_errors_at(errs, cfg->path, pc->line, "plugins.load[%zu]: plugin \"%s\" failed to start: %s", j,
                             pc->name, err.msg[0] ? err.msg : "(no message)");
                goto fail;
            }
        }
        plugins_inited = j + 1;
    }

    if (sort_roles(gen, errs) != 0)
        goto fail;

    /* per model: engine and strategy state, then static endpoints; collect every failure */
    for (size_t i = 0; i < cfg->nmodels; i++) {
        ig_model_config_t *mc = &cfg->models[i];
        ig_model_rt_t *rt = &gen->models[i];
        char path[64];
        model_where(cfg, i, path, sizeof(path));
        int ej = plugin_index(cfg, mc->engine_plugin), lj = plugin_index(cfg, mc->lb_plugin);
        if (ej < 0 || lj < 0) {
            ig_errors_at(errs, mc->file, mc->line, "%s: engine or strategy plugin is not loaded", path);
            continue;
        }
        rt->cfg = mc;
        rt->engine = mc->engine_plugin->desc->vtable;
        rt->engine_plugin_state = gen->plugins[ej].state;
        rt->lb = mc->lb_plugin->desc->vtable;
        rt->lb_plugin_state = gen->plugins[lj].state;

        ig_error_t err = {{0}};
        if (rt->engine->model_init && rt->engine->model_init(api, rt->engine_plugin_state, &mc->model, &err) != 0) {
            ig_errors_at(errs, mc->file, mc->line, "%s: engine \"%s\" refused model \"%s\": %s", path,
                         mc->engine_plugin->desc->name, mc->model.name, err.msg[0] ? err.msg : "(no message)");
            continue;
        }
        progress[i].engine_inited = 1;
        memset(&err, 0, sizeof(err));
        if (rt->lb->model_init && rt->lb->model_init(api, rt->lb_plugin_state, &mc->model, &err) != 0) {
            ig_errors_at(errs, mc->file, mc->line, "%s: strategy \"%s\" refused model \"%s\": %s", path,
                         mc->lb_plugin->desc->name, mc->model.name, err.msg[0] ? err.msg : "(no message)");
            continue;
        }
        progress[i].lb_inited = 1;

        if (endpoints && mc->nendpoints) {
            rt->endpoints = calloc(mc->nendpoints, sizeof(*rt->endpoints));
            if (!rt->endpoints) {
                ig_errors_add(errs, "out of memory");
                continue;
            }
            for (size_t e = 0; e < mc->nendpoints; e++) {
                char msg[256] = "";
                ig_endpoint_t *ep = ig_endpoint_acquire(endpoints, mc->endpoints[e], msg, sizeof(msg));
                if (!ep) {
                    ig_errors_at(errs, mc->file, mc->line, "%s.endpoints[%zu]: %s", path, e,
                                 msg[0] ? msg : "cannot use this endpoint");
                    continue;
                }
                rt->endpoints[rt->nendpoints++] = ep;
            }
        }
    }

    if (errs->count == errs_before && (build_lookup(gen) != 0 || build_addresses(gen) != 0))
        ig_errors_add(errs, "out of memory");
    if (errs->count != errs_before)
        goto fail;
    free(progress);
    return gen;

fail:
    teardown(gen, progress, plugins_inited);
    free(progress);
    return NULL;
}

ig_generation_t *ig_generation_create(const char *path, uint64_t id, ig_plugin_host_t *host,
                                      ig_endpoint_registry_t *endpoints, ig_errors_t *errs)
{
    ig_config_t *cfg = ig_config_load(path, host, errs);
    if (!cfg)
        return NULL;
    return ig_generation_build(cfg, id, endpoints, errs);
}

void ig_generation_release(ig_generation_t *gen)
{
    if (!gen)
        return;
    /* acq_rel: the last releaser must see every other thread's writes before freeing */
    if (atomic_fetch_sub_explicit(&gen->refcount, 1, memory_order_acq_rel) != 1)
        return;
    model_progress_t *all = malloc((gen->nmodels + 1) * sizeof(*all));
    if (!all) {
        /* cannot happen in practice; leaking beats calling model_free on state we cannot track */
        ig_log_error("generation %llu: out of memory while freeing it", (unsigned long long)gen->id);
        return;
    }
    for (size_t i = 0; i < gen->nmodels; i++)
        all[i].engine_inited = all[i].lb_inited = 1;
    teardown(gen, all, gen->nplugins);
    free(all);
}

static int lookup_exact(const ig_generation_t *gen, const char *name, size_t len)
{
    size_t slot = ig_fnv1a32(IG_FNV32_OFFSET, name, len) & gen->lookup_mask;
    for (size_t probes = 0; probes <= gen->lookup_mask; probes++) {
        uint32_t v = gen->lookup[slot];
        if (!v)
            return -1;
        const char *m = gen->config->models[v - 1].model.name;
        /* strnlen first: name is client input and may be longer than m or hold NULs */
        if (strnlen(m, len + 1) == len && memcmp(m, name, len) == 0)
            return (int)(v - 1);
        slot = (slot + 1) & gen->lookup_mask;
    }
    return -1;
}

const ig_model_rt_t *ig_generation_find_model(const ig_generation_t *gen, const char *name, size_t len,
                                              ig_str_t *adapter)
{
    adapter->ptr = "";
    adapter->len = 0;
    int idx = lookup_exact(gen, name, len);
    if (idx >= 0)
        return &gen->models[idx];
    /* <model>_<adapter>: adapters never contain '_', model names may, so try every '_' from the right */
    for (size_t cut = len; cut-- > 0;) {
        if (name[cut] != '_')
            continue;
        idx = lookup_exact(gen, name, cut);
        if (idx < 0)
            continue;
        const ig_model_t *m = &gen->config->models[idx].model;
        const char *ad = name + cut + 1;
        size_t alen = len - cut - 1;
        for (size_t a = 0; a < m->nadapters; a++) {
            if (strnlen(m->adapters[a].name, alen + 1) == alen && memcmp(m->adapters[a].name, ad, alen) == 0) {
                adapter->ptr = ad;
                adapter->len = alen;
                return &gen->models[idx];
            }
        }
    }
    return NULL;
}
