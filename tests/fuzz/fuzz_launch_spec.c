/*
 * Fuzz target: what a replica runs (core/sched/launch_spec.c): an engine's launch recipe, a model's
 * command, args and env, its resource profile, the {placeholder} expansion per replica, the
 * environment it gets and the fingerprint that says whether a reload must replace replicas.
 *
 * Input: a flags byte, then strings (a length byte and that many bytes each) read in a fixed order
 * (see build()); what is left picks a change for the fingerprint check. Properties checked:
 *  - the spec builds exactly when a command is there (the model's, else the profile's, else the
 *    recipe's argv), and its argv is that command then the model's args;
 *  - a template with no brace expands to itself; doubled braces are literal: any text with its
 *    braces doubled expands back to the text; placeholder values are inserted, never expanded again;
 *  - the environment: every name once; infergate's own entries kept unless the spec sets the name;
 *    a name the spec sets has its last template's expansion, the device variable winning, and the
 *    device variable is there exactly when the replica has devices;
 *  - the fingerprint: the same inputs give the same fingerprint, and any change to what a replica
 *    runs (an argument edited, two arguments joined into one by any byte, an env entry edited) gives
 *    another.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sched/launch_spec.h"

typedef struct {
    const uint8_t *p;
    size_t n;
} reader_t;

/* The next string: a length byte (mod 48), then that many bytes (fewer at the end); a NUL ends it
 * early, as a C string would. The result is malloc'd into the pool below. */
#define MAX_STRS 64
typedef struct {
    char *s[MAX_STRS];
    size_t n;
} strs_t;

static char *next(reader_t *r, strs_t *keep)
{
    size_t len = 0;
    if (r->n) {
        len = r->p[0] % 48;
        r->p++, r->n--;
    }
    if (len > r->n)
        len = r->n;
    char *s = malloc(len + 1);
    memcpy(s, r->p, len);
    s[len] = '\0';
    r->p += len, r->n -= len;
    if (keep->n == MAX_STRS)
        abort();
    keep->s[keep->n++] = s;
    return s;
}

