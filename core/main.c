/* main.c — the infergate command line: run a config, or test it (-t) like nginx -t. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/generation.h"
#include "http/conn_guard.h"
#include "observe/log.h"
#include "sched/replica.h"
#include "server/server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: infergate [-t] [-c FILE]\n"
            "  -c FILE   configuration file (default conf/infergate.yaml)\n"
            "  -t        test the configuration (YAML, keys, plugins, plugin options) and exit 0 or 1\n"
            "  -v        print the version and exit\n"
            "  -h        this help\n"
            "signals: SIGHUP reloads the configuration, SIGTERM/SIGINT drain and stop\n");
}

/* Builds a whole generation, plugins instantiated, so a file that passes -t also starts. */
static int test_config(const char *path)
{
    ig_plugin_host_t *host = ig_plugin_host_create(ig_plugin_host_api());
    ig_endpoint_registry_t *endpoints = ig_endpoint_registry_create();
    ig_errors_t errs = {0};
    ig_generation_t *gen = ig_generation_create(path, 1, host, endpoints, &errs);
    int ok = gen != NULL;
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    if (ok) {
        fprintf(stderr, "infergate: the configuration file %s syntax is ok (%zu models, %zu plugins)\n", path,
                gen->nmodels, gen->nplugins);
        fprintf(stderr, "infergate: configuration file %s test is successful\n", path);
        ig_generation_release(gen);
    } else {
        fprintf(stderr, "infergate: configuration file %s test failed\n", path);
    }
    ig_errors_clear(&errs);
    ig_endpoint_registry_free(endpoints);
    ig_plugin_host_free(host);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    /* a replica's first moments: infergate re-executed by the scheduler, before it execs the engine */
    if (argc > 1 && strcmp(argv[1], IG_REPLICA_EXEC_ARG) == 0)
        return ig_replica_exec_main(argc, argv);
    const char *path = "conf/infergate.yaml";
    int test = 0, opt;
    while ((opt = getopt(argc, argv, "c:thv")) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = 1; break;
        case 'v': printf("infergate %s (plugin ABI %d)\n", IG_VERSION, IG_PLUGIN_ABI_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (test)
        return test_config(path);

    ig_conn_guard_init(); /* before the workers: they only read what it resolved */
    ig_server_t server;
    if (ig_server_init(&server, path) != 0) {
        ig_log_error("infergate: not started");
        ig_server_dispose(&server);
        return 1;
    }
    int rc = ig_server_run(&server);
    ig_server_dispose(&server);
    return rc;
}
