/*
 * config_scheduler.c — the `scheduler:` section (how replicas of models without static endpoints
 * are run: autoscaling period and window, stop grace, log folder, priority classes) and the
 * `command:` lists that models and resource profiles may set to replace an engine's launch argv.
 */
#include "config/config_internal.h"
#include <ctype.h>
#include <string.h>

#define DAY_MS (24ull * 3600 * 1000)

static const char *const scheduler_keys[] = {"interval",     "timeWindow", "stopGracePeriod", "drainTimeout",
                                             "startTimeout", "logDir",     "priorityClasses", NULL};

static void duration_key(ig_cfg_ctx_t *c, yaml_node_t *map, const char *key, uint64_t min, uint64_t dflt,
                         uint64_t *out)
{
    char path[IG_PATH_MAX];
    *out = dflt;
    yaml_node_t *n = map ? ig_yaml_map_get(c->y, map, key) : NULL;
    if (n)
        ig_yaml_duration(c->y, n, ig_path_key(path, sizeof(path), "scheduler", key), min, DAY_MS, out);
}

/* Kubernetes PriorityClass names: DNS-1123 subdomain characters. */
static int valid_class_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 253)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static void parse_priority_classes(ig_cfg_ctx_t *c, yaml_node_t *node, ig_scheduler_config_t *sc)
{
    ig_yaml_t *y = c->y;
    const char *path = "scheduler.priorityClasses";
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_map(y, node, path) != 0)
        return;
    size_t len = ig_yaml_map_len(node);
    sc->priority_classes = ig_arena_array(c->a, len + 1, sizeof(*sc->priority_classes));
    if (!sc->priority_classes)
        return;
    for (size_t i = 0; i < len; i++) {
        const char *name = NULL;
        char kpath[IG_PATH_MAX];
        int64_t v;
        yaml_node_t *item = ig_yaml_map_at(y, node, i, &name);
        if (!item)
            return;
        if (!name)
            continue;
        ig_path_key(kpath, sizeof(kpath), path, name);
        if (!valid_class_name(name)) {
            ig_yaml_error(y, item, kpath, "invalid priority class name (lower-case letters, digits, '-', '.')");
            continue;
        }
        /* the range of Kubernetes' user-defined PriorityClass values */
        if (ig_yaml_int(y, item, kpath, -1000000000, 1000000000, &v) != 0)
            continue;
        sc->priority_classes[sc->npriority_classes].name = ig_cfg_strdup(c, name);
        sc->priority_classes[sc->npriority_classes].value = (int)v;
        sc->npriority_classes++;
    }
}

void ig_cfg_parse_scheduler(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_yaml_t *y = c->y;
    ig_scheduler_config_t *sc = &c->cfg->scheduler;
    if (node && ig_yaml_is_null(node))
        node = NULL;
    if (node && ig_yaml_expect_map(y, node, "scheduler") != 0)
        node = NULL;
    if (node)
        ig_yaml_check_keys(y, node, "scheduler", scheduler_keys);
    duration_key(c, node, "interval", 50, 1000, &sc->interval_ms);
    duration_key(c, node, "timeWindow", 50, 60000, &sc->time_window_ms);
    duration_key(c, node, "stopGracePeriod", 0, 15000, &sc->stop_grace_ms);
    duration_key(c, node, "drainTimeout", 0, 600000, &sc->drain_timeout_ms);
    /* vLLM may download weights for a long time before its health path answers */
    duration_key(c, node, "startTimeout", 1000, 1800000, &sc->start_timeout_ms);
    if (!node)
        return;
    yaml_node_t *ld = ig_yaml_map_get(y, node, "logDir");
    const char *dir;
    if (ld && ig_yaml_str(y, ld, "scheduler.logDir", &dir) == 0) {
        if (!*dir)
            ig_yaml_error(y, ld, "scheduler.logDir", "must not be empty");
        else
            sc->log_dir = ig_cfg_strdup(c, dir);
    }
    if (sc->time_window_ms < sc->interval_ms) {
        yaml_node_t *tw = ig_yaml_map_get(y, node, "timeWindow");
        ig_yaml_error(y, tw ? tw : node, "scheduler.timeWindow", "is shorter than scheduler.interval (%llums)",
                      (unsigned long long)sc->interval_ms);
    }
    parse_priority_classes(c, ig_yaml_map_get(y, node, "priorityClasses"), sc);
}

int ig_cfg_priority_of(ig_cfg_ctx_t *c, const char *name, int *value)
{
    const ig_scheduler_config_t *sc = &c->cfg->scheduler;
    for (size_t i = 0; i < sc->npriority_classes; i++) {
        if (strcmp(sc->priority_classes[i].name, name) == 0) {
            *value = sc->priority_classes[i].value;
            return 0;
        }
    }
    return -1;
}

void ig_cfg_parse_command(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, const char *const **out, size_t *n)
{
    ig_yaml_t *y = c->y;
    *out = NULL;
    *n = 0;
    if (!node || ig_yaml_expect_seq(y, node, path) != 0)
        return;
    size_t len = ig_yaml_seq_len(node);
    if (len == 0) {
        ig_yaml_error(y, node, path, "must name a program (a list like [\"/usr/bin/vllm\", \"serve\", ...])");
        return;
    }
    const char **argv = ig_arena_array(c->a, len + 1, sizeof(*argv));
    if (!argv)
        return;
    for (size_t i = 0; i < len; i++) {
        char ipath[IG_PATH_MAX];
        const char *s;
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        if (ig_yaml_str(y, item, ig_path_index(ipath, sizeof(ipath), path, i), &s) != 0)
            return;
        if (i == 0 && !*s) {
            ig_yaml_error(y, item, ipath, "the program must not be empty");
            return;
        }
        argv[i] = ig_cfg_strdup(c, s);
    }
    argv[len] = NULL;
    *out = argv;
    *n = len;
}
