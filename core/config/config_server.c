/*
 * config_server.c — the server: section (listeners, workers, limits,
 * timeouts, logs, retries, health checks, the request queue), declared key by
 * key in tables (plugin_options.h's rows, the mechanism plugin options use):
 * name, type, default as written in YAML, bounds, where the value goes. Keys
 * whose values the option types cannot express name a reader here. A config
 * without a server: section gets every default, so ig_server_config_t is
 * always complete.
 */
#include "config/config_internal.h"
#include "config/config_values.h"
#include "config/model_address.h"
#include "observe/log.h"
#include "util/hex.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY_MS (24ll * 3600 * 1000) /* longer is certainly a unit mistake */

/* ---- readers for values the option types cannot express ---- */

/* TLS material is read when listeners start; check now so -t catches it. */
static int read_pem_file(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_row_t *row,
                         void *out)
{
    const char *file;
    if (ig_yaml_str(y, n, path, &file) != 0)
        return -1;
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block -t */
    if (fd < 0) {
        ig_yaml_error(y, n, path, "cannot read \"%s\": %s", file, strerror(errno));
        return -1;
    }
    struct stat st;
    int regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    close(fd);
    if (!regular) {
        ig_yaml_error(y, n, path, "\"%s\" is not a regular file", file);
        return -1;
    }
    char *copy = ig_arena_strdup(a, file);
    memcpy((char *)out + row->decl.offset, &copy, sizeof(copy));
    return copy ? 0 : -1;
}

/* hosts: the names a certificate answers for (SNI), lowercase DNS names */
static int read_cert_hosts(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_row_t *row,
                           void *out)
{
    (void)row;
    ig_tls_certificate_t *t = out;
    if (ig_yaml_expect_seq(y, n, path) != 0)
        return -1;
    size_t count = ig_yaml_seq_len(n);
    if (count == 0) {
        ig_yaml_error(y, n, path, "at least one host name");
        return -1;
    }
    const char **list = ig_arena_array(a, count + 1, sizeof(*list));
    if (!list)
        return -1;
    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        char ipath[IG_PATH_MAX], msg[300];
        const char *h;
        yaml_node_t *item = ig_yaml_seq_at(y, n, i);
        ig_path_index(ipath, sizeof(ipath), path, i);
        if (!item || ig_yaml_str(y, item, ipath, &h) != 0) {
            bad = 1;
            continue;
        }
        if (ig_address_host_valid(h, msg, sizeof(msg)) != 0) {
            ig_yaml_error(y, item, ipath, "%s", msg);
            bad = 1;
            continue;
        }
        list[t->nhosts++] = ig_arena_strdup(a, h);
    }
    t->hosts = list;
    return bad ? -1 : 0;
}

static const ig_option_row_t cert_rows[] = {
    IG_ROW_READ("hosts", IG_OPT_STRING_LIST, 0, NULL, "host names this certificate answers (SNI)", 0, 0,
                ig_tls_certificate_t, hosts, read_cert_hosts),
    IG_ROW_READ("certificate", IG_OPT_STRING, 0, NULL, "PEM file", 0, 0, ig_tls_certificate_t, certificate,
                read_pem_file),
    IG_ROW_READ("key", IG_OPT_STRING, 0, NULL, "PEM file", 0, 0, ig_tls_certificate_t, key, read_pem_file),
    {{NULL}}};

/* tls.certificates: [{hosts, certificate, key}]; a host in two of them is refused */
static int read_certificates(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path,
                             const ig_option_row_t *row, void *out)
{
    (void)row;
    ig_listen_config_t *l = out;
    if (ig_yaml_expect_seq(y, n, path) != 0)
        return -1;
    size_t count = ig_yaml_seq_len(n);
    l->certificates = ig_arena_array(a, count + 1, sizeof(*l->certificates));
    if (!l->certificates)
        return -1;
    int bad = 0;
    for (size_t i = 0; i < count; i++) {
        char ipath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, n, i);
        ig_path_index(ipath, sizeof(ipath), path, i);
        if (!item || ig_yaml_expect_map(y, item, ipath) != 0) {
            bad = 1;
            continue;
        }
        ig_tls_certificate_t t = {.line = ig_yaml_line(item)};
        if (ig_options_parse_rows(y, a, item, t.line, ipath, NULL, cert_rows, &t) != 0) {
            bad = 1;
            continue;
        }
        for (size_t h = 0; h < t.nhosts; h++)
            for (size_t j = 0; j < l->ncertificates; j++)
                for (size_t k = 0; k < l->certificates[j].nhosts; k++)
                    if (strcmp(t.hosts[h], l->certificates[j].hosts[k]) == 0) {
                        ig_yaml_error(y, item, ipath, "host \"%s\" has a certificate already (line %d)", t.hosts[h],
                                      l->certificates[j].line);
                        bad = 1;
                    }
        l->certificates[l->ncertificates++] = t;
    }
    return bad ? -1 : 0;
}

