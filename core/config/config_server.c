/*
 * config_server.c — the server: section (listeners, workers, limits,
 * timeouts, logs, retries, health checks, the request queue). Defaults are
 * applied here, so a config without a server: section still gets a complete
 * ig_server_config_t.
 */
#include "config/config_internal.h"
#include "config/config_values.h"
#include "observe/log.h"
#include "util/hex.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const server_keys[] = {"listen",         "workers",          "stateDir",    "maxBodySize",
                                          "connectTimeout", "firstByteTimeout", "idleTimeout", "accessLog",
                                          "logLevel",       "retries",          "healthCheck", "queue",
                                          "adminKeys",      "shutdownGracePeriod", NULL};
static const char *const listen_keys[] = {"address", "tls", NULL};
static const char *const tls_keys[] = {"certificate", "key", NULL};
static const char *const health_check_keys[] = {"interval", "timeout", "healthyThreshold", "unhealthyThreshold", NULL};
static const char *const queue_keys[] = {"maxLength", "timeout", NULL};

/* TLS material is read when listeners start; check now so -t catches it. */
static char *readable_file(ig_cfg_ctx_t *c, yaml_node_t *n, const char *path)
{
    const char *file;
    if (ig_yaml_str(c->y, n, path, &file) != 0)
        return NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block -t */
    if (fd < 0) {
        ig_yaml_error(c->y, n, path, "cannot read \"%s\": %s", file, strerror(errno));
        return NULL;
    }
    struct stat st;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular) {
        ig_yaml_error(c->y, n, path, "\"%s\" is not a regular file", file);
        return NULL;
    }
    return ig_cfg_strdup(c, file);
}

static int parse_listen_item(ig_cfg_ctx_t *c, yaml_node_t *item, const char *path, ig_listen_config_t *l)
{
    ig_yaml_t *y = c->y;
    yaml_node_t *addr = item;
    char kpath[IG_PATH_MAX], tpath[IG_PATH_MAX];
    const char *apath = path;
    l->line = ig_yaml_line(item);
    if (item->type == YAML_MAPPING_NODE) {
        ig_yaml_check_keys(y, item, path, listen_keys);
        addr = ig_yaml_map_get(y, item, "address");
        apath = ig_path_key(kpath, sizeof(kpath), path, "address");
        if (!addr) {
            ig_yaml_error(y, item, path, "missing \"address\" (host:port)");
            return -1;
        }
        yaml_node_t *tls = ig_yaml_map_get(y, item, "tls");
        if (tls) {
            ig_path_key(tpath, sizeof(tpath), path, "tls");
            if (ig_yaml_expect_map(y, tls, tpath) == 0) {
                char fpath[IG_PATH_MAX];
                ig_yaml_check_keys(y, tls, tpath, tls_keys);
                yaml_node_t *cert = ig_yaml_map_get(y, tls, "certificate");
                yaml_node_t *key = ig_yaml_map_get(y, tls, "key");
                if (!cert)
                    ig_yaml_error(y, tls, tpath, "missing \"certificate\" (PEM file)");
                else
                    l->certificate = readable_file(c, cert, ig_path_key(fpath, sizeof(fpath), tpath, "certificate"));
                if (!key)
                    ig_yaml_error(y, tls, tpath, "missing \"key\" (PEM file)");
                else
                    l->key = readable_file(c, key, ig_path_key(fpath, sizeof(fpath), tpath, "key"));
                l->tls = 1;
            }
        }
    } else if (item->type != YAML_SCALAR_NODE) {
        ig_yaml_error(y, item, path, "expected \"host:port\" or {address: host:port, tls: {...}}, got a list");
        return -1;
    }
    const char *s;
    if (ig_yaml_str(y, addr, apath, &s) != 0)
        return -1;
    char host[256], msg[256];
    if (ig_parse_host_port(s, host, sizeof(host), &l->port, msg, sizeof(msg)) != 0) {
        ig_yaml_error(y, addr, apath, "%s", msg);
        return -1;
    }
    l->address = ig_cfg_strdup(c, s);
    l->host = ig_cfg_strdup(c, host);
    return 0;
}

