/*
 * config.h — the validated configuration, as read from one YAML file.
 *
 * An ig_config_t is immutable once loaded and owned by one generation
 * (generation.h). All its strings and arrays live in its own arena and are
 * freed together by ig_config_free(). Relative paths in it (plugins.dir,
 * stateDir, certificates) are taken as written: they resolve against the
 * working directory, as the README's commands run from the project root.
 */
#ifndef IG_CONFIG_H
#define IG_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/plugin.h"
#include "config/errors.h"

typedef struct ig_arena_s ig_arena_t;

/* tls.certificates[]: a certificate a TLS listener presents to clients naming one of its hosts (SNI) */
typedef struct {
    const char *const *hosts;        /* lowercase DNS names; NULL-terminated */
    size_t nhosts;
    char *certificate;               /* PEM file paths */
    char *key;
    int line;
} ig_tls_certificate_t;

typedef struct {
    char *address;           /* "127.0.0.1:8080" as written */
    char *host;              /* "127.0.0.1", "::1", "0.0.0.0" */
    uint16_t port;
    int tls;                 /* 1 when tls: {certificate, key} is given */
    char *certificate;       /* PEM file paths */
    char *key;
    int line;
    ig_tls_certificate_t *certificates; /* tls.certificates: chosen by the name a client asks for (SNI); the
                                           certificate above answers every other name */
    size_t ncertificates;
} ig_listen_config_t;

/* server.healthCheck: active probes, and the threshold shared with passive ejection */
typedef struct {
    int64_t interval_ms;             /* interval: active probe period per endpoint (default 5s) */
    int64_t timeout_ms;              /* timeout (default 2s) */
    unsigned healthy_threshold;      /* healthyThreshold: successes to mark healthy again (default 1) */
    unsigned unhealthy_threshold;    /* unhealthyThreshold: failed probes or consecutive request failures to eject
                                        (default 3) */
} ig_health_check_config_t;

/* server.queue: requests waiting for a ready endpoint */
typedef struct {
    unsigned max_length;             /* maxLength: per model (default 100; 0 = no queue) */
    int64_t timeout_ms;              /* timeout: longest wait (default 30s) */
} ig_queue_config_t;

/* server.ui: the console (/ui/) and portal (/portal/) files */
typedef struct {
    char *dir;                       /* dir: console/, portal/, assets/, vendor/ (default ./build/ui) */
} ig_ui_config_t;

/* server.clientLimits: what one client connection, or all of them together, may cost (infergate's own:
 * HTTP/2 in core/http/h2_guard.c, HTTP/1 bodies in core/http/h1_body.c) */
typedef struct {
    unsigned h2_reset_budget;        /* h2ResetBudget: stream resets a connection may make beyond its completed
                                        streams before GOAWAY ENHANCE_YOUR_CALM (default 100; 0 = off) */
    size_t max_header_list_bytes;    /* maxHeaderListBytes: decoded HTTP/2 header list per stream, RFC 7541
                                        sizes (default 32 KiB; 0 = off) */
    size_t body_budget_bytes;        /* bodyBudgetBytes: request bodies held, HTTP/1 and HTTP/2 together (256MiB) */
} ig_client_limits_config_t;

/* server.clientTimeouts: how long a client may take or stall, counted in progress where it can be */
typedef struct {
    int64_t send_stall_ms;           /* sendStall: longest wait for a client to take response bytes (default 30s;
                                        0 = off) */
    int64_t request_header_ms;       /* requestHeader: the whole request head, and the wait for the next one on a
                                        kept-alive HTTP/1 connection (default 10s) */
    int64_t body_idle_ms;            /* bodyIdle: longest pause inside an HTTP/1 request body (default 30s) */
} ig_client_timeouts_config_t;

