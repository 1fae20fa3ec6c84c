/* ig-sim: a fast stand-in for vLLM's OpenAI-compatible server, for infergate's integration tests
 * and benchmarks.  See README.md. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>

#include <uv.h>

#include "sim_config.h"
#include "sim_fault.h"
#include "sim_log.h"
#include "sim_prefix.h"
#include "sim_server.h"

static void on_signal(uv_signal_t *h, int signum)
{
    if (signum == SIGUSR1) {
        sim_log("SIGUSR1: fault mode cleared");
        sim_fault_set(SIM_FAULT_NONE, 1);
        return;
    }
    uv_stop(h->loop);
}

/* Thousands of concurrent streams need thousands of descriptors: lift the soft limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    int rc = sim_config_parse(argc, argv);
    if (rc != 0)
        return rc == 1 ? 0 : 2;
    if (sim_cfg.fault != SIM_FAULT_NONE)
        sim_fault_set(sim_cfg.fault, sim_cfg.fault_every);
    if (sim_prefix_init() != 0) {
        fprintf(stderr, "ig-sim: out of memory for --prefix-cache-blocks %u\n", (unsigned)sim_cfg.prefix_cache_blocks);
        return 1;
    }
    if (sim_server_init() != 0 || sim_server_start() != 0)
        return 1;

    uv_loop_t loop;
    uv_loop_init(&loop);
    uv_signal_t sigterm, sigint, sigusr1;
    uv_signal_init(&loop, &sigterm);
    uv_signal_init(&loop, &sigint);
    uv_signal_init(&loop, &sigusr1);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigusr1, on_signal, SIGUSR1);

    printf("ig-sim listening on %s\n", sim_server_address());
    fflush(stdout);
    uv_run(&loop, UV_RUN_DEFAULT);

    sim_server_stop();
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigusr1, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return 0;
}
