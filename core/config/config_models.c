/*
 * config_models.c — models: one entry per model clients can name. Each is
 * resolved against the loaded plugins (engine, load-balancing strategy and
 * its per-model options) and the resource profiles, then checked against
 * the others (unique names, no name that also reads as <model>_<adapter>).
 */
#include "config/config_internal.h"
#include "config/config_values.h"
#include "observe/log.h"
#include "plugin/plugin_options.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/api.h"
#include "util/hash.h"

static const char *const model_keys[] = {
    "name", "engine", "url", "servedModelName", "features", "endpoints", "resourceProfile", "args", "env",
    "envFrom", "minReplicas", "maxReplicas", "replicas", "autoscalingDisabled", "targetRequests",
    "scaleDownDelaySeconds", "loadBalancing", "adapters", "owner", "pricing", "openrouter", "listed", "limits",
    "priorityClassName", "command", "hosts", "pathPrefix",
    /* KubeAI fields that mean nothing outside Kubernetes: accepted and ignored (see ignored_fields) */
    "cacheProfile", "image", "files", "jsonPatches", NULL};
/* the same without "name": a manifest's name is metadata.name */
static const char *const *const spec_keys = model_keys + 1;

static const char *const ignored_fields[] = {"cacheProfile", "image", "files", "jsonPatches", NULL};

static const char *const adapter_keys[] = {"name", "url", NULL};
static const char *const env_from_keys[] = {"configMapRef", "secretRef", "prefix", NULL};
static const char *const limits_keys[] = {"requestsPerMinute", "requestsPerHour", "tokensPerMinute", "tokensPerHour",
                                          "burst",             "maxConcurrent",   NULL};

static int valid_chars(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return 0;
    return 1;
}

/* "vllm, ollama" — names of loaded plugins of one kind, for "unknown ..." messages. */
static void loaded_names(ig_cfg_ctx_t *c, ig_plugin_kind_t kind, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->nloaded && off < cap; i++) {
        if (c->loaded[i]->desc->kind != kind)
            continue;
        int w = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", c->loaded[i]->desc->name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    if (!buf[0])
        snprintf(buf, cap, "none");
}

/* A name in plugins.load that failed to load: its error is out already, don't pile on. */
static int failed_plugin(ig_cfg_ctx_t *c, const char *name)
{
    for (size_t i = 0; i < c->nfailed; i++)
        if (strcasecmp(c->failed[i], name) == 0)
            return 1;
    return 0;
}

static char *str_field(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, const char *key)
{
    char kpath[IG_PATH_MAX];
    const char *s;
    yaml_node_t *n = ig_yaml_map_get(c->y, map, key);
    if (!n || ig_yaml_str(c->y, n, ig_path_key(kpath, sizeof(kpath), path, key), &s) != 0)
        return NULL;
    if (!*s) {
        ig_yaml_error(c->y, n, kpath, "must not be empty");
        return NULL;
    }
    return ig_cfg_strdup(c, s);
}

static int int_field(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, const char *key, int64_t min, int64_t max,
                     int dflt)
{
    char kpath[IG_PATH_MAX];
    int64_t v;
    yaml_node_t *n = ig_yaml_map_get(c->y, map, key);
    if (!n || ig_yaml_int(c->y, n, ig_path_key(kpath, sizeof(kpath), path, key), min, max, &v) != 0)
        return dflt;
    return (int)v;
}

static void parse_features(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    m->model.features = IG_FEATURE_TEXT_GENERATION;
    if (!node || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    m->model.features = 0;
    size_t n = ig_yaml_seq_len(node);
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        const char *s;
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        if (ig_yaml_str(y, item, ig_path_index(ipath, sizeof(ipath), path, i), &s) != 0)
            continue;
        unsigned bit = ig_api_feature_from_name(s);
        if (bit == 0) {
            ig_yaml_error(y, item, ipath,
                          "unknown feature \"%.40s\" (TextGeneration, TextEmbedding, Reranking, SpeechToText)", s);
            continue;
        }
        m->model.features |= bit;
        /* what the engine can serve, when the engine is known */
        if (m->engine_plugin) {
            const ig_engine_vtable_t *vt = m->engine_plugin->desc->vtable;
            if (!(vt->features & bit))
                ig_yaml_error(y, item, ipath, "engine \"%s\" does not support %s", m->engine_plugin->desc->name, s);
        }
    }
    if (n == 0)
        ig_yaml_error(y, node, path, "at least one feature is needed");
}