/* server: declared key by key in config_server.c (names, defaults, bounds); the comments here say the use */
typedef struct {
    ig_listen_config_t *listen;
    size_t nlisten;
    int workers;                     /* "auto" → number of CPUs */
    char *state_dir;                 /* stateDir */
    size_t max_body_bytes;           /* maxBodySize: "16MiB" (default 16 MiB) */
    int64_t connect_timeout_ms;      /* connectTimeout (default 5s) */
    int64_t first_byte_timeout_ms;   /* firstByteTimeout (default 120s) */
    int64_t idle_timeout_ms;         /* idleTimeout: longest silence mid-response (default 60s) */
    char *access_log;                /* accessLog: path, "-" for stdout (default), "off" */
    char *log_level;                 /* logLevel: error|warn|info|debug (default info) */
    unsigned retries;                /* retries: other endpoints tried while nothing reached the client (default 2, 0..10) */
    ig_health_check_config_t health_check;
    ig_queue_config_t queue;
    int64_t shutdown_grace_ms;       /* shutdownGracePeriod: how long SIGTERM waits for requests in flight (default 10s) */
    unsigned char (*admin_key_hashes)[32]; /* adminKeys: SHA-256 of each admin key (the admin API is off without) */
    size_t nadmin_keys;
    ig_ui_config_t ui;
    ig_client_limits_config_t client_limits;
    ig_client_timeouts_config_t client_timeouts;
    char *database;                  /* database: "postgres://..." shared by several gateways; NULL: SQLite in stateDir */
    char *gateway_id;                /* gatewayId: this gateway's name in shared state; NULL: "<hostname>:<first port>" */
} ig_server_config_t;

typedef struct {
    char *name;
    int *devices;                    /* resourceProfiles.<name>.devices */
    size_t ndevices;
    ig_kv_t *env;
    size_t nenv;
    const char *const *command;      /* command: replaces the engine's launch argv for its replicas; NULL if absent */
    size_t ncommand;
    char *device_env;                /* deviceEnv: the variable that gets the devices (default: the engine's) */
    int line;
} ig_resource_profile_t;

/* priorityClasses: {name: value}: who may take devices from whom when they are short. */
typedef struct {
    char *name;
    int value;
} ig_priority_class_t;

/* scheduler: how replicas of models without static endpoints are run (scheduler.h); declared in
 * config_scheduler.c. */
typedef struct {
    int64_t interval_ms;             /* interval: autoscaling decisions and load samples (default 1s) */
    int64_t time_window_ms;          /* timeWindow: load is averaged over it (default 60s) */
    int64_t stop_grace_ms;           /* stopGracePeriod: SIGTERM, then SIGKILL after it (default 15s) */
    int64_t drain_timeout_ms;        /* drainTimeout: longest wait for in-flight requests of a draining replica (default 10m) */
    int64_t start_timeout_ms;        /* startTimeout: a replica not ready by then is killed and restarted (default 30m) */
    char *log_dir;                   /* logDir: per-replica logs (default <stateDir>/replicas; stderr without either) */
    ig_priority_class_t *priority_classes;
    size_t npriority_classes;
} ig_scheduler_config_t;

typedef struct ig_loaded_plugin_s ig_loaded_plugin_t; /* plugin_host.h */

typedef struct {
    ig_model_t model;                /* the view plugins see (names, args, adapters, pricing, limits, ...) */
    const char *file;                /* the file it was defined in: the config, or a manifest in models: DIR */
    int line;                        /* where models[i] starts */
    char **endpoints;                /* static replica URLs ("http://host:port"); may be empty */
    size_t nendpoints;
    char *resource_profile;          /* "name:count" as written; NULL if absent */
    int resource_count;
    const ig_resource_profile_t *profile; /* resolved resource_profile, or NULL */
    int min_replicas, target_requests, scale_down_delay_s;
    int max_replicas;                /* maxReplicas; -1 when absent: no limit but what the machine fits (KubeAI) */
    int replicas;                    /* replicas; -1 when absent. The fixed count with autoscalingDisabled (default
                                        minReplicas), else the count to start with (KubeAI's autoscaler owns it) */
    int autoscaling_disabled;        /* autoscalingDisabled: replicas fixed, no autoscaling */
    const char *const *command;      /* command: replaces the engine's launch argv; NULL if absent */
    size_t ncommand;
    char *priority_class;            /* priorityClassName as written, or NULL */
    int priority;                    /* its value in priorityClasses (0 without) */
    const ig_loaded_plugin_t *engine_plugin; /* resolved from model.engine */
    const ig_loaded_plugin_t *lb_plugin;     /* resolved from loadBalancing.strategy (default LeastLoad) */
    int runtime;                     /* made through the admin API: a manifest in <stateDir>/models (file) */
    const char *config_json;         /* its fields as written (the entry, or a manifest's spec), as JSON */
    /* its own addresses (config_addresses.c): a request under one of these hosts, or under the path
     * prefix, reaches this model, and /v1/models there lists only it */
    const char *const *hosts;        /* hosts: lowercase DNS names; NULL-terminated, or NULL */
    size_t nhosts;
    const int *host_lines;           /* where each host is written */
    const char *path_prefix;         /* pathPrefix: "/acme-qwen", or NULL */
    int path_prefix_line;
} ig_model_config_t;