static unsigned next_byte(reader_t *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

static int same_name(const char *a, const char *b)
{
    return name_len(a) == name_len(b) && memcmp(a, b, name_len(a)) == 0;
}

typedef struct {
    const char *cmd[4], *mcmd[3], *pcmd[3], *renv[4], *args[5];
    ig_kv_t penv[2], menv[3];
    int devices[4];
    ig_launch_recipe_t recipe;
    ig_resource_profile_t profile;
    ig_model_config_t mc;
    int has_recipe;
    ig_launch_vars_t vars;
    char *base[5];
    strs_t strs;
} input_t;

static void build(input_t *in, reader_t *r)
{
    memset(in, 0, sizeof(*in));
    unsigned flags = next_byte(r);
    in->has_recipe = flags & 1;
    for (size_t i = 0; i < 1 + (flags >> 1 & 1) * 2; i++)
        in->cmd[i] = next(r, &in->strs);
    in->recipe.argv = (flags & 64) ? NULL : in->cmd;
    for (size_t i = 0; i < (flags >> 2 & 3); i++)
        in->renv[i] = next(r, &in->strs);
    in->recipe.env = in->renv;
    in->recipe.device_env = (flags & 16) ? next(r, &in->strs) : NULL;
    if (flags & 32) {
        in->recipe.warmup_method = "POST";
        in->recipe.warmup_path = next(r, &in->strs);
        in->recipe.warmup_body = next(r, &in->strs);
    }
    unsigned pf = next_byte(r);
    if (pf & 1) {
        in->profile.name = next(r, &in->strs);
        in->profile.ndevices = pf >> 1 & 3;
        for (size_t i = 0; i < in->profile.ndevices; i++)
            in->devices[i] = (int)next_byte(r);
        in->profile.devices = in->devices;
        in->profile.nenv = pf >> 3 & 1 ? 2 : 0;
        for (size_t i = 0; i < in->profile.nenv; i++)
            in->penv[i] = (ig_kv_t){next(r, &in->strs), next(r, &in->strs)};
        in->profile.env = in->penv;
        if (pf & 16) {
            in->pcmd[0] = next(r, &in->strs);
            in->profile.command = in->pcmd;
        }
        in->profile.device_env = (pf & 32) ? next(r, &in->strs) : NULL;
        in->mc.profile = &in->profile;
        in->mc.resource_count = (int)(pf >> 6);
    }
    unsigned mf = next_byte(r);
    in->mc.model.name = next(r, &in->strs);
    in->mc.model.url = (mf & 1) ? next(r, &in->strs) : NULL;
    in->mc.model.served_name = (mf & 2) ? next(r, &in->strs) : NULL;
    in->mc.model.nargs = mf >> 2 & 3;
    for (size_t i = 0; i < in->mc.model.nargs; i++)
        in->args[i] = next(r, &in->strs);
    in->mc.model.args = in->args;
    in->mc.model.nenv = mf >> 4 & 3;
    for (size_t i = 0; i < in->mc.model.nenv; i++)
        in->menv[i] = (ig_kv_t){next(r, &in->strs), next(r, &in->strs)};
    in->mc.model.env = in->menv;
    if (mf & 64) {
        in->mcmd[0] = next(r, &in->strs);
        in->mcmd[1] = next(r, &in->strs);
        in->mc.command = in->mcmd;
    }
    in->mc.model.engine = "fuzz";
    in->vars.port = next(r, &in->strs);
    in->vars.host = next(r, &in->strs);
    in->vars.devices = next(r, &in->strs);
    /* infergate's own environment: one entry a name, as a process's environment has */
    unsigned nb = next_byte(r) % 5;
    for (size_t i = 0, k = 0; i < nb; i++) {
        char *e = next(r, &in->strs);
        int dup = 0;
        for (size_t j = 0; j < k; j++)
            dup |= same_name(in->base[j], e);
        if (!dup)
            in->base[k++] = e;
    }
}

static void release(input_t *in)
{
    for (size_t i = 0; i < in->strs.n; i++)
        free(in->strs.s[i]);
}

static char *expand(const ig_launch_spec_t *s, const ig_launch_vars_t *v, const char *t)
{
    char *e = ig_launch_expand(s, v, t);
    if (!e)
        abort();
    return e;
}

static void check_expand(const ig_launch_spec_t *s, const ig_launch_vars_t *v, const char *text)
{
    /* braces doubled: back to the text */
    size_t n = strlen(text), k = 0;
    char *esc = malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        esc[k++] = text[i];
        if (text[i] == '{' || text[i] == '}')
            esc[k++] = text[i];
    }
    esc[k] = '\0';
    char *e = expand(s, v, esc);
    if (strcmp(e, text) != 0)
        abort();
    free(e);
    free(esc);
    if (!strchr(text, '{') && !strchr(text, '}')) {
        e = expand(s, v, text);
        if (strcmp(e, text) != 0)
            abort();
        free(e);
    }
    /* a value is inserted as it is: "{port}" expands to the port even when the port holds braces */
    e = expand(s, v, "<{port}|{host}|{devices}>");
    char want[256];
    snprintf(want, sizeof(want), "<%s|%s|%s>", v->port, v->host, v->devices);
    if (strcmp(e, want) != 0)
        abort();
    free(e);
}