static const ig_option_row_t tls_rows[] = {
    IG_ROW_READ("certificate", IG_OPT_STRING, 0, NULL, "PEM file", 0, 0, ig_listen_config_t, certificate,
                read_pem_file),
    IG_ROW_READ("key", IG_OPT_STRING, 0, NULL, "PEM file", 0, 0, ig_listen_config_t, key, read_pem_file),
    IG_ROW_READ("certificates", IG_OPT_JSON, IG_ROW_OPTIONAL, NULL,
                "[{hosts: [names], certificate: PEM file, key: PEM file}]: chosen by the name a client asks for (SNI)",
                0, 0, ig_listen_config_t, certificates, read_certificates),
    {{NULL}}};

/* tls: {certificate, key}: a map (null is not "no TLS"), its keys into the listener itself */
static int read_tls(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_row_t *row,
                    void *out)
{
    ig_listen_config_t *l = out;
    if (ig_yaml_expect_map(y, n, path) != 0)
        return -1;
    l->tls = 1;
    return ig_options_parse_rows(y, a, n, ig_yaml_line(n), path, NULL, tls_rows, l);
}

/* "host:port" or "[v6]:port" into address, host and port */
static int read_address(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *n, const char *path, const ig_option_row_t *row,
                        void *out)
{
    ig_listen_config_t *l = out;
    const char *s;
    char host[256], msg[256];
    if (ig_yaml_str(y, n, path, &s) != 0)
        return -1;
    if (ig_parse_host_port(s, host, sizeof(host), &l->port, msg, sizeof(msg)) != 0) {
        ig_yaml_error(y, n, path, "%s", msg);
        return -1;
    }
    l->address = ig_arena_strdup(a, s);
    l->host = ig_arena_strdup(a, host);
    return l->address && l->host ? 0 : -1;
}

static const ig_option_row_t listen_rows[] = {
    IG_ROW_READ("address", IG_OPT_STRING, 0, NULL, "host:port", 0, 0, ig_listen_config_t, address, read_address),
    IG_ROW_READ("tls", IG_OPT_JSON, IG_ROW_OPTIONAL, NULL, "{certificate: PEM file, key: PEM file}", 0, 0,
                ig_listen_config_t, tls, read_tls),
    {{NULL}}};

/* a list of "host:port" or {address: host:port, tls: {...}}; the same address twice is refused */
static int read_listen(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path, const ig_option_row_t *row,
                       void *out)
{
    ig_server_config_t *s = out;
    if (ig_yaml_expect_seq(y, node, path) != 0)
        return -1;
    size_t n = ig_yaml_seq_len(node);
    if (n == 0) {
        ig_yaml_error(y, node, path, "at least one address is needed");
        return -1;
    }
    s->listen = ig_arena_array(a, n, sizeof(*s->listen));
    if (!s->listen)
        return -1;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        yaml_node_t *item = ig_yaml_seq_at(y, node, i);
        if (!item)
            return -1;
        ig_path_index(ipath, sizeof(ipath), path, i);
        ig_listen_config_t l = {.line = ig_yaml_line(item)};
        if (item->type == YAML_MAPPING_NODE)
            bad |= ig_options_parse_rows(y, a, item, l.line, ipath, NULL, listen_rows, &l) != 0;
        else if (item->type == YAML_SCALAR_NODE)
            bad |= read_address(y, a, item, ipath, &listen_rows[0], &l) != 0;
        else {
            ig_yaml_error(y, item, ipath, "expected \"host:port\" or {address: host:port, tls: {...}}, got a list");
            bad = 1;
        }
        if (!l.host) /* no usable address (reported) */
            continue;
        int dup = 0;
        for (size_t j = 0; j < s->nlisten && !dup; j++)
            if (s->listen[j].port == l.port && strcmp(s->listen[j].host, l.host) == 0) {
                ig_yaml_error(y, item, ipath, "address %s is listed twice (first at line %d)", l.address,
                              s->listen[j].line);
                dup = 1;
            }
        if (!dup)
            s->listen[s->nlisten++] = l;
    }
    return bad || s->nlisten < n ? -1 : 0;
}