static void parse_listen(ig_cfg_ctx_t *c, yaml_node_t *node, ig_server_config_t *s)
{
    ig_yaml_t *y = c->y;
    const char *path = "server.listen";
    if (!node) {
        s->listen = ig_arena_alloc(c->a, sizeof(*s->listen));
        if (!s->listen)
            return;
        s->listen[0] = (ig_listen_config_t){.address = ig_cfg_strdup(c, "127.0.0.1:8080"),
                                            .host = ig_cfg_strdup(c, "127.0.0.1"),
                                            .port = 8080};
        s->nlisten = 1;
        return;
    }
    if (ig_yaml_expect_seq(y, node, path) != 0)
        return;
    size_t n = ig_yaml_seq_len(node);
    if (n == 0) {
        ig_yaml_error(y, node, path, "at least one address is needed");
        return;
    }
    s->listen = ig_arena_array(c->a, n, sizeof(*s->listen));
    if (!s->listen)
        return;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return;
        ig_path_index(ipath, sizeof(ipath), path, i);
        ig_listen_config_t l = {0};
        if (parse_listen_item(c, item, ipath, &l) != 0)
            continue;
        int dup = 0;
        for (size_t j = 0; j < s->nlisten; j++)
            if (s->listen[j].port == l.port && strcmp(s->listen[j].host, l.host) == 0) {
                ig_yaml_error(y, item, ipath, "address %s is listed twice (first at line %d)", l.address,
                              s->listen[j].line);
                dup = 1;
                break;
            }
        if (!dup)
            s->listen[s->nlisten++] = l;
    }
}

static void parse_workers(ig_cfg_ctx_t *c, yaml_node_t *node, ig_server_config_t *s)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    if (cpus > 256)
        cpus = 256;
    s->workers = (int)cpus;
    if (!node)
        return;
    if (node->type == YAML_SCALAR_NODE && strcmp((const char *)node->data.scalar.value, "auto") == 0)
        return;
    int64_t v;
    if (node->type == YAML_SCALAR_NODE && !ig_yaml_is_null(node) &&
        ig_parse_int64((const char *)node->data.scalar.value, &v) != 0) {
        ig_yaml_error(c->y, node, "server.workers", "expected an integer from 1 to 256 or \"auto\", got \"%.40s\"",
                      (const char *)node->data.scalar.value);
        return;
    }
    if (ig_yaml_int(c->y, node, "server.workers", 1, 256, &v) == 0)
        s->workers = (int)v;
}

static char *string_or(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, const char *dflt)
{
    const char *s;
    if (!node)
        return ig_cfg_strdup(c, dflt);
    if (ig_yaml_str(c->y, node, path, &s) != 0)
        return NULL;
    if (!*s) {
        ig_yaml_error(c->y, node, path, "must not be empty");
        return NULL;
    }
    return ig_cfg_strdup(c, s);
}

#define DAY_MS (24ull * 3600 * 1000)

/* map.key under parent: a duration in [min, max] ms, or dflt when map or the key is absent. */
static void duration_in(ig_cfg_ctx_t *c, yaml_node_t *map, const char *parent, const char *key, uint64_t min,
                        uint64_t max, uint64_t dflt, uint64_t *out)
{
    char path[IG_PATH_MAX];
    yaml_node_t *n = map ? ig_yaml_map_get(c->y, map, key) : NULL;
    *out = dflt;
    if (n)
        ig_yaml_duration(c->y, n, ig_path_key(path, sizeof(path), parent, key), min, max, out);
}

static void duration(ig_cfg_ctx_t *c, yaml_node_t *map, const char *key, uint64_t dflt, uint64_t *out)
{
    /* > 0, and at most a day: longer is certainly a unit mistake */
    duration_in(c, map, "server", key, 1, DAY_MS, dflt, out);
}

/* map.key under parent: an integer in [min, max], or dflt. */
static void uint_in(ig_cfg_ctx_t *c, yaml_node_t *map, const char *parent, const char *key, unsigned min,
                    unsigned max, unsigned dflt, unsigned *out)
{
    char path[IG_PATH_MAX];
    yaml_node_t *n = map ? ig_yaml_map_get(c->y, map, key) : NULL;
    int64_t v;
    *out = dflt;
    if (n && ig_yaml_int(c->y, n, ig_path_key(path, sizeof(path), parent, key), min, max, &v) == 0)
        *out = (unsigned)v;
}

/* server.<key>: a map, or absent/null (defaults). NULL when absent or after reporting a non-map. */
static yaml_node_t *sub_map(ig_cfg_ctx_t *c, yaml_node_t *server, const char *key, const char *path,
                            const char *const *known)
{
    yaml_node_t *n = server ? ig_yaml_map_get(c->y, server, key) : NULL;
    if (n == NULL || ig_yaml_is_null(n) || ig_yaml_expect_map(c->y, n, path) != 0)
        return NULL;
    ig_yaml_check_keys(c->y, n, path, known);
    return n;
}

/*
 * healthCheck: active probes on each endpoint's engine health path, and the
 * threshold shared with passive ejection (consecutive failed requests).
 * An interval under 50ms would probe engines harder than it serves them.
 */