static void parse_string_list(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, const char *const **out,
                              size_t *nout)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    size_t n = ig_yaml_seq_len(node);
    const char **list = ig_arena_array(c->a, n + 1, sizeof(*list));
    if (!list)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        const char *s;
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        if (ig_yaml_str(y, item, ig_path_index(ipath, sizeof(ipath), path, i), &s) == 0)
            list[k++] = ig_cfg_strdup(c, s);
    }
    *out = list;
    *nout = k;
}

static void parse_endpoints(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    size_t n = ig_yaml_seq_len(node);
    m->endpoints = ig_arena_array(c->a, n + 1, sizeof(*m->endpoints));
    if (!m->endpoints)
        return;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX], host[256], msg[512];
        const char *s;
        uint16_t port;
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        ig_path_index(ipath, sizeof(ipath), path, i);
        if (ig_yaml_str(y, item, ipath, &s) != 0)
            continue;
        if (ig_parse_http_url(s, host, sizeof(host), &port, msg, sizeof(msg)) != 0) {
            ig_yaml_error(y, item, ipath, "%s", msg);
            continue;
        }
        /* compare without the optional trailing slash */
        size_t len = strlen(s);
        if (s[len - 1] == '/')
            len--;
        int dup = 0;
        for (size_t j = 0; j < m->nendpoints && !dup; j++) {
            size_t jl = strlen(m->endpoints[j]);
            if (m->endpoints[j][jl - 1] == '/')
                jl--;
            dup = jl == len && strncasecmp(m->endpoints[j], s, len) == 0;
        }
        if (dup) {
            ig_yaml_error(y, item, ipath, "endpoint \"%s\" is listed twice", s);
            continue;
        }
        m->endpoints[m->nendpoints++] = ig_cfg_strdup(c, s);
    }
}

