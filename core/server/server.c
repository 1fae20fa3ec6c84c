#include "server/server.h"
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "http/error_filter.h"
#include "http/h1_guard.h"
#include "server/listener.h"
#include "server/tls_context.h"
#include "observe/log.h"
#include "http/router.h"
#include "server/worker.h"
#include "server/runtime_models.h"
#include "server/models_pg.h"
#include "admin/admin_key.h"

static void print_errors(const ig_errors_t *errs)
{
    for (size_t i = 0; i < errs->count; i++)
        ig_log_error("%s", errs->items[i]);
}

static void apply_log_level(const ig_generation_t *gen)
{
    ig_log_level_t level;
    if (gen->config->server.log_level != NULL && ig_log_level_parse(gen->config->server.log_level, &level) == 0)
        ig_log_set_level(level);
}

static int setup_h2o(ig_server_t *s)
{
    const ig_config_t *cfg = s->gen->config;
    if (ig_h1_guard_installed() != 0) { /* the HTTP/1 bounds would silently be h2o's own */
        ig_log_error("the binary does not export phr_parse_request (link with core/http/h2o_hooks.list)");
        return -1;
    }
    h2o_config_init(&s->h2o);
    s->h2o.server_name = h2o_iovec_init(H2O_STRLIT("infergate"));
    /* h2o rejects bodies over this itself (plain 413); ours answers OpenAI-shaped
     * below it. Twice the configured limit leaves room for a reload to raise it. */
    s->h2o.max_request_entity_size = cfg->server.max_body_bytes * 2;
    /* HTTP/1: h2o times the head (and the idle wait for the next one); bodies are read by
     * http/h1_body.c, whose timer counts progress (server.clientTimeouts.bodyIdle) */
    s->h2o.http1.req_timeout = (uint64_t)cfg->server.client_timeouts.request_header_ms;
    h2o_hostconf_t *host = h2o_config_register_host(&s->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    /* h2o answers some errors before routing, bound to the fallback path: filter both */
    ig_router_deps_t deps = {
        .access_log = s->access_log,
        .sched = s->sched,
        .reloads = &s->reloads,
        .shards = s->shards,
        .nshards = s->nworkers_alloc,
        .info = &s->info,
        .submit_model_change = ig_runtime_models_submit,
        .submit_data = s->runtime,
    };
    if (ig_router_register(path, &deps) != 0 || ig_error_filter_register(path) != 0 ||
        ig_error_filter_register(&host->fallback_path) != 0)
        return -1;
    s->nlisten = cfg->server.nlisten;
    s->ssl_ctx = calloc(s->nlisten ? s->nlisten : 1, sizeof(SSL_CTX *));
    if (s->ssl_ctx == NULL)
        return -1;
    for (size_t i = 0; i < s->nlisten; i++) {
        if (!cfg->server.listen[i].tls)
            continue;
        char msg[512];
        s->ssl_ctx[i] = ig_tls_context(&cfg->server.listen[i], (int)i, msg, sizeof(msg));
        if (s->ssl_ctx[i] == NULL) {
            ig_log_error("%s: %s", cfg->path, msg);
            return -1;
        }
    }
    return 0;
}

/* The file read once into text, then the generation from that text and the runtime models: a
 * runtime model change later re-parses the same text, never a file edited since. */
static ig_generation_t *load(ig_server_t *s, uint64_t id, char **text, size_t *len, ig_errors_t *errs)
{
    *text = ig_config_read_file(s->config_path, len, errs);
    if (*text == NULL)
        return NULL;
    ig_config_t *cfg = ig_config_load_runtime_set(s->config_path, *text, *len, s->plugins,
                                                  s->models_set ? &s->models_set->set : NULL, NULL, errs);
    ig_generation_t *gen = cfg ? ig_generation_build(cfg, id, s->endpoints, errs) : NULL;
    if (gen == NULL) {
        free(*text);
        *text = NULL;
    }
    return gen;
}

static int64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The console's way in: without server.adminKeys, a key the gateway makes once and keeps hashed. */
static int setup_admin(ig_server_t *s)
{
    const ig_server_config_t *sc = &s->gen->config->server;
    s->gate.sessions = ig_sessions_create();
    if (s->gate.sessions == NULL)
        return -1;
    s->info.admin_key = "configured";
    if (sc->nadmin_keys == 0 && sc->state_dir != NULL) {
        char key[128], msg[600];
        if (ig_admin_key_setup(sc->state_dir, s->gate.generated, key, sizeof(key), s->admin_key_path,
                               sizeof(s->admin_key_path), msg, sizeof(msg)) != 0) {
            ig_log_error("%s: %s", s->config_path, msg);
            return -1;
        }
        s->gate.has_generated = 1;
        s->info.admin_key = "generated";
        s->info.admin_key_file = s->admin_key_path;
        if (key[0] != '\0' && (s->new_admin_key = strdup(key)) == NULL)
            return -1;
        memset(key, 0, sizeof(key));
    }
    ig_admin_gate_install(&s->gate);
    return 0;
}

/* Where a browser reaches the console: the first listener, a wildcard address as loopback. */
static void console_url(const ig_config_t *cfg, char *buf, size_t cap)
{
    const ig_listen_config_t *l = &cfg->server.listen[0];
    const char *host = l->host;
    if (strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    int v6 = strchr(host, ':') != NULL;
    snprintf(buf, cap, "%s://%s%s%s:%u/ui/", l->tls ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
             (unsigned)l->port);
}

/* Once, at start: the console's address and how to get in (the new key itself only when just made). */
static void print_console(ig_server_t *s)
{
    char url[600];
    console_url(s->gen->config, url, sizeof(url));
    if (s->new_admin_key != NULL) {
        fprintf(stderr,
                "infergate: console at %s \xe2\x80\x94 admin key: %s (shown once; set server.adminKeys to use "
                "your own)\n",
                url, s->new_admin_key);
        memset(s->new_admin_key, 0, strlen(s->new_admin_key));
        free(s->new_admin_key);
        s->new_admin_key = NULL;
    } else if (s->gate.has_generated) {
        fprintf(stderr,
                "infergate: console at %s \xe2\x80\x94 admin key: as printed at first start (stored hashed in %s; "
                "delete that file and restart for a new one, or set server.adminKeys)\n",
                url, s->admin_key_path);
    } else {
        fprintf(stderr, "infergate: console at %s \xe2\x80\x94 admin key: one of server.adminKeys\n", url);
    }
    fflush(stderr);
}

int ig_server_init(ig_server_t *s, const char *config_path)
{
    memset(s, 0, sizeof(*s));
    ig_reload_status_init(&s->reloads);
    s->config_path = strdup(config_path);
    s->plugins = ig_plugin_host_create(ig_plugin_host_api());
    s->endpoints = ig_endpoint_registry_create();
    s->sched = ig_scheduler_create(s->endpoints);
    s->runtime = ig_runtime_models_create(s);
    if (s->config_path == NULL || s->plugins == NULL || s->endpoints == NULL || s->sched == NULL || s->runtime == NULL)
        return -1;
    ig_errors_t errs = {0};
    s->gen = load(s, ++s->next_gen_id, &s->config_text, &s->config_len, &errs);
    if (s->gen != NULL && s->gen->config->server.database != NULL) {
        /* the runtime models are the database's: read them, then load again with them */
        char msg[700];
        s->models_pg = ig_models_pg_open(s->gen->config->server.database, &s->models_set, msg, sizeof(msg));
        if (s->models_pg == NULL) {
            ig_log_error("%s: %s", config_path, msg);
            return -1;
        }
        ig_generation_release(s->gen);
        free(s->config_text);
        s->config_text = NULL;
        s->gen = load(s, ++s->next_gen_id, &s->config_text, &s->config_len, &errs);
    }
    if (s->gen == NULL) {
        print_errors(&errs);
        ig_errors_clear(&errs);
        return -1;
    }
    if (setup_admin(s) != 0)
        return -1;
    ig_scheduler_attach(s->sched, s->gen);
    apply_log_level(s->gen);
    char msg[512];
    s->access_log = ig_access_log_open(s->gen->config->server.access_log, msg, sizeof(msg));
    if (s->access_log == NULL) {
        ig_log_error("%s: %s", config_path, msg);
        return -1;
    }
    s->nworkers = (unsigned)s->gen->config->server.workers;
    s->workers = calloc(s->nworkers, sizeof(ig_worker_t));
    s->shards = calloc(s->nworkers, sizeof(*s->shards));
    if (s->workers == NULL || s->shards == NULL)
        return -1;
    s->nworkers_alloc = s->nworkers;
    for (unsigned i = 0; i < s->nworkers; i++) {
        /* every shard exists before any worker runs: a scrape on any thread reads them all */
        s->shards[i] = s->workers[i].metrics = ig_metrics_shard_create();
        if (s->shards[i] == NULL)
            return -1;
    }
    const ig_server_config_t *sc = &s->gen->config->server;
    s->info.version = IG_VERSION;
    s->info.started_at_ms = unix_ms();
    s->info.config_path = s->config_path;
    s->info.workers = s->nworkers;
    s->info.reloads = &s->reloads;
    s->info.nlisten = sc->nlisten;
    s->info.listen = calloc(sc->nlisten + 1, sizeof(char *));
    s->info.listen_tls = calloc(sc->nlisten + 1, sizeof(int));
    if (s->info.listen == NULL || s->info.listen_tls == NULL)
        return -1;
    for (size_t i = 0; i < sc->nlisten; i++) { /* as bound: listeners stay until restart */
        if ((s->info.listen[i] = strdup(sc->listen[i].address)) == NULL)
            return -1;
        s->info.listen_tls[i] = sc->listen[i].tls;
    }
    if (setup_h2o(s) != 0) /* the router's handler holds the shards, access log, scheduler, reload status */
        return -1;
    for (size_t i = 0; i < sc->nlisten; i++) { /* a second infergate on the same address stops here */
        char msg[512];
        if (ig_listener_claim(&sc->listen[i], (int)i, msg, sizeof(msg)) != 0) {
            ig_log_error("%s: %s", s->gen->config->path, msg);
            return -1;
        }
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        s->workers[i].index = i;
        if (ig_worker_bind(&s->workers[i], s) != 0)
            return -1;
    }
    return 0;
}

/* Listener changes need new sockets bound by the workers: report them instead of half-applying. */
static void warn_unapplied_changes(const ig_config_t *old, const ig_config_t *next)
{
    int same = old->server.nlisten == next->server.nlisten;
    for (size_t i = 0; same && i < old->server.nlisten; i++)
        same = strcmp(old->server.listen[i].address, next->server.listen[i].address) == 0 &&
               old->server.listen[i].tls == next->server.listen[i].tls;
    if (!same)
        ig_log_warn("%s: server.listen changed: listeners are kept as they were until restart", next->path);
    if (old->server.workers != next->server.workers)
        ig_log_warn("%s: server.workers changed: takes effect on restart", next->path);
    if (next->server.client_timeouts.request_header_ms != old->server.client_timeouts.request_header_ms)
        ig_log_warn("%s: server.clientTimeouts.requestHeader changed: takes effect on restart", next->path);
    if (next->server.max_body_bytes > old->server.max_body_bytes * 2)
        ig_log_warn("%s: server.maxBodySize above twice the startup value takes effect on restart", next->path);
}

/* Plugins that no generation uses any more: those the last reload dropped once their requests end. */
static void on_plugin_gc(uv_timer_t *t)
{
    ig_server_t *s = t->data;
    ig_plugin_host_collect(s->plugins);
}

void ig_server_install(ig_server_t *s, ig_generation_t *gen)
{
    ig_scheduler_attach(s->sched, gen); /* before any worker sees gen: its models get their replica sets */
    warn_unapplied_changes(s->gen->config, gen->config);
    apply_log_level(gen);
    for (unsigned i = 0; i < s->nworkers; i++) {
        ig_generation_retain(gen);
        ig_worker_post_generation(&s->workers[i], gen);
    }
    ig_generation_t *old = s->gen;
    s->gen = gen;
    ig_generation_release(old);
    ig_plugin_host_collect(s->plugins); /* the rest goes when the workers let go of old (on_plugin_gc) */
}

int ig_server_reload(ig_server_t *s)
{
    uint64_t t0 = uv_hrtime();
    ig_errors_t errs = {0};
    char *text = NULL;
    size_t len = 0;
    ig_generation_t *gen = load(s, s->next_gen_id + 1, &text, &len, &errs);
    if (gen == NULL) {
        ig_log_error("reload failed, still serving generation %llu:", (unsigned long long)s->gen->id);
        print_errors(&errs);
        ig_reload_status_failed(&s->reloads, s->config_path, &errs);
        ig_errors_clear(&errs);
        ig_plugin_host_collect(s->plugins); /* a .so only the invalid file listed */
        return -1;
    }
    s->next_gen_id++;
    free(s->config_text);
    s->config_text = text;
    s->config_len = len;
    ig_server_install(s, gen);
    uint64_t took_ns = uv_hrtime() - t0;
    ig_reload_status_ok(&s->reloads, took_ns / 1000);
    ig_log_info("reloaded %s: generation %llu, %zu models in %.1f ms", s->config_path, (unsigned long long)gen->id,
                gen->nmodels, (double)took_ns / 1e6);
    return 0;
}

/* The health checker saw ep become healthy: wake every worker, whose request queue may now proceed. */
static void on_endpoint_ready(void *data, ig_endpoint_t *ep)
{
    ig_server_t *s = data;
    ig_scheduler_endpoint_ready(s->sched, ep); /* a replica that answers may now take requests */
    for (unsigned i = 0; i < s->nworkers; i++)
        ig_worker_post_endpoint_ready(&s->workers[i]);
}

/* A replica process started: the health checker probes it soon, so it serves as soon as it answers. */
static void on_replica_started(void *data)
{
    ig_server_t *s = data;
    ig_health_checker_kick(s->health);
}

/* A replica started serving: requests waiting for its model can go. */
static void on_replica_serving(void *data)
{
    ig_server_t *s = data;
    for (unsigned i = 0; i < s->nworkers; i++)
        ig_worker_post_endpoint_ready(&s->workers[i]);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    ig_server_t *s = sig->data;
    if (signum == SIGHUP) {
        ig_server_reload(s);
        return;
    }
    ig_log_info("%s: draining and stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    ig_health_checker_stop(s->health); /* before the workers: it posts to them */
    s->health = NULL;
    ig_scheduler_quiesce(s->sched);    /* replicas serve the drain; stopped once the workers are gone */
    ig_runtime_models_close(s->runtime); /* a change not yet answered is cut with the other requests */
    ig_models_pg_close(s->models_pg);    /* joins its thread: at most one statement's wait */
    for (unsigned i = 0; i < s->nworkers; i++)
        ig_worker_post_stop(&s->workers[i]);
    uv_close((uv_handle_t *)&s->sig_hup, NULL);
    uv_close((uv_handle_t *)&s->plugin_gc, NULL);
    uv_close((uv_handle_t *)&s->sig_term, NULL);
    uv_close((uv_handle_t *)&s->sig_int, NULL);
}

int ig_server_run(ig_server_t *s)
{
    signal(SIGPIPE, SIG_IGN);
    s->loop = uv_default_loop();
    uv_signal_t *sigs[] = {&s->sig_hup, &s->sig_term, &s->sig_int};
    int nums[] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(s->loop, sigs[i]);
        sigs[i]->data = s;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    for (unsigned i = 0; i < s->nworkers; i++) {
        if (ig_worker_start(&s->workers[i]) != 0) {
            ig_log_error("cannot start worker %u", i);
            for (unsigned j = 0; j < i; j++)
                ig_worker_post_stop(&s->workers[j]);
            for (unsigned j = 0; j < i; j++)
                ig_worker_join(&s->workers[j]);
            s->nworkers = 0;
            return 1;
        }
    }
    const ig_config_t *cfg = s->gen->config;
    for (size_t i = 0; i < cfg->server.nlisten; i++)
        ig_log_info("listening on %s%s (%u workers)", cfg->server.listen[i].address,
                    cfg->server.listen[i].tls ? " (TLS, h2 + http/1.1)" : " (HTTP/1.1 + h2c)", s->nworkers);
    ig_log_info("serving %zu models from %s", s->gen->nmodels, s->config_path);
    if (ig_runtime_models_start(s->runtime, s->loop) != 0)
        ig_log_error("cannot take runtime model changes: PUT/DELETE /admin/models will answer 503");
    if (s->models_pg != NULL && ig_runtime_models_watch(s->runtime, s->models_pg) != 0)
        ig_log_error("cannot start the runtime models' database thread: changes made elsewhere are not seen");
    print_console(s);
    uv_timer_init(s->loop, &s->plugin_gc);
    s->plugin_gc.data = s;
    uv_timer_start(&s->plugin_gc, on_plugin_gc, 1000, 1000);
    s->health = ig_health_checker_start(s->loop, &s->gen, on_endpoint_ready, s);
    if (s->health == NULL)
        ig_log_error("cannot start the health checker: out of memory; endpoints are checked passively only");
    ig_scheduler_start(s->sched, s->loop, on_replica_started, on_replica_serving, s);
    uv_run(s->loop, UV_RUN_DEFAULT);
    for (unsigned i = 0; i < s->nworkers; i++)
        ig_worker_join(&s->workers[i]);
    /* every request is done: stop the replicas, and run the loop until each child is reaped */
    ig_scheduler_stop_all(s->sched);
    uv_run(s->loop, UV_RUN_DEFAULT);
    s->nworkers_started = s->nworkers;
    s->nworkers = 0;
    ig_log_info("stopped");
    return 0;
}

void ig_server_dispose(ig_server_t *s)
{
    int parked = 0;
    for (unsigned i = 0; s->workers != NULL && i < s->nworkers_started; i++)
        parked |= s->workers[i].parked;
    if (s->workers != NULL && !parked) { /* a parked worker's thread still points into its slot */
        for (unsigned i = 0; i < s->nworkers; i++) {
            /* bound but never started */
            for (size_t j = 0; j < s->workers[i].nlisteners; j++)
                if (s->workers[i].listen_fds != NULL && s->workers[i].listen_fds[j] >= 0)
                    close(s->workers[i].listen_fds[j]);
            free(s->workers[i].listen_fds);
            free(s->workers[i].listeners);
        }
        for (unsigned i = 0; s->shards != NULL && i < s->nworkers_alloc; i++)
            ig_metrics_shard_free(s->shards[i]);
        free(s->workers);
    }
    free(s->shards); /* a parked worker still reaches its own shard (workers[i].metrics), not this list */
    if (s->gen != NULL)
        ig_generation_release(s->gen);
    if (s->ssl_ctx != NULL) {
        for (size_t i = 0; i < s->nlisten; i++)
            if (s->ssl_ctx[i] != NULL)
                SSL_CTX_free(s->ssl_ctx[i]);
        free(s->ssl_ctx);
        h2o_config_dispose(&s->h2o);
    }
    if (s->loop != NULL)
        uv_loop_close(s->loop);
    ig_access_log_close(s->access_log);
    ig_runtime_models_free(s->runtime); /* after the workers: what they never got answered */
    ig_models_pg_free(s->models_pg);
    ig_models_set_free(s->models_set);
    ig_admin_gate_install(NULL);
    ig_sessions_free(s->gate.sessions);
    if (s->new_admin_key != NULL) {
        memset(s->new_admin_key, 0, strlen(s->new_admin_key));
        free(s->new_admin_key);
    }
    for (size_t i = 0; s->info.listen != NULL && i < s->info.nlisten; i++)
        free(s->info.listen[i]);
    free(s->info.listen);
    free(s->info.listen_tls);
    free(s->config_text);
    ig_scheduler_free(s->sched);
    ig_endpoint_registry_free(s->endpoints);
    /* last: every generation is released (workers on their way out, s->gen above), so unload() runs
     * after every fini(): a billing plugin flushes its ledger here, and nothing records after that */
    ig_plugin_host_free(s->plugins);
    free(s->config_path);
    ig_reload_status_destroy(&s->reloads);
    memset(s, 0, sizeof(*s));
}