static int read_workers(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path, const ig_option_row_t *row,
                        void *out)
{
    ig_server_config_t *s = out;
    int64_t v;
    if (node->type == YAML_SCALAR_NODE && strcmp((const char *)node->data.scalar.value, "auto") == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        s->workers = (int)(cpus < row->decl.min ? row->decl.min : cpus > row->decl.max ? row->decl.max : cpus);
        return 0;
    }
    if (node->type == YAML_SCALAR_NODE && !ig_yaml_is_null(node) &&
        ig_parse_int64((const char *)node->data.scalar.value, &v) != 0) {
        ig_yaml_error(y, node, path, "expected an integer from %lld to %lld or \"auto\", got \"%.40s\"",
                      (long long)row->decl.min, (long long)row->decl.max, (const char *)node->data.scalar.value);
        return -1;
    }
    if (ig_yaml_int(y, node, path, row->decl.min, row->decl.max, &v) != 0)
        return -1;
    s->workers = (int)v;
    return 0;
}

static int read_log_level(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path, const ig_option_row_t *row,
                          void *out)
{
    ig_server_config_t *s = out;
    const char *lv;
    ig_log_level_t level;
    if (ig_yaml_str(y, node, path, &lv) != 0)
        return -1;
    if (ig_log_level_parse(lv, &level) != 0) {
        ig_yaml_error(y, node, path, "unknown level \"%.40s\" (error, warn, info, debug)", lv);
        return -1;
    }
    s->log_level = ig_arena_strdup(a, lv);
    return s->log_level ? 0 : -1;
}

/* database: only PostgreSQL's URL forms (libpq parses the rest when a plugin connects) */
static int read_database(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path, const ig_option_row_t *row,
                         void *out)
{
    ig_server_config_t *s = out;
    const char *url;
    if (ig_yaml_str(y, node, path, &url) != 0)
        return -1;
    if (strncmp(url, "postgres://", 11) != 0 && strncmp(url, "postgresql://", 13) != 0) {
        ig_yaml_error(y, node, path, "expected a PostgreSQL URL \"postgres://user:password@host:port/db\", got \"%.60s\"",
                      url);
        return -1;
    }
    s->database = ig_arena_strdup(a, url);
    return s->database ? 0 : -1;
}

/* gatewayId: named in every usage record id, so it must stay short and printable */
static int read_gateway_id(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *node, const char *path, const ig_option_row_t *row,
                           void *out)
{
    ig_server_config_t *s = out;
    const char *id;
    if (ig_yaml_str(y, node, path, &id) != 0)
        return -1;
    size_t n = strlen(id);
    int ok = n >= 1 && n <= 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)id[i]) || strchr("._:-", id[i]) != NULL;
    if (!ok) {
        ig_yaml_error(y, node, path, "expected 1 to 64 characters from A-Z a-z 0-9 . _ : -, got \"%.70s\"", id);
        return -1;
    }
    s->gateway_id = ig_arena_strdup(a, id);
    return s->gateway_id ? 0 : -1;
}

/* Admin keys are configured as hashes only ("sha256:<64 hex>"): the file never holds a secret. */
static int read_admin_keys(ig_yaml_t *y, ig_arena_t *a, yaml_node_t *seq, const char *path,
                           const ig_option_row_t *row, void *out)
{
    ig_server_config_t *s = out;
    if (ig_yaml_is_null(seq))
        return 0; /* "adminKeys:" with nothing: no admin API, as without the key */
    if (ig_yaml_expect_seq(y, seq, path) != 0)
        return -1;
    size_t n = ig_yaml_seq_len(seq);
    int bad = 0;
    s->admin_key_hashes = ig_arena_alloc(a, (n ? n : 1) * sizeof(*s->admin_key_hashes));
    if (!s->admin_key_hashes)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ipath[IG_PATH_MAX];
        ig_path_index(ipath, sizeof(ipath), path, i);
        yaml_node_t *item = ig_yaml_seq_at(y, seq, i);
        const char *v;
        if (ig_yaml_str(y, item, ipath, &v) != 0) {
            bad = 1;
            continue;
        }
        if (strncmp(v, "sha256:", 7) != 0 || strlen(v) != 7 + 64 ||
            ig_hex_decode(v + 7, 32, s->admin_key_hashes[s->nadmin_keys]) != 0) {
            ig_yaml_error(y, item, ipath,
                          "expected \"sha256:<64 hex digits>\" (the SHA-256 of the key: printf %%s KEY | sha256sum)");
            bad = 1;
            continue;
        }
        s->nadmin_keys++;
    }
    return bad ? -1 : 0;
}