static void parse_resource_profile(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    const char *s;
    if (!node || ig_yaml_str(y, node, path, &s) != 0)
        return;
    const char *colon = strrchr(s, ':');
    int64_t count;
    if (!colon || colon == s || ig_parse_int64(colon + 1, &count) != 0 || count < 1 || count > 4096) {
        ig_yaml_error(y, node, path, "expected \"profile:count\" with a count of at least 1, got \"%.80s\"", s);
        return;
    }
    size_t nlen = (size_t)(colon - s);
    for (size_t i = 0; i < c->cfg->nprofiles; i++) {
        const char *pn = c->cfg->profiles[i].name;
        if (strlen(pn) == nlen && memcmp(pn, s, nlen) == 0) {
            const ig_resource_profile_t *rp = &c->cfg->profiles[i];
            /* a replica could never get its devices: say so now rather than wait forever */
            if (rp->ndevices > 0 && (size_t)count > rp->ndevices) {
                ig_yaml_error(y, node, path, "a replica needs %d devices but profile \"%s\" has %zu", (int)count, pn,
                              rp->ndevices);
                return;
            }
            m->profile = rp;
            m->resource_profile = ig_cfg_strdup(c, s);
            m->resource_count = (int)count;
            return;
        }
    }
    char known[512];
    size_t off = 0;
    known[0] = '\0';
    for (size_t i = 0; i < c->cfg->nprofiles && off < sizeof(known); i++) {
        int w = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "", c->cfg->profiles[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    ig_yaml_error(y, node, path, "unknown resource profile \"%.*s\" (defined: %s)", (int)(nlen > 80 ? 80 : nlen), s,
                  known[0] ? known : "none");
}

static void parse_load_balancing(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, int model_line,
                                 ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    char spath[IG_PATH_MAX], known[256];
    const char *strategy = "LeastLoad";
    yaml_node_t *snode = NULL;
    if (node && ig_yaml_is_null(node))
        node = NULL;
    if (node && ig_yaml_expect_map(y, node, path) != 0)
        return;
    ig_path_key(spath, sizeof(spath), path, "strategy");
    if (node) {
        snode = ig_yaml_map_get(y, node, "strategy");
        if (snode && ig_yaml_str(y, snode, spath, &strategy) != 0)
            return;
    }
    m->model.strategy = ig_cfg_strdup(c, strategy);
    m->lb_plugin = ig_plugin_find(c->loaded, c->nloaded, IG_PLUGIN_LB, strategy);
    if (!m->lb_plugin) {
        if (failed_plugin(c, strategy))
            return;
        loaded_names(c, IG_PLUGIN_LB, known, sizeof(known));
        if (snode)
            ig_yaml_error(y, snode, spath, "unknown strategy \"%.80s\" (loaded: %s)", strategy, known);
        else
            ig_yaml_error_line(y, node ? ig_yaml_line(node) : model_line, path,
                               "the default strategy \"LeastLoad\" is not loaded (loaded: %s); add leastload to "
                               "plugins.load or set loadBalancing.strategy",
                               known);
        return;
    }
    const ig_plugin_t *d = m->lb_plugin->desc;
    /* KubeAI fills in loadBalancing.prefixHash whatever the strategy: an export of a LeastLoad model
     * has it too, so it is accepted (and means nothing) beside another strategy */
    const char *keys[4] = {"strategy", "prefixHash", d->model_options_key, NULL};
    if (node)
        ig_yaml_check_keys(y, node, path, keys);
    if (d->model_options) {
        char opath[IG_PATH_MAX], owner[128];
        ig_path_key(opath, sizeof(opath), path, d->model_options_key);
        snprintf(owner, sizeof(owner), "strategy \"%s\"", d->name);
        yaml_node_t *onode = node ? ig_yaml_map_get(y, node, d->model_options_key) : NULL;
        m->model.lb_options = ig_options_parse(y, c->a, onode, node ? ig_yaml_line(node) : model_line, opath, owner,
                                               d->model_options, d->model_options_size);
    }
}

static void parse_adapters(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    size_t n = ig_yaml_seq_len(node);
    ig_adapter_t *ad = ig_arena_array(c->a, n + 1, sizeof(*ad));
    if (!ad)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX], npath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        ig_path_index(ipath, sizeof(ipath), path, i);
        if (ig_yaml_expect_map(y, item, ipath) != 0)
            continue;
        ig_yaml_check_keys(y, item, ipath, adapter_keys);
        yaml_node_t *nn = ig_yaml_map_get(y, item, "name");
        const char *name;
        char *url = str_field(c, item, ipath, "url");
        if (!ig_yaml_map_get(y, item, "url"))
            ig_yaml_error(y, item, ipath, "missing \"url\"");
        if (!nn) {
            ig_yaml_error(y, item, ipath, "missing \"name\"");
            continue;
        }
        ig_path_key(npath, sizeof(npath), ipath, "name");
        if (ig_yaml_str(y, nn, npath, &name) != 0)
            continue;
        if (!valid_chars(name, 128, ".-")) {
            ig_yaml_error(y, nn, npath, "invalid adapter name \"%.80s\" (letters, digits, '.', '-'; no '_')", name);
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < k && !dup; j++)
            dup = strcmp(ad[j].name, name) == 0;
        if (dup) {
            ig_yaml_error(y, nn, npath, "adapter \"%s\" is listed twice", name);
            continue;
        }
        ad[k].name = ig_cfg_strdup(c, name);
        ad[k].url = url;
        k++;
    }
    m->model.adapters = ad;
    m->model.nadapters = k;
}

/* limits: {requestsPerMinute, ...}: what the rate-limit plugins enforce for the model as a whole. A limit of 0
 * would refuse everything (remove the model instead), so every value is at least 1. */
static void parse_limits(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_map(y, node, path) != 0)
        return;
    ig_yaml_check_keys(y, node, path, limits_keys);
    ig_limits_t *l = &m->model.limits;
    int64_t *slots[] = {&l->requests_per_minute, &l->requests_per_hour, &l->tokens_per_minute,
                        &l->tokens_per_hour,     &l->burst,             &l->max_concurrent};
    for (size_t i = 0; limits_keys[i]; i++) {
        char kpath[IG_PATH_MAX];
        yaml_node_t *v = ig_yaml_map_get(y, node, limits_keys[i]);
        if (v)
            ig_yaml_int(y, v, ig_path_key(kpath, sizeof(kpath), path, limits_keys[i]), 1, INT64_C(1000000000000),
                        slots[i]);
    }
    /* burst is the size of a spike above the per-minute rate: without that rate it means nothing */
    yaml_node_t *b = ig_yaml_map_get(y, node, "burst");
    if (b && !ig_yaml_map_get(y, node, "requestsPerMinute")) {
        char kpath[IG_PATH_MAX];
        ig_yaml_error(y, b, ig_path_key(kpath, sizeof(kpath), path, "burst"), "burst needs requestsPerMinute");
    }
}