typedef struct {
    char *name;                      /* as listed in plugins.load */
    int line;
    const ig_loaded_plugin_t *plugin;
    void *options;                   /* plugins.options.<name>: the plugin's options struct, filled */
} ig_plugin_config_t;

typedef struct ig_config_s {
    ig_arena_t *arena;
    char *path;                      /* the file it was read from */
    ig_server_config_t server;
    char *plugins_dir;               /* plugins.dir */
    ig_plugin_config_t *plugins;     /* in plugins.load order */
    size_t nplugins;
    ig_resource_profile_t *profiles;
    size_t nprofiles;
    ig_scheduler_config_t scheduler;
    ig_model_config_t *models;
    size_t nmodels;
    char *models_dir;                /* models: DIR (KubeAI manifests), or NULL when listed inline */
} ig_config_t;

typedef struct ig_plugin_host_s ig_plugin_host_t;

/*
 * Reads and validates path completely: YAML syntax, unknown keys, types,
 * required fields, references (engines, strategies, profiles) against the
 * plugins the file asks for, which are loaded through host. Collects every
 * error it finds into errs (as "file:line: path: message") and returns NULL
 * when there is any.
 */
ig_config_t *ig_config_load(const char *path, ig_plugin_host_t *host, ig_errors_t *errs);
/* The same from memory (tests, the fuzzer); name is used in messages. No runtime models. */
ig_config_t *ig_config_load_buffer(const char *name, const char *buf, size_t len, ig_plugin_host_t *host,
                                   ig_errors_t *errs);

/*
 * Runtime models (PUT /admin/models/{name}) are KubeAI Model manifests in <stateDir>/models, one
 * model a file named after it (<name>.yaml). ig_config_load reads them after the file's models; a
 * name the file defines too stays the file's (the manifest is skipped with a warning).
 *
 * A change in the making: the model `name` replaced by `text` (a models[] entry or a manifest, JSON
 * or YAML), or removed when text is NULL. The new model's `file` is text_name, which messages use
 * too, until the caller stores it.
 */
typedef struct {
    const char *name;
    const char *text;
    size_t len;
    const char *text_name;
} ig_runtime_change_t;

/*
 * The config file's text (read by the caller, named path in messages), the runtime models, and
 * change applied to them (NULL: none). What PUT/DELETE /admin/models and the server's loads use.
 */
ig_config_t *ig_config_load_runtime(const char *path, const char *text, size_t len, ig_plugin_host_t *host,
                                    const ig_runtime_change_t *change, ig_errors_t *errs);
/*
 * With server.database the runtime models live in PostgreSQL (server/models_pg.h), not in the
 * folder: the set read from there, which the loader then reads instead of <stateDir>/models. Each
 * document is named "postgres:runtime_models/<name>" in messages.
 */
typedef struct {
    const char *name;
    const char *text;   /* the stored manifest */
    size_t len;
} ig_runtime_doc_t;

typedef struct {
    size_t n;
    const ig_runtime_doc_t *docs;   /* sorted by name */
} ig_runtime_set_t;

/* ig_config_load_runtime with the runtime models from set (NULL: from the folder). */
ig_config_t *ig_config_load_runtime_set(const char *path, const char *text, size_t len, ig_plugin_host_t *host,
                                        const ig_runtime_set_t *set, const ig_runtime_change_t *change,
                                        ig_errors_t *errs);
/* The file's bytes, as the loader reads them (regular file, at most IG_YAML_MAX_FILE); NULL after
 * reporting. malloc'd, NUL-terminated. */
char *ig_config_read_file(const char *path, size_t *len, ig_errors_t *errs);
/* "<stateDir>/models" (malloc'd), or NULL. */
char *ig_config_runtime_dir(const ig_config_t *cfg);
/* What PUT stores for text (validated already): a KubeAI Model manifest in block YAML, a models[]
 * entry wrapped into one with `name` as metadata.name, after a two-line comment (so the manifest
 * starts at IG_RUNTIME_MANIFEST_LINE). malloc'd, or NULL (out of memory). */
#define IG_RUNTIME_MANIFEST_LINE 3
char *ig_config_runtime_manifest(const char *name, const char *text, size_t len, size_t *out_len);
void ig_config_free(ig_config_t *cfg);

/* The model named name, or NULL. Linear scan: used at load time only; the request path uses generation.h. */
const ig_model_config_t *ig_config_find_model(const ig_config_t *cfg, const char *name, size_t len);

#endif