/* ---- the declarations ---- */

/*
 * healthCheck: active probes on each endpoint's engine health path, and the
 * threshold shared with passive ejection (consecutive failed requests).
 * An interval under 50ms would probe engines harder than it serves them.
 */
static const ig_option_row_t health_check_rows[] = {
    IG_ROW("interval", IG_OPT_DURATION, "5s", "active probe period per endpoint", 50, DAY_MS, ig_health_check_config_t,
           interval_ms),
    IG_ROW("timeout", IG_OPT_DURATION, "2s", "longest wait for a probe's answer", 1, DAY_MS, ig_health_check_config_t,
           timeout_ms),
    IG_ROW_AS("healthyThreshold", IG_OPT_INT, IG_FIELD_UNSIGNED, "1", "successful probes to mark an endpoint healthy again",
              1, 100, ig_health_check_config_t, healthy_threshold),
    IG_ROW_AS("unhealthyThreshold", IG_OPT_INT, IG_FIELD_UNSIGNED, "3",
              "failed probes, or consecutive failed requests, to eject an endpoint", 1, 100, ig_health_check_config_t,
              unhealthy_threshold),
    {{NULL}}};

static const ig_option_row_t queue_rows[] = {
    IG_ROW_AS("maxLength", IG_OPT_INT, IG_FIELD_UNSIGNED, "100",
              "requests waiting per model for a ready endpoint (0: no queue)", 0, 100000, ig_queue_config_t, max_length),
    IG_ROW("timeout", IG_OPT_DURATION, "30s", "longest wait in the queue", 1, DAY_MS, ig_queue_config_t, timeout_ms),
    {{NULL}}};

/* ui: where the console's and portal's files are (GET /ui/, /portal/); see docs/console-api.md */
static const ig_option_row_t ui_rows[] = {
    IG_ROW_FLAGS("dir", IG_OPT_STRING, IG_ROW_NONEMPTY, "./build/ui",
                 "folder with console/, portal/, assets/ and vendor/ (the build copies ui/ to build/ui)", ig_ui_config_t,
                 dir),
    {{NULL}}};

/* clientLimits / clientTimeouts: bounds on one client (docs: conf/infergate.yaml, README "Running it on the internet") */
static const ig_option_row_t client_limits_rows[] = {
    IG_ROW_AS("h2ResetBudget", IG_OPT_INT, IG_FIELD_UNSIGNED, "100",
              "HTTP/2 stream resets one connection may make beyond its completed streams before GOAWAY (0: off)", 0,
              1000000, ig_client_limits_config_t, h2_reset_budget),
    IG_ROW_AS("maxHeaderListBytes", IG_OPT_SIZE, IG_FIELD_SIZE_T, "32KiB",
              "largest decoded HTTP/2 header list of one request, RFC 7541 sizes (0: off)", 0, 16 << 20,
              ig_client_limits_config_t, max_header_list_bytes),
    IG_ROW_AS("bodyBudgetBytes", IG_OPT_SIZE, IG_FIELD_SIZE_T, "256MiB",
              "request bodies held, HTTP/1 and HTTP/2 together (over it: 503 with Retry-After; HTTP/2: RST_STREAM REFUSED_STREAM)", 1024,
              (int64_t)1 << 40, ig_client_limits_config_t, body_budget_bytes),
    {{NULL}}};

