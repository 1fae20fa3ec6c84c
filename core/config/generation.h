/*
 * generation.h — one immutable configuration generation.
 *
 * A generation is everything a request needs to be served under one version
 * of the config: the validated config, the plugin instances created for it,
 * each model's engine/strategy state, its endpoints, and a lookup table by
 * model name. Worker threads only read it. A request holds a reference from
 * its start to its end, so a reload can swap in a new generation at any time:
 * the old one is freed (plugins' fini, models' free, endpoint references
 * dropped) when its last request releases it.
 */
#ifndef IG_GENERATION_H
#define IG_GENERATION_H

#include <stdatomic.h>
#include "config/config.h"
#include "upstream/endpoint.h"
#include "config/errors.h"
#include "config/model_address.h"
#include "plugin/plugin_host.h"
#include "sched/replica_set.h"

typedef struct {
    const ig_plugin_t *desc;
    void *state;                     /* from desc->init */
} ig_plugin_instance_t;

typedef struct {
    const ig_model_config_t *cfg;    /* cfg->model is the plugin-facing view */
    const ig_engine_vtable_t *engine;
    void *engine_plugin_state;       /* the engine plugin instance's state (per generation; per-model state is cfg->model.engine_model_state) */
    const ig_lb_vtable_t *lb;
    void *lb_plugin_state;           /* the strategy plugin instance's state */
    ig_endpoint_t **endpoints;       /* static endpoints, resolved */
    size_t nendpoints;
    ig_replica_set_t *replicas;      /* without static endpoints: the scheduler's replicas (retained), else NULL */
    atomic_uint queued;              /* requests waiting for a ready endpoint, all threads */
} ig_model_rt_t;

typedef struct ig_generation_s {
    atomic_uint refcount;
    uint64_t id;                     /* 1, 2, ... in load order */
    int64_t created_at;              /* unix time it was loaded ("created" in /v1/models) */
    ig_config_t *config;
    ig_plugin_instance_t *plugins;   /* parallel to config->plugins */
    size_t nplugins;
    ig_model_rt_t *models;           /* parallel to config->models */
    size_t nmodels;
    const ig_model_t **model_views;  /* &config->models[i].model, as plugin routes see them */
    /* plugin instances by role (pointers into plugins, in plugins.load order) */
    const ig_plugin_instance_t *auth;            /* the auth plugin, or NULL: requests are anonymous */
    const ig_plugin_instance_t **ratelimits;
    size_t nratelimits;
    const ig_plugin_instance_t **billings;
    size_t nbillings;
    /* open-addressing table of model names → index into models */
    uint32_t *lookup;
    size_t lookup_mask;
    ig_address_index_t addresses;    /* models' own hosts and path prefixes */
    ig_endpoint_registry_t *endpoints;
} ig_generation_t;

/*
 * Loads and validates path (ig_config_load), creates plugin instances and
 * per-model state, resolves endpoints. All or nothing: on any error every
 * piece built so far is torn down, errs lists the causes, NULL is returned.
 * The new generation has refcount 1 (the caller's).
 */
ig_generation_t *ig_generation_create(const char *path, uint64_t id, ig_plugin_host_t *host,
                                      ig_endpoint_registry_t *endpoints, ig_errors_t *errs);
/*
 * The same from a config already loaded (ig_config_load_buffer in tests and the
 * fuzzer). Takes ownership of cfg: it is freed with the generation, or at once on error.
 * endpoints may be NULL: static endpoints are then validated but not resolved.
 */
ig_generation_t *ig_generation_build(ig_config_t *cfg, uint64_t id, ig_endpoint_registry_t *endpoints,
                                     ig_errors_t *errs);

static inline void ig_generation_retain(ig_generation_t *gen)
{
    atomic_fetch_add_explicit(&gen->refcount, 1, memory_order_relaxed);
}
void ig_generation_release(ig_generation_t *gen);

/*
 * Resolves a client's "model" value: an exact model name, or <model>_<adapter>
 * where adapter is one of the model's adapters (KubeAI's convention). On
 * success returns the model and sets *adapter (empty when none).
 */
const ig_model_rt_t *ig_generation_find_model(const ig_generation_t *gen, const char *name, size_t len,
                                              ig_str_t *adapter);

#endif