/* priorityClassName: one of scheduler.priorityClasses (Kubernetes' PriorityClass, defined in the config). */
static void parse_priority_class(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, ig_model_config_t *m)
{
    const char *s;
    if (!node || ig_yaml_str(c->y, node, path, &s) != 0)
        return;
    if (ig_cfg_priority_of(c, s, &m->priority) != 0) {
        char known[256];
        size_t off = 0;
        const ig_scheduler_config_t *sc = &c->cfg->scheduler;
        known[0] = '\0';
        for (size_t i = 0; i < sc->npriority_classes && off < sizeof(known); i++) {
            int w = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "", sc->priority_classes[i].name);
            if (w < 0)
                break;
            off += (size_t)w;
        }
        ig_yaml_error(c->y, node, path, "unknown priority class \"%.80s\" (scheduler.priorityClasses defines: %s)", s,
                      known[0] ? known : "none");
        return;
    }
    m->priority_class = ig_cfg_strdup(c, s);
}

/*
 * envFrom: Kubernetes' EnvFromSource list ({configMapRef: {name}, secretRef: {name}, prefix}). The
 * ConfigMaps and Secrets live in a cluster this gateway does not talk to, so they cannot be
 * resolved: the field is checked, and each reference is named in a warning saying what to do.
 */
static void parse_env_from(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, const ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    char refs[512];
    size_t off = 0, n = ig_yaml_seq_len(node);
    refs[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX], rpath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        ig_path_index(ipath, sizeof(ipath), path, i);
        if (ig_yaml_expect_map(y, item, ipath) != 0)
            continue;
        ig_yaml_check_keys(y, item, ipath, env_from_keys);
        static const char *const kinds[] = {"configMapRef", "secretRef"};
        int found = 0;
        for (size_t k = 0; k < 2; k++) {
            yaml_node_t *ref = ig_yaml_map_get(y, item, kinds[k]);
            if (!ref)
                continue;
            found = 1;
            ig_path_key(rpath, sizeof(rpath), ipath, kinds[k]);
            const char *name = NULL;
            yaml_node_t *nn = ig_yaml_expect_map(y, ref, rpath) == 0 ? ig_yaml_map_get(y, ref, "name") : NULL;
            if (nn && ig_yaml_str(y, nn, rpath, &name) == 0 && off < sizeof(refs)) {
                int w = snprintf(refs + off, sizeof(refs) - off, "%s%s %s", off ? ", " : "",
                                 k == 0 ? "ConfigMap" : "Secret", name);
                if (w > 0)
                    off += (size_t)w;
            }
        }
        if (!found)
            ig_yaml_error(y, item, ipath, "expected configMapRef or secretRef");
    }
    if (n > 0)
        ig_log_warn("%s:%d: %s: model %s: envFrom (%s) names Kubernetes objects, which cannot be read outside "
                    "Kubernetes: ignored. Put those variables in env:, or in infergate's own environment (the "
                    "replicas it runs inherit it)",
                    c->file, ig_yaml_line(node), path, m->model.name ? m->model.name : "?",
                    refs[0] ? refs : "no names");
}

/*
 * A model the gateway runs itself gets its url's reference without the scheme ({model_ref}: "hf://org/m"
 * -> "org/m"). For s3://, gs://, oss:// and pvc:// that is not something an engine can load (vLLM would
 * read "bucket/path" as a Hugging Face repo): KubeAI downloads or mounts those first. Refused, saying
 * what to do, unless the replica's command does not use {model_ref} (a command: that handles {url}).
 */
static int uses_model_ref(const char *const *v)
{
    for (size_t i = 0; v && v[i]; i++)
        if (strstr(v[i], "{model_ref}"))
            return 1;
    return 0;
}

