/*
 * config_profiles.c — resourceProfiles: what a replica needs (devices, env),
 * and env maps in general (profiles and models share the syntax).
 */
#include "config/config_internal.h"
#include <ctype.h>
#include <string.h>

/* Environment names as POSIX shells accept them. */
static int valid_env_name(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    return 1;
}

int ig_cfg_parse_env(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_kv_t **out, size_t *n)
{
    ig_yaml_t *y = c->y;
    *out = NULL;
    *n = 0;
    if (!node || ig_yaml_is_null(node))
        return 0;
    if (ig_yaml_expect_map(y, node, path) != 0)
        return -1;
    size_t len = ig_yaml_map_len(node);
    ig_kv_t *kv = ig_arena_array(c->a, len + 1, sizeof(*kv));
    if (!kv)
        return -1;
    size_t k = 0;
    int bad = 0;
    for (size_t i = 0; i < len; i++) {
        const char *key = NULL, *val;
        yaml_node_t *v = ig_yaml_map_at(y, node, i, &key);
        if (!v)
            return -1;
        if (!key)
            continue;
        char kpath[IG_PATH_MAX];
        ig_path_key(kpath, sizeof(kpath), path, key);
        if (!valid_env_name(key)) {
            ig_yaml_error(y, v, kpath, "\"%.80s\" is not a valid environment variable name", key);
            bad = 1;
            continue;
        }
        if (ig_yaml_str(y, v, kpath, &val) != 0) {
            bad = 1;
            continue;
        }
        kv[k].key = ig_cfg_strdup(c, key);
        kv[k].value = ig_cfg_strdup(c, val);
        k++;
    }
    *out = kv;
    *n = k;
    return bad ? -1 : 0;
}

static int valid_profile_name(const char *s)
{
    if (!*s || strlen(s) > 128)
        return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '.'))
            return 0;
    return 1;
}

static const char *const profile_keys[] = {"devices", "env", "command", "deviceEnv", NULL};

void ig_cfg_parse_profiles(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_yaml_t *y = c->y;
    const char *path = "resourceProfiles";
    if (!node || ig_yaml_is_null(node))
        return;
    if (ig_yaml_expect_map(y, node, path) != 0)
        return;
    size_t len = ig_yaml_map_len(node);
    ig_resource_profile_t *profiles = ig_arena_array(c->a, len + 1, sizeof(*profiles));
    if (!profiles)
        return;
    size_t np = 0;
    for (size_t i = 0; i < len; i++) {
        const char *name = NULL;
        yaml_node_t *p = ig_yaml_map_at(y, node, i, &name);
        if (!p)
            return;
        if (!name)
            continue;
        char ppath[IG_PATH_MAX], kpath[IG_PATH_MAX];
        ig_path_key(ppath, sizeof(ppath), path, name);
        if (!valid_profile_name(name)) {
            ig_yaml_error(y, p, ppath, "invalid profile name (letters, digits, '-', '_', '.')");
            continue;
        }
        ig_resource_profile_t *rp = &profiles[np++];
        rp->name = ig_cfg_strdup(c, name);
        rp->line = ig_yaml_line(p);
        if (ig_yaml_is_null(p))
            continue; /* "cpu:" — a profile that needs nothing */
        if (ig_yaml_expect_map(y, p, ppath) != 0)
            continue;
        ig_yaml_check_keys(y, p, ppath, profile_keys);
        yaml_node_t *devs = ig_yaml_map_get(y, p, "devices");
        if (devs && !ig_yaml_is_null(devs) && ig_yaml_expect_seq(y, devs, ig_path_key(kpath, sizeof(kpath), ppath, "devices")) == 0) {
            size_t nd = ig_yaml_seq_len(devs);
            rp->devices = ig_arena_array(c->a, nd + 1, sizeof(int));
            for (size_t d = 0; rp->devices && d < nd; d++) {
                char dpath[IG_PATH_MAX];
                int64_t v;
                yaml_node_t *item = ig_yaml_seq_at(y, devs, d);
                if (!item)
                    return;
                ig_path_index(dpath, sizeof(dpath), kpath, d);
                if (ig_yaml_int(y, item, dpath, 0, 4095, &v) != 0)
                    continue;
                int dup = 0;
                for (size_t e = 0; e < rp->ndevices; e++)
                    dup |= rp->devices[e] == (int)v;
                if (dup) {
                    ig_yaml_error(y, item, dpath, "device %d is listed twice", (int)v);
                    continue;
                }
                rp->devices[rp->ndevices++] = (int)v;
            }
        }
        ig_cfg_parse_env(c, ig_yaml_map_get(y, p, "env"), ig_path_key(kpath, sizeof(kpath), ppath, "env"), &rp->env,
                         &rp->nenv);
        yaml_node_t *cmd = ig_yaml_map_get(y, p, "command");
        if (cmd)
            ig_cfg_parse_command(c, cmd, ig_path_key(kpath, sizeof(kpath), ppath, "command"), &rp->command,
                                 &rp->ncommand);
        yaml_node_t *de = ig_yaml_map_get(y, p, "deviceEnv");
        const char *dev_env;
        if (de && ig_yaml_str(y, de, ig_path_key(kpath, sizeof(kpath), ppath, "deviceEnv"), &dev_env) == 0) {
            if (!valid_env_name(dev_env))
                ig_yaml_error(y, de, kpath, "\"%.80s\" is not a valid environment variable name", dev_env);
            else
                rp->device_env = ig_cfg_strdup(c, dev_env);
        }
    }
    c->cfg->profiles = profiles;
    c->cfg->nprofiles = np;
}
