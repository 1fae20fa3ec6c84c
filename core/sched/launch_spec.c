#include "sched/launch_spec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/buf.h"

/* Expansions and the fingerprint are built in an ig_buf_t (util/buf.h); a NULL string adds nothing. */
static void sb_str(ig_buf_t *b, const char *s)
{
    ig_buf_puts(b, s ? s : "");
}

/* One string of the fingerprint: "<length>:<bytes>\x1f", or "-\x1f" for NULL. */
static void fp_str(ig_buf_t *f, const char *s)
{
    char len[24];
    snprintf(len, sizeof(len), s ? "%zu:" : "-", s ? strlen(s) : (size_t)0);
    ig_buf_puts(f, len);
    sb_str(f, s);
    ig_buf_put(f, "\x1f", 1);
}

static char *dup_or_null(const char *s, int *oom)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *oom = 1;
    return d;
}

/* "hf://org/model" -> "org/model"; no scheme: as written. */
static const char *strip_scheme(const char *url)
{
    const char *p = url ? strstr(url, "://") : NULL;
    return p ? p + 3 : (url ? url : "");
}

static int push(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof(**v));
        if (!nv)
            return -1;
        *v = nv;
        *cap = nc;
    }
    char *d = strdup(s);
    if (!d)
        return -1;
    (*v)[(*n)++] = d;
    (*v)[*n] = NULL;
    return 0;
}

static int push_kv(char ***v, size_t *n, size_t *cap, const char *k, const char *val)
{
    ig_buf_t b = {0};
    sb_str(&b, k);
    ig_buf_put(&b, "=", 1);
    sb_str(&b, val);
    char *s = ig_buf_take(&b, NULL);
    int rc = s ? push(v, n, cap, s) : -1;
    free(s);
    return rc;
}

int ig_launch_spec_build(ig_launch_spec_t *s, const ig_model_config_t *mc, const ig_launch_recipe_t *recipe,
                         char *msg, size_t msgsize)
{
    memset(s, 0, sizeof(*s));
    const ig_resource_profile_t *rp = mc->profile;
    const char *const *cmd = mc->command ? mc->command : rp && rp->command ? rp->command : recipe ? recipe->argv : NULL;
    if (!cmd || !cmd[0]) {
        snprintf(msg, msgsize,
                 "model %s: engine \"%s\" has no launch recipe and no command: is set on the model or its resource "
                 "profile",
                 mc->model.name, mc->model.engine);
        return -1;
    }
    size_t acap = 0, ecap = 0;
    int oom = 0;
    for (size_t i = 0; cmd[i] && !oom; i++)
        oom = push(&s->argv, &s->nargv, &acap, cmd[i]) != 0;
    for (size_t i = 0; i < mc->model.nargs && !oom; i++)
        oom = push(&s->argv, &s->nargv, &acap, mc->model.args[i]) != 0;
    for (size_t i = 0; recipe && recipe->env && recipe->env[i] && !oom; i++)
        oom = push(&s->env, &s->nenv, &ecap, recipe->env[i]) != 0;
    for (size_t i = 0; rp && i < rp->nenv && !oom; i++)
        oom = push_kv(&s->env, &s->nenv, &ecap, rp->env[i].key, rp->env[i].value) != 0;
    for (size_t i = 0; i < mc->model.nenv && !oom; i++)
        oom = push_kv(&s->env, &s->nenv, &ecap, mc->model.env[i].key, mc->model.env[i].value) != 0;
    s->device_env = dup_or_null(rp && rp->device_env ? rp->device_env : recipe ? recipe->device_env : NULL, &oom);
    if (rp && rp->ndevices) {
        s->devices = malloc(rp->ndevices * sizeof(int));
        if (s->devices) {
            memcpy(s->devices, rp->devices, rp->ndevices * sizeof(int));
            s->ndevices = rp->ndevices;
            s->device_count = mc->resource_count > 0 ? mc->resource_count : 1;
        } else {
            oom = 1;
        }
    }
    s->model = dup_or_null(mc->model.name, &oom);
    s->served_name = dup_or_null(mc->model.served_name ? mc->model.served_name : mc->model.name, &oom);
    s->url = dup_or_null(mc->model.url ? mc->model.url : "", &oom);
    s->model_ref = dup_or_null(strip_scheme(mc->model.url), &oom);
    s->profile = dup_or_null(rp ? rp->name : "", &oom);
    if (recipe && recipe->warmup_method && recipe->warmup_path) {
        s->warmup_method = dup_or_null(recipe->warmup_method, &oom);
        s->warmup_path = dup_or_null(recipe->warmup_path, &oom);
        s->warmup_body = dup_or_null(recipe->warmup_body ? recipe->warmup_body : "", &oom);
    }

    /* the fingerprint: a reload that changes any of it rolls the model's replicas. Every string is
     * length-prefixed: a separator byte inside an argument must not make two argument lists equal */
    ig_buf_t f = {0};
    for (size_t i = 0; i < s->nargv; i++)
        fp_str(&f, s->argv[i]);
    ig_buf_put(&f, "\x1e", 1);
    for (size_t i = 0; i < s->nenv; i++)
        fp_str(&f, s->env[i]);
    char tail[64];
    snprintf(tail, sizeof(tail), "\x1e%d\x1e", s->device_count);
    sb_str(&f, tail);
    for (size_t i = 0; i < s->ndevices; i++) {
        snprintf(tail, sizeof(tail), "%d,", s->devices[i]);
        sb_str(&f, tail);
    }
    const char *rest[] = {s->device_env, s->served_name, s->url, s->profile, s->warmup_method, s->warmup_path,
                          s->warmup_body};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++) {
        ig_buf_put(&f, "\x1e", 1);
        fp_str(&f, rest[i]);
    }
    s->fingerprint = ig_buf_take(&f, NULL);
    if (oom || !s->fingerprint) {
        ig_launch_spec_free(s);
        snprintf(msg, msgsize, "model %s: out of memory", mc->model.name);
        return -1;
    }
    return 0;
}