static void check_runnable_url(ig_cfg_ctx_t *c, yaml_node_t *url_node, const char *path, const ig_model_config_t *m)
{
    static const char *const schemes[] = {"s3://", "gs://", "oss://", "pvc://", NULL};
    const char *url = m->model.url;
    if (!url || m->nendpoints > 0)
        return; /* static endpoints: the url is informational */
    size_t k;
    for (k = 0; schemes[k]; k++)
        if (strncmp(url, schemes[k], strlen(schemes[k])) == 0)
            break;
    if (!schemes[k])
        return;
    const ig_launch_recipe_t *recipe =
        m->engine_plugin ? ((const ig_engine_vtable_t *)m->engine_plugin->desc->vtable)->launch : NULL;
    const char *const *argv = m->command ? m->command : m->profile && m->profile->command ? m->profile->command
                                                      : recipe                            ? recipe->argv
                                                                                          : NULL;
    int recipe_env = !m->command && !(m->profile && m->profile->command) && recipe;
    if (!uses_model_ref(argv) && !(recipe_env && uses_model_ref(recipe->env)))
        return;
    size_t slen = strlen(schemes[k]);
    if (k == 3)
        ig_yaml_error(c->y, url_node, path,
                      "\"%.200s\": pvc:// names a Kubernetes PersistentVolumeClaim, which KubeAI mounts into its pods; "
                      "this gateway runs the model's replicas itself, on this machine. Mount the volume here and set "
                      "url: file:///<mount path>%s%.200s, or run the engine elsewhere and list it under endpoints:",
                      url, strchr(url + slen, '/') ? "/" : "", strchr(url + slen, '/') ? strchr(url + slen, '/') + 1 : "");
    else
        ig_yaml_error(c->y, url_node, path,
                      "\"%.200s\": the engine cannot load %s URLs (it would get \"%.200s\", read as a Hugging Face "
                      "repo); KubeAI downloads them first with its model loader. Copy the model to this machine and "
                      "set url: file:///<its directory>, or run the engine elsewhere and list it under endpoints:, "
                      "or give a command: that takes {url} itself",
                      url, schemes[k], url + slen);
}