static void parse_health_check(ig_cfg_ctx_t *c, yaml_node_t *server, ig_server_config_t *s)
{
    static const char path[] = "server.healthCheck";
    yaml_node_t *hc = sub_map(c, server, "healthCheck", path, health_check_keys);
    duration_in(c, hc, path, "interval", 50, DAY_MS, 5000, &s->health_check.interval_ms);
    duration_in(c, hc, path, "timeout", 1, DAY_MS, 2000, &s->health_check.timeout_ms);
    uint_in(c, hc, path, "healthyThreshold", 1, 100, 1, &s->health_check.healthy_threshold);
    uint_in(c, hc, path, "unhealthyThreshold", 1, 100, 3, &s->health_check.unhealthy_threshold);
}

static void parse_queue(ig_cfg_ctx_t *c, yaml_node_t *server, ig_server_config_t *s)
{
    static const char path[] = "server.queue";
    yaml_node_t *q = sub_map(c, server, "queue", path, queue_keys);
    uint_in(c, q, path, "maxLength", 0, 100000, 100, &s->queue.max_length);
    duration_in(c, q, path, "timeout", 1, DAY_MS, 30000, &s->queue.timeout_ms);
}

/* Admin keys are configured as hashes only ("sha256:<64 hex>"): the file never holds a secret. */
static void parse_admin_keys(ig_cfg_ctx_t *c, yaml_node_t *seq, ig_server_config_t *s)
{
    ig_yaml_t *y = c->y;
    if (!seq || ig_yaml_is_null(seq) || ig_yaml_expect_seq(y, seq, "server.adminKeys") != 0)
        return;
    size_t n = ig_yaml_seq_len(seq);
    s->admin_key_hashes = ig_arena_alloc(c->a, (n ? n : 1) * sizeof(*s->admin_key_hashes));
    for (size_t i = 0; i < n; i++) {
        char path[64];
        snprintf(path, sizeof(path), "server.adminKeys[%zu]", i);
        yaml_node_t *item = ig_yaml_seq_at(y, seq, i);
        const char *v;
        if (ig_yaml_str(y, item, path, &v) != 0)
            continue;
        if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64 ||
            ig_hex_decode(v + 7, 32, s->admin_key_hashes[s->nadmin_keys]) != 0) {
            ig_yaml_error(y, item, path,
                          "expected \"sha256:<64 hex digits>\" (the SHA-256 of the key: printf %%s KEY | sha256sum)");
            continue;
        }
        s->nadmin_keys++;
    }
}

void ig_cfg_parse_server(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_yaml_t *y = c->y;
    ig_server_config_t *s = &c->cfg->server;
    if (node && ig_yaml_is_null(node))
        node = NULL;
    if (node && ig_yaml_expect_map(y, node, "server") != 0)
        node = NULL; /* still fill in defaults */
    if (node)
        ig_yaml_check_keys(y, node, "server", server_keys);

    parse_listen(c, node ? ig_yaml_map_get(y, node, "listen") : NULL, s);
    parse_workers(c, node ? ig_yaml_map_get(y, node, "workers") : NULL, s);
    s->state_dir = string_or(c, node ? ig_yaml_map_get(y, node, "stateDir") : NULL, "server.stateDir", "./var");

    uint64_t body = 16u << 20;
    yaml_node_t *mb = node ? ig_yaml_map_get(y, node, "maxBodySize") : NULL;
    if (mb)
        ig_yaml_size(y, mb, "server.maxBodySize", 1024, 1u << 30, &body);
    s->max_body_bytes = (size_t)body;

    duration(c, node, "connectTimeout", 5000, &s->connect_timeout_ms);
    duration(c, node, "firstByteTimeout", 120000, &s->first_byte_timeout_ms);
    duration(c, node, "idleTimeout", 60000, &s->idle_timeout_ms);
    duration(c, node, "shutdownGracePeriod", 10000, &s->shutdown_grace_ms);

    uint_in(c, node, "server", "retries", 0, 10, 2, &s->retries);
    parse_health_check(c, node, s);
    parse_queue(c, node, s);
    parse_admin_keys(c, node ? ig_yaml_map_get(y, node, "adminKeys") : NULL, s);

    s->access_log = string_or(c, node ? ig_yaml_map_get(y, node, "accessLog") : NULL, "server.accessLog", "-");

    yaml_node_t *ll = node ? ig_yaml_map_get(y, node, "logLevel") : NULL;
    s->log_level = ig_cfg_strdup(c, "info");
    const char *lv;
    ig_log_level_t level;
    if (ll && ig_yaml_str(y, ll, "server.logLevel", &lv) == 0) {
        if (ig_log_level_parse(lv, &level) != 0)
            ig_yaml_error(y, ll, "server.logLevel", "unknown level \"%.40s\" (error, warn, info, debug)", lv);
        else
            s->log_level = ig_cfg_strdup(c, lv);
    }
}