static void check_env(const input_t *in, const ig_launch_spec_t *s)
{
    char **envp = ig_launch_envp(s, &in->vars, in->base);
    if (!envp)
        abort();
    size_t n = 0;
    while (envp[n])
        n++;
    /* every name once */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (same_name(envp[i], envp[j]))
                abort();
    /* the spec's entries, expanded, in order; then the device variable */
    size_t k = 0;
    char *mine[16];
    for (size_t i = 0; i < s->nenv; i++)
        mine[k++] = expand(s, &in->vars, s->env[i]);
    int dev = s->device_env && in->vars.devices[0];
    if (dev) {
        size_t l = strlen(s->device_env) + strlen(in->vars.devices) + 2;
        mine[k] = malloc(l);
        snprintf(mine[k++], l, "%s=%s", s->device_env, in->vars.devices);
    }
    /* a name the spec sets: its last value; else infergate's entry, verbatim */
    for (size_t i = 0; i < k; i++) {
        int later = 0;
        for (size_t j = i + 1; j < k; j++)
            later |= same_name(mine[i], mine[j]);
        int found = 0;
        for (size_t j = 0; j < n; j++)
            found |= strcmp(envp[j], mine[i]) == 0;
        if (!later && !found)
            abort();
    }
    for (size_t b = 0; in->base[b]; b++) {
        int set = 0, found = 0;
        for (size_t i = 0; i < k; i++)
            set |= same_name(mine[i], in->base[b]);
        for (size_t j = 0; j < n; j++)
            found |= strcmp(envp[j], in->base[b]) == 0;
        if (!set && !found)
            abort();
    }
    for (size_t i = 0; i < k; i++)
        free(mine[i]);
    ig_launch_strv_free(envp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2048)
        return 0;
    reader_t r = {data, size};
    input_t in;
    build(&in, &r);
    const ig_launch_recipe_t *recipe = in.has_recipe ? &in.recipe : NULL;
    const char *const *cmd = in.mc.command ? in.mc.command : in.mc.profile && in.mc.profile->command ? in.mc.profile->command
                                                           : recipe ? recipe->argv : NULL;
    ig_launch_spec_t s;
    char msg[256];
    int rc = ig_launch_spec_build(&s, &in.mc, recipe, msg, sizeof(msg));
    if ((rc == 0) != (cmd && cmd[0]))
        abort();
    if (rc != 0) {
        release(&in);
        return 0;
    }
    /* argv: the command, then the model's args */
    size_t nc = 0;
    while (cmd[nc])
        nc++;
    if (s.nargv != nc + in.mc.model.nargs)
        abort();
    for (size_t i = 0; i < s.nargv; i++)
        if (strcmp(s.argv[i], i < nc ? cmd[i] : in.mc.model.args[i - nc]) != 0)
            abort();
    char **argv = ig_launch_argv(&s, &in.vars);
    for (size_t i = 0; i < s.nargv; i++) {
        char *e = expand(&s, &in.vars, s.argv[i]);
        if (!argv || !argv[i] || strcmp(argv[i], e) != 0)
            abort();
        free(e);
    }
    if (argv[s.nargv])
        abort();
    ig_launch_strv_free(argv);
    for (size_t i = 0; i < s.nargv; i++)
        check_expand(&s, &in.vars, s.argv[i]);
    check_env(&in, &s);

    /* the fingerprint: stable, and changed by any change to what runs */
    ig_launch_spec_t again;
    if (ig_launch_spec_build(&again, &in.mc, recipe, msg, sizeof(msg)) != 0 || strcmp(again.fingerprint, s.fingerprint) != 0)
        abort();
    ig_launch_spec_free(&again);
    unsigned op = next_byte(&r), at = next_byte(&r), with = next_byte(&r);
    ig_model_config_t changed = in.mc;
    const char *args[6];
    ig_kv_t env[3];
    char edited[128];
    int differs = 1;
    if (op % 3 == 0 && in.mc.model.nargs > 0) { /* an argument edited */
        size_t i = at % in.mc.model.nargs;
        memcpy(args, in.mc.model.args, in.mc.model.nargs * sizeof(*args));
        snprintf(edited, sizeof(edited), "%s%c", args[i], with ? (char)with : 'x');
        args[i] = edited;
        changed.model.args = args;
    } else if (op % 3 == 1 && in.mc.model.nargs > 1) { /* two arguments joined by a byte */
        size_t i = at % (in.mc.model.nargs - 1), n = 0;
        for (size_t j = 0; j < in.mc.model.nargs; j++) {
            if (j == i) {
                snprintf(edited, sizeof(edited), "%s%c%s", in.mc.model.args[j], with ? (char)with : 'x',
                         in.mc.model.args[j + 1]);
                args[n++] = edited;
                j++;
            } else {
                args[n++] = in.mc.model.args[j];
            }
        }
        changed.model.args = args;
        changed.model.nargs = n;
    } else if (op % 3 == 2 && in.mc.model.nenv > 0) { /* an env value edited */
        size_t i = at % in.mc.model.nenv;
        memcpy(env, in.mc.model.env, in.mc.model.nenv * sizeof(*env));
        snprintf(edited, sizeof(edited), "%s%c", env[i].value, with ? (char)with : 'x');
        env[i].value = edited;
        changed.model.env = env;
    } else {
        differs = 0;
    }
    if (differs) {
        ig_launch_spec_t other;
        if (ig_launch_spec_build(&other, &changed, recipe, msg, sizeof(msg)) != 0)
            abort();
        if (strcmp(other.fingerprint, s.fingerprint) == 0)
            abort(); /* a reload would keep replicas running what is no longer configured */
        ig_launch_spec_free(&other);
    }
    ig_launch_spec_free(&s);
    release(&in);
    return 0;
}