static const ig_option_row_t client_timeouts_rows[] = {
    IG_ROW("sendStall", IG_OPT_DURATION, "30s",
           "longest wait for a client to take response bytes; the engine request is then cancelled (0: off)", 0,
           DAY_MS, ig_client_timeouts_config_t, send_stall_ms),
    IG_ROW("requestHeader", IG_OPT_DURATION, "10s",
           "the whole request head, and the wait for the next on a kept-alive HTTP/1 connection", 100, DAY_MS,
           ig_client_timeouts_config_t, request_header_ms),
    IG_ROW("bodyIdle", IG_OPT_DURATION, "30s",
           "longest pause inside an HTTP/1 request body (an upload that keeps moving is never cut)", 100, DAY_MS,
           ig_client_timeouts_config_t, body_idle_ms),
    {{NULL}}};

#define S ig_server_config_t
const ig_option_row_t ig_cfg_server_rows[] = {
    IG_ROW_READ("listen", IG_OPT_STRING_LIST, 0, "[\"127.0.0.1:8080\"]",
                "addresses to listen on: \"host:port\" or {address: host:port, tls: {certificate, key}}", 0, 0, S,
                listen, read_listen),
    IG_ROW_READ("workers", IG_OPT_INT, 0, "auto", "worker threads, each with its own event loop (auto: one per CPU)",
                1, 256, S, workers, read_workers),
    IG_ROW_FLAGS("stateDir", IG_OPT_STRING, IG_ROW_NONEMPTY, "./var", "embedded state: keys, usage ledger", S,
                 state_dir),
    IG_ROW_AS("maxBodySize", IG_OPT_SIZE, IG_FIELD_SIZE_T, "16MiB", "largest request body", 1024, 1 << 30, S,
              max_body_bytes),
    IG_ROW("connectTimeout", IG_OPT_DURATION, "5s", "connecting to an endpoint", 1, DAY_MS, S, connect_timeout_ms),
    IG_ROW("firstByteTimeout", IG_OPT_DURATION, "120s", "longest wait for an endpoint's first response byte", 1,
           DAY_MS, S, first_byte_timeout_ms),
    IG_ROW("idleTimeout", IG_OPT_DURATION, "60s", "longest silence in the middle of a response", 1, DAY_MS, S,
           idle_timeout_ms),
    IG_ROW_FLAGS("accessLog", IG_OPT_STRING, IG_ROW_NONEMPTY, "\"-\"", "access log file (\"-\": stdout, \"off\": none)",
                 S, access_log),
    IG_ROW_READ("logLevel", IG_OPT_STRING, 0, "info", "error, warn, info or debug", 0, 0, S, log_level,
                read_log_level),
    IG_ROW_AS("retries", IG_OPT_INT, IG_FIELD_UNSIGNED, "2",
              "other endpoints tried while nothing has reached the client", 0, 10, S, retries),
    IG_ROW_SECTION("healthCheck", "active health probes and ejection", S, health_check, health_check_rows),
    IG_ROW_SECTION("queue", "requests waiting for a ready endpoint", S, queue, queue_rows),
    IG_ROW_READ("adminKeys", IG_OPT_STRING_LIST, IG_ROW_OPTIONAL, NULL,
                "\"sha256:<hex>\" hashes of the admin API's keys (no admin API without)", 0, 0, S, admin_key_hashes,
                read_admin_keys),
    IG_ROW("shutdownGracePeriod", IG_OPT_DURATION, "10s", "how long SIGTERM waits for requests in flight", 1, DAY_MS,
           S, shutdown_grace_ms),
    IG_ROW_SECTION("ui", "the operator console (/ui/) and customer portal (/portal/)", S, ui, ui_rows),
    IG_ROW_SECTION("clientLimits", "what one client connection may cost", S, client_limits, client_limits_rows),
    IG_ROW_SECTION("clientTimeouts", "how long one client may stall", S, client_timeouts, client_timeouts_rows),
    IG_ROW_READ("database", IG_OPT_STRING, IG_ROW_OPTIONAL, NULL,
                "postgres://... shared by several gateways (keys, ledger, invoices); absent: SQLite files in stateDir", 0, 0, S,
                database, read_database),
    IG_ROW_READ("gatewayId", IG_OPT_STRING, IG_ROW_OPTIONAL, NULL,
                "this gateway's name in shared state (default <hostname>:<first listen port>)", 0, 0, S, gateway_id,
                read_gateway_id),
    {{NULL}}};
#undef S

void ig_cfg_parse_server(ig_cfg_ctx_t *c, yaml_node_t *node)
{
    ig_options_parse_rows(c->y, c->a, node, 1, "server", NULL, ig_cfg_server_rows, &c->cfg->server);
}