void ig_cfg_parse_model(ig_cfg_ctx_t *c, yaml_node_t *map, const char *path, const ig_cfg_manifest_meta_t *meta,
                        ig_model_config_t *m)
{
    ig_yaml_t *y = c->y;
    char kpath[IG_PATH_MAX], known[256];
    yaml_node_t *name_node = meta ? meta->name : NULL;
    m->file = c->file;
    m->line = ig_yaml_line(map);
    m->model.limits = IG_LIMITS_NONE;
    m->model.listed = IG_LISTED_AUTO;
    ig_yaml_check_keys(y, map, path, meta ? spec_keys : model_keys);
    for (size_t i = 0; ignored_fields[i]; i++)
        if (ig_yaml_map_get(y, map, ignored_fields[i]))
            c->ignored_seen |= 1u << i;

    /* name */
    const char *name;
    const char *npath = name_node ? "metadata.name" : ig_path_key(kpath, sizeof(kpath), path, "name");
    yaml_node_t *nn = name_node ? name_node : ig_yaml_map_get(y, map, "name");
    if (!nn) {
        ig_yaml_error(y, map, path, "missing \"name\"");
    } else if (ig_yaml_str(y, nn, npath, &name) == 0) {
        if (!valid_chars(name, 128, "._-"))
            ig_yaml_error(y, nn, npath, "invalid model name \"%.80s\" (1 to 128 of A-Z a-z 0-9 . _ -)", name);
        else
            m->model.name = ig_cfg_strdup(c, name);
    }

    /* engine */
    yaml_node_t *en = ig_yaml_map_get(y, map, "engine");
    const char *engine;
    ig_path_key(kpath, sizeof(kpath), path, "engine");
    if (!en) {
        ig_yaml_error(y, map, path, "missing \"engine\"");
    } else if (ig_yaml_str(y, en, kpath, &engine) == 0) {
        m->model.engine = ig_cfg_strdup(c, engine);
        m->engine_plugin = ig_plugin_find(c->loaded, c->nloaded, IG_PLUGIN_ENGINE, engine);
        if (!m->engine_plugin && !failed_plugin(c, engine)) {
            loaded_names(c, IG_PLUGIN_ENGINE, known, sizeof(known));
            ig_yaml_error(y, en, kpath, "unknown engine \"%.80s\" (loaded: %s)", engine, known);
        }
    }

    m->model.url = str_field(c, map, path, "url");
    m->model.served_name = str_field(c, map, path, "servedModelName");
    if (!m->model.served_name)
        m->model.served_name = m->model.name;

    parse_features(c, ig_yaml_map_get(y, map, "features"), ig_path_key(kpath, sizeof(kpath), path, "features"), m);
    parse_endpoints(c, ig_yaml_map_get(y, map, "endpoints"), ig_path_key(kpath, sizeof(kpath), path, "endpoints"), m);
    yaml_node_t *rp = ig_yaml_map_get(y, map, "resourceProfile");
    parse_resource_profile(c, rp, ig_path_key(kpath, sizeof(kpath), path, "resourceProfile"), m);
    parse_string_list(c, ig_yaml_map_get(y, map, "args"), ig_path_key(kpath, sizeof(kpath), path, "args"),
                      &m->model.args, &m->model.nargs);
    ig_kv_t *env = NULL;
    ig_cfg_parse_env(c, ig_yaml_map_get(y, map, "env"), ig_path_key(kpath, sizeof(kpath), path, "env"), &env,
                     &m->model.nenv);
    m->model.env = env;
    parse_env_from(c, ig_yaml_map_get(y, map, "envFrom"), ig_path_key(kpath, sizeof(kpath), path, "envFrom"), m);

    yaml_node_t *cmd = ig_yaml_map_get(y, map, "command");
    if (cmd)
        ig_cfg_parse_command(c, cmd, ig_path_key(kpath, sizeof(kpath), path, "command"), &m->command, &m->ncommand);
    parse_priority_class(c, ig_yaml_map_get(y, map, "priorityClassName"),
                         ig_path_key(kpath, sizeof(kpath), path, "priorityClassName"), m);
    check_runnable_url(c, ig_yaml_map_get(y, map, "url"), ig_path_key(kpath, sizeof(kpath), path, "url"), m);

    /* replicas, as KubeAI means them: maxReplicas absent is no limit, replicas is the autoscaler's
     * (a starting count) unless autoscalingDisabled makes it the fixed count */
    m->min_replicas = int_field(c, map, path, "minReplicas", 0, 10000, 0);
    m->max_replicas = int_field(c, map, path, "maxReplicas", 0, 10000, -1);
    m->replicas = int_field(c, map, path, "replicas", 0, 10000, -1);
    yaml_node_t *ad = ig_yaml_map_get(y, map, "autoscalingDisabled");
    if (ad)
        ig_yaml_bool(y, ad, ig_path_key(kpath, sizeof(kpath), path, "autoscalingDisabled"), &m->autoscaling_disabled);
    m->target_requests = int_field(c, map, path, "targetRequests", 1, 1000000, 100);
    m->scale_down_delay_s = int_field(c, map, path, "scaleDownDelaySeconds", 0, 7 * 86400, 30);
    if (m->max_replicas >= 0 && m->max_replicas < m->min_replicas) {
        yaml_node_t *mx = ig_yaml_map_get(y, map, "maxReplicas");
        ig_yaml_error(y, mx, ig_path_key(kpath, sizeof(kpath), path, "maxReplicas"),
                      "maxReplicas (%d) is less than minReplicas (%d)", m->max_replicas, m->min_replicas);
    }

    parse_load_balancing(c, ig_yaml_map_get(y, map, "loadBalancing"),
                         ig_path_key(kpath, sizeof(kpath), path, "loadBalancing"), m->line, m);
    parse_adapters(c, ig_yaml_map_get(y, map, "adapters"), ig_path_key(kpath, sizeof(kpath), path, "adapters"), m);
    parse_limits(c, ig_yaml_map_get(y, map, "limits"), ig_path_key(kpath, sizeof(kpath), path, "limits"), m);
    ig_cfg_parse_addresses(c, map, path, m);

    /* owner: KubeAI's, shown as owned_by in /v1/models; an export writes owner: "" when unset */
    yaml_node_t *ow = ig_yaml_map_get(y, map, "owner");
    const char *owner;
    if (ow && !ig_yaml_is_null(ow) && ig_yaml_str(y, ow, ig_path_key(kpath, sizeof(kpath), path, "owner"), &owner) == 0 &&
        *owner)
        m->model.owner = ig_cfg_strdup(c, owner);

    /* listed: may the public listings show it (default: when every key may use it) */
    yaml_node_t *ls = ig_yaml_map_get(y, map, "listed");
    int b;
    if (ls && ig_yaml_bool(y, ls, ig_path_key(kpath, sizeof(kpath), path, "listed"), &b) == 0)
        m->model.listed = b ? IG_LISTED_YES : IG_LISTED_NO;
    if (meta && meta->listed) {
        const char *v;
        const char *lpath = "metadata.annotations.infergate/listed";
        if (ls)
            ig_yaml_error(y, meta->listed, lpath, "given twice: here and in %s.listed", path);
        else if (ig_yaml_str(y, meta->listed, lpath, &v) == 0) {
            if (strcmp(v, "true") == 0)
                m->model.listed = IG_LISTED_YES;
            else if (strcmp(v, "false") == 0)
                m->model.listed = IG_LISTED_NO;
            else
                ig_yaml_error(y, meta->listed, lpath, "expected \"true\" or \"false\", got \"%.40s\"", v);
        }
    }

    /* the listing metadata (openrouter: here, or the manifest's annotation), then the prices of both */
    yaml_node_t *orr = ig_yaml_map_get(y, map, "openrouter");
    char opath[IG_PATH_MAX];
    ig_path_key(opath, sizeof(opath), path, "openrouter");
    const char *meta_path = opath, *meta_json = NULL;
    yaml_node_t *meta_pricing = NULL;
    int meta_line = 0;
    if (orr && !ig_yaml_is_null(orr)) {
        if (ig_yaml_expect_map(y, orr, opath) == 0) {
            m->model.openrouter_json = ig_yaml_to_json(y, orr, opath, c->a);
            meta_pricing = ig_yaml_map_get(y, orr, "pricing");
        }
        if (meta && meta->openrouter_json)
            ig_yaml_error_line(y, meta->openrouter_line, "metadata.annotations.openrouter.ai/json",
                               "listing metadata is given twice: here and in %s", opath);
    } else if (meta && meta->openrouter_json) {
        m->model.openrouter_json = meta_json = ig_cfg_strdup(c, meta->openrouter_json);
        meta_line = meta->openrouter_line;
        meta_path = "metadata.annotations.openrouter.ai/json";
    }
    ig_cfg_model_pricing(c, ig_yaml_map_get(y, map, "pricing"), ig_path_key(kpath, sizeof(kpath), path, "pricing"),
                         meta_pricing, meta_json, meta_line, meta_path, m);

    if (m->nendpoints == 0 && !rp)
        ig_yaml_error(y, map, path, "no endpoints and no resourceProfile: nothing could serve it");
    m->config_json = ig_yaml_to_json(y, map, path, c->a); /* GET /admin/models shows it as written */
}