void ig_launch_strv_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

void ig_launch_spec_free(ig_launch_spec_t *s)
{
    ig_launch_strv_free(s->argv);
    ig_launch_strv_free(s->env);
    free(s->device_env);
    free(s->devices);
    free(s->model);
    free(s->served_name);
    free(s->url);
    free(s->model_ref);
    free(s->profile);
    free(s->warmup_method);
    free(s->warmup_path);
    free(s->warmup_body);
    free(s->fingerprint);
    memset(s, 0, sizeof(*s));
}

static const char *lookup(const ig_launch_spec_t *s, const ig_launch_vars_t *v, const char *name, size_t n)
{
    const struct {
        const char *name;
        const char *value;
    } vars[] = {{"port", v->port},     {"host", v->host},           {"url", s->url},
                {"model_ref", s->model_ref}, {"model", s->model}, {"served_name", s->served_name},
                {"devices", v->devices}};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        if (strlen(vars[i].name) == n && memcmp(vars[i].name, name, n) == 0)
            return vars[i].value ? vars[i].value : "";
    return NULL;
}

char *ig_launch_expand(const ig_launch_spec_t *s, const ig_launch_vars_t *v, const char *tmpl)
{
    ig_buf_t b = {0};
    const char *p = tmpl;
    while (*p) {
        if (p[0] == '{' && p[1] == '{') {
            ig_buf_put(&b, "{", 1);
            p += 2;
            continue;
        }
        if (p[0] == '}' && p[1] == '}') {
            ig_buf_put(&b, "}", 1);
            p += 2;
            continue;
        }
        if (p[0] == '{') {
            const char *end = strchr(p + 1, '}');
            const char *val = end ? lookup(s, v, p + 1, (size_t)(end - p - 1)) : NULL;
            if (val) {
                sb_str(&b, val);
                p = end + 1;
                continue;
            }
        }
        ig_buf_put(&b, p, 1);
        p++;
    }
    return ig_buf_take(&b, NULL);
}

char **ig_launch_argv(const ig_launch_spec_t *s, const ig_launch_vars_t *v)
{
    char **out = calloc(s->nargv + 1, sizeof(*out));
    for (size_t i = 0; out && i < s->nargv; i++) {
        if (!(out[i] = ig_launch_expand(s, v, s->argv[i]))) {
            ig_launch_strv_free(out);
            return NULL;
        }
    }
    return out;
}

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **ig_launch_envp(const ig_launch_spec_t *s, const ig_launch_vars_t *v, char *const *base)
{
    size_t nbase = 0;
    while (base && base[nbase])
        nbase++;
    size_t extra = s->nenv + (s->device_env ? 1 : 0);
    char **mine = calloc(extra + 1, sizeof(*mine));
    char **out = calloc(nbase + extra + 1, sizeof(*out));
    size_t n = 0, k = 0;
    if (!mine || !out)
        goto oom;
    for (size_t i = 0; i < s->nenv; i++)
        if (!(mine[k++] = ig_launch_expand(s, v, s->env[i])))
            goto oom;
    if (s->device_env && v->devices && v->devices[0]) {
        ig_buf_t b = {0};
        sb_str(&b, s->device_env);
        ig_buf_put(&b, "=", 1);
        sb_str(&b, v->devices);
        if (!(mine[k++] = ig_buf_take(&b, NULL)))
            goto oom;
    }
    /* infergate's environment first, minus what the spec sets; then the spec's, the last of a name winning */
    for (size_t i = 0; i < nbase; i++) {
        size_t ln = name_len(base[i]);
        int overridden = 0;
        for (size_t j = 0; j < k && !overridden; j++)
            overridden = name_len(mine[j]) == ln && memcmp(mine[j], base[i], ln) == 0;
        if (!overridden && !(out[n++] = strdup(base[i])))
            goto oom;
    }
    for (size_t j = 0; j < k; j++) {
        size_t ln = name_len(mine[j]);
        int later = 0;
        for (size_t l = j + 1; l < k && !later; l++)
            later = name_len(mine[l]) == ln && memcmp(mine[l], mine[j], ln) == 0;
        if (!later) {
            out[n++] = mine[j];
            mine[j] = NULL;
        }
    }
    for (size_t j = 0; j < k; j++)
        free(mine[j]);
    free(mine);
    return out;
oom:
    if (mine) {
        for (size_t j = 0; j < k; j++)
            free(mine[j]);
        free(mine);
    }
    if (out)
        ig_launch_strv_free(out);
    return NULL;
}
