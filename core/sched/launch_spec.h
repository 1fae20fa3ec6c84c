/*
 * launch_spec.h — what one replica of a model runs: the engine's launch recipe (or a `command:`
 * from the model or its resource profile), the model's args and env, and its devices, copied out
 * of the configuration (which a reload frees) and expanded per replica ({port}, {devices}, ...;
 * see ig_launch_recipe_t in infergate/plugin.h).
 */
#ifndef IG_LAUNCH_SPEC_H
#define IG_LAUNCH_SPEC_H

#include <stddef.h>
#include "config/config.h"

typedef struct {
    char **argv;                 /* templates: the command, then the model's args; NULL-terminated */
    size_t nargv;
    char **env;                  /* "NAME=value" templates, later ones win; NULL-terminated */
    size_t nenv;
    char *device_env;            /* gets {devices}; NULL: none */
    int *devices;                /* the profile's devices, in order */
    size_t ndevices;
    int device_count;            /* devices per replica (0: the profile has none to hand out) */
    char *model, *served_name, *url, *model_ref, *profile;
    char *warmup_method, *warmup_path, *warmup_body; /* NULL: no warmup */
    char *fingerprint;           /* everything above, joined: equal fingerprints run identical replicas */
} ig_launch_spec_t;

/* Per-replica values of the placeholders. */
typedef struct {
    const char *port, *host, *devices;
} ig_launch_vars_t;

/* From a model (no static endpoints) and its engine's recipe (may be NULL). 0, or -1 with msg. */
int ig_launch_spec_build(ig_launch_spec_t *s, const ig_model_config_t *mc, const ig_launch_recipe_t *recipe,
                         char *msg, size_t msgsize);
void ig_launch_spec_free(ig_launch_spec_t *s);

/* One template expanded (malloc'd; NULL when out of memory). Unknown {names} are kept as written. */
char *ig_launch_expand(const ig_launch_spec_t *s, const ig_launch_vars_t *v, const char *tmpl);
/* The replica's argv, and its environment: base (infergate's own), then the spec's env. malloc'd,
 * NULL-terminated, freed with ig_launch_strv_free. NULL when out of memory. */
char **ig_launch_argv(const ig_launch_spec_t *s, const ig_launch_vars_t *v);
char **ig_launch_envp(const ig_launch_spec_t *s, const ig_launch_vars_t *v, char *const *base);
void ig_launch_strv_free(char **v);

#endif