void ig_cfg_add_model(ig_cfg_ctx_t *c, const ig_model_config_t *m)
{
    if (c->nmodels == c->models_cap) {
        size_t ncap = c->models_cap ? c->models_cap * 2 : 8;
        ig_model_config_t *ms = realloc(c->models, ncap * sizeof(*ms));
        if (!ms) {
            ig_errors_at(c->errs, c->y->file, 0, "out of memory");
            return;
        }
        c->models = ms;
        c->models_cap = ncap;
    }
    c->models[c->nmodels++] = *m;
}

void ig_cfg_warn_ignored(ig_cfg_ctx_t *c)
{
    if (!c->ignored_seen)
        return;
    char list[256];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; ignored_fields[i]; i++) {
        if (!(c->ignored_seen & (1u << i)))
            continue;
        int w = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", ignored_fields[i]);
        if (w > 0 && (size_t)w < sizeof(list) - off)
            off += (size_t)w;
    }
    ig_log_warn("%s: ignoring KubeAI field(s) that mean nothing outside Kubernetes (pod images, caches, files, "
                "patches): %s", c->y->file, list);
    c->ignored_seen = 0;
}

void ig_cfg_parse_models(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node))
        return;
    if (node->type == YAML_SCALAR_NODE) {
        const char *dir;
        if (ig_yaml_str(y, node, "models", &dir) == 0) {
            c->cfg->models_dir = ig_cfg_strdup(c, dir);
            ig_cfg_parse_manifest_dir(c, node, dir);
        }
        return;
    }
    if (node->type != YAML_SEQUENCE_NODE) {
        ig_yaml_error(y, node, "models", "expected a list of models or a folder of KubeAI Model manifests, got a map");
        return;
    }
    size_t n = ig_yaml_seq_len(node);
    for (size_t i = 0; i < n; i++) {
        char path[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        ig_path_index(path, sizeof(path), "models", i);
        if (ig_yaml_expect_map(y, item, path) != 0)
            continue;
        ig_model_config_t m = {0};
        ig_cfg_parse_model(c, item, path, NULL, &m);
        ig_cfg_add_model(c, &m);
    }
}

