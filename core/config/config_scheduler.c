/*
 * config_scheduler.c — the `scheduler:` section (how replicas of models without static endpoints
 * are run: autoscaling period and window, stop grace, log folder, priority classes), declared key
 * by key as plugin options are (plugin_options.h's rows), and the
 * `command:` lists that models and resource profiles may set to replace an engine's launch argv.
 */
#include "config/config_internal.h"
#include <ctype.h>
#include <string.h>

#define DAY_MS (24ll * 3600 * 1000)

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

/* priorityClasses: {name: value}; the names are the user's, so the map is read here, not declared */
static int read_priority_classes(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path,
                                 const ig_option_row_t *row, void *out)
{
    ig_scheduler_config_t *sc = out;
    if (ig_yaml_is_null(node))
        return 0;
    if (ig_yaml_expect_map(y, node, path) != 0)
        return -1;
    size_t len = ig_yaml_map_len(node);
    int bad = 0;
    sc->priority_classes = ig_arena_array(a, len + 1, sizeof(*sc->priority_classes));
    if (!sc->priority_classes)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *name = NULL;
        char kpath[IG_PATH_MAX];
        int64_t v;
        yaml_node_t *item = ig_yaml_map_at(y, node, i, &name);
        if (!item)
            return -1;
        if (!name)
            continue;
        ig_path_key(kpath, sizeof(kpath), path, name);
        if (!valid_class_name(name)) {
            ig_yaml_error(y, item, kpath, "invalid priority class name (lower-case letters, digits, '-', '.')");
            bad = 1;
            continue;
        }
        if (ig_yaml_int(y, item, kpath, row->decl.min, row->decl.max, &v) != 0) {
            bad = 1;
            continue;
        }
        sc->priority_classes[sc->npriority_classes].name = ig_arena_strdup(a, name);
        sc->priority_classes[sc->npriority_classes].value = (int)v;
        sc->npriority_classes++;
    }
    return bad ? -1 : 0;
}

#define S ig_scheduler_config_t
const ig_option_row_t ig_cfg_scheduler_rows[] = {
    IG_ROW("interval", IG_OPT_DURATION, "1s", "autoscaling decisions and load samples", 50, DAY_MS, S, interval_ms),
    IG_ROW("timeWindow", IG_OPT_DURATION, "60s", "load is averaged over it (at least interval)", 50, DAY_MS, S,
           time_window_ms),
    IG_ROW("stopGracePeriod", IG_OPT_DURATION, "15s", "SIGTERM, then SIGKILL after it", 0, DAY_MS, S, stop_grace_ms),
    IG_ROW("drainTimeout", IG_OPT_DURATION, "10m", "longest wait for requests in flight on a draining replica", 0,
           DAY_MS, S, drain_timeout_ms),
    /* vLLM may download weights for a long time before its health path answers */
    IG_ROW("startTimeout", IG_OPT_DURATION, "30m", "a replica not ready by then is killed and restarted", 1000,
           DAY_MS, S, start_timeout_ms),
    IG_ROW_FLAGS("logDir", IG_OPT_STRING, IG_ROW_OPTIONAL | IG_ROW_NONEMPTY, NULL,
                 "per-replica logs (default <stateDir>/replicas)", S, log_dir),
    /* values: the range of Kubernetes' user-defined PriorityClass values */
    IG_ROW_READ("priorityClasses", IG_OPT_JSON, IG_ROW_OPTIONAL, NULL,
                "{name: value}: who may take devices from whom when they are short", -1000000000, 1000000000, S,
                priority_classes, read_priority_classes),
    {{NULL}}};
#undef S

void ig_cfg_parse_scheduler(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_scheduler_config_t *sc = &c->cfg->scheduler;
    ig_options_parse_rows(c->y, c->a, node, 1, "scheduler", NULL, ig_cfg_scheduler_rows, sc);
    /* both at least 50ms once read: 0 is a value that failed (reported) */
    if (node && sc->interval_ms && sc->time_window_ms && sc->time_window_ms < sc->interval_ms) {
        yaml_node_t *tw = ig_yaml_map_get(c->y, node, "timeWindow");
        ig_yaml_error(c->y, tw ? tw : node, "scheduler.timeWindow", "is shorter than scheduler.interval (%lldms)",
                      (long long)sc->interval_ms);
    }
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