/* Where a model is, for messages that point at another one. */
static void describe_model(const ig_cfg_ctx_t *c, size_t i, char *buf, size_t cap)
{
    const ig_model_config_t *m = &c->models[i];
    if (c->cfg->models_dir || m->runtime)
        snprintf(buf, cap, "%s:%d", m->file, m->line);
    else
        snprintf(buf, cap, "models[%zu], line %d", i, m->line);
}

static void model_error(ig_cfg_ctx_t *c, size_t i, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void model_error(ig_cfg_ctx_t *c, size_t i, const char *fmt, ...)
{
    const ig_model_config_t *m = &c->models[i];
    char path[64], msg[600];
    if (c->cfg->models_dir || m->runtime)
        snprintf(path, sizeof(path), "metadata.name");
    else
        snprintf(path, sizeof(path), "models[%zu].name", i);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ig_errors_at(c->errs, m->file, m->line, "%s: %s", path, msg);
}

/* Name -> first model index, open addressing: aliases can repeat one model thousands of times, so no O(n^2). */
typedef struct {
    uint32_t *slots; /* index + 1; 0 = empty */
    size_t mask;
    const ig_model_config_t *models;
} name_index_t;

/* The first model named s[0..n), or -1. */
static long name_lookup(const name_index_t *ix, const char *s, size_t n)
{
    for (size_t slot = ig_fnv1a32(IG_FNV32_OFFSET, s, n) & ix->mask;; slot = (slot + 1) & ix->mask) {
        uint32_t v = ix->slots[slot];
        if (!v)
            return -1;
        const char *m = ix->models[v - 1].model.name;
        if (strlen(m) == n && memcmp(m, s, n) == 0)
            return (long)v - 1;
    }
}

void ig_cfg_check_models(ig_cfg_ctx_t *c)
{
    char where[300];
    name_index_t ix = {.models = c->models};
    size_t cap = 16;
    while (cap < c->nmodels * 2)
        cap *= 2;
    ix.slots = calloc(cap, sizeof(*ix.slots));
    ix.mask = cap - 1;
    if (!ix.slots) {
        ig_errors_at(c->errs, c->file, 0, "out of memory");
        return;
    }
    for (size_t i = 0; i < c->nmodels; i++) {
        const char *name = c->models[i].model.name;
        if (!name)
            continue;
        long first = name_lookup(&ix, name, strlen(name));
        if (first >= 0) {
            describe_model(c, (size_t)first, where, sizeof(where));
            model_error(c, i, "duplicate model name \"%s\" (first at %s)", name, where);
            continue;
        }
        size_t slot = ig_fnv1a32(IG_FNV32_OFFSET, name, strlen(name)) & ix.mask;
        while (ix.slots[slot])
            slot = (slot + 1) & ix.mask;
        ix.slots[slot] = (uint32_t)i + 1;
    }
    /* "<other>_<adapter>" would make a request for this name ambiguous */
    for (size_t i = 0; i < c->nmodels; i++) {
        const char *name = c->models[i].model.name;
        if (!name)
            continue;
        for (size_t cut = strlen(name); cut-- > 0;) {
            if (name[cut] != '_')
                continue;
            long j = name_lookup(&ix, name, cut);
            if (j < 0 || (size_t)j == i)
                continue;
            const ig_model_t *o = &c->models[j].model;
            for (size_t a = 0; a < o->nadapters; a++) {
                if (strcmp(o->adapters[a].name, name + cut + 1) == 0) {
                    describe_model(c, (size_t)j, where, sizeof(where));
                    model_error(c, i,
                                "model name \"%s\" is ambiguous: it also names adapter \"%s\" of model \"%s\" (%s)",
                                name, o->adapters[a].name, o->name, where);
                }
            }
        }
    }
    free(ix.slots);
}
