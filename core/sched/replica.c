#include "sched/replica.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "observe/log.h"

int ig_replica_exec_main(int argc, char **argv)
{
    /* argv: infergate --replica-exec PARENT_PID program args... */
    if (argc < 4) {
        fprintf(stderr, "infergate %s: expected a parent pid and a program\n", IG_REPLICA_EXEC_ARG);
        return 127;
    }
    pid_t parent = (pid_t)strtol(argv[2], NULL, 10);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
        fprintf(stderr, "infergate: prctl(PR_SET_PDEATHSIG): %s\n", strerror(errno));
        return 127;
    }
    /* infergate may have died between fork and prctl: then nobody would ever stop us */
    if (getppid() != parent) {
        fprintf(stderr, "infergate: the gateway (pid %d) is gone; not starting %s\n", (int)parent, argv[3]);
        return 127;
    }
    execvp(argv[3], argv + 3);
    fprintf(stderr, "infergate: cannot run %s: %s\n", argv[3], strerror(errno));
    return 127;
}

static void on_handle_closed(uv_handle_t *h)
{
    ig_process_t *p = h->data;
    if (--p->open_handles == 0 && p->on_closed)
        p->on_closed(p);
}

static void on_exit_cb(uv_process_t *proc, int64_t exit_status, int term_signal)
{
    ig_process_t *p = proc->data;
    p->running = 0;
    /* the engine's own children (vLLM's workers) share its group: none outlives it */
    if (p->pid > 0)
        kill(-p->pid, SIGKILL);
    uv_timer_stop(&p->kill_timer);
    if (p->on_exit)
        p->on_exit(p, exit_status, term_signal);
    uv_close((uv_handle_t *)&p->proc, on_handle_closed);
    uv_close((uv_handle_t *)&p->kill_timer, on_handle_closed);
}

int ig_process_spawn(ig_process_t *p, uv_loop_t *loop, char *const *argv, char *const *envp, const char *log_path,
                     char *msg, size_t msgsize)
{
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc(argc + 4, sizeof(*args));
    char parent[24];
    if (!args) {
        snprintf(msg, msgsize, "out of memory");
        return -1;
    }
    snprintf(parent, sizeof(parent), "%d", (int)getpid());
    args[0] = "infergate";
    args[1] = IG_REPLICA_EXEC_ARG;
    args[2] = parent;
    for (size_t i = 0; i < argc; i++)
        args[3 + i] = argv[i];

    int fd = 2;
    if (log_path) {
        fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0) {
            snprintf(msg, msgsize, "cannot open the replica log %s: %s", log_path, strerror(errno));
            free(args);
            return -1;
        }
    }
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
        {.flags = UV_INHERIT_FD, .data.fd = fd},
    };
    uv_process_options_t opts = {
        .exit_cb = on_exit_cb,
        .file = "/proc/self/exe", /* infergate itself, which sets the death signal, then execs argv[0] */
        .args = args,
        .env = (char **)envp,
        .flags = UV_PROCESS_DETACHED, /* its own session and process group */
        .stdio_count = 3,
        .stdio = stdio,
    };
    p->proc.data = p;
    p->kill_timer.data = p;
    int rc = uv_spawn(loop, &p->proc, &opts);
    if (log_path)
        close(fd);
    free(args);
    if (rc != 0) {
        snprintf(msg, msgsize, "cannot start %s: %s", argv[0], uv_strerror(rc));
        /* libuv initialised the handle even on failure: it must still be closed, and p kept until then */
        p->open_handles = 1;
        uv_close((uv_handle_t *)&p->proc, on_handle_closed);
        return -1;
    }
    uv_timer_init(loop, &p->kill_timer);
    p->pid = p->proc.pid;
    p->running = 1;
    p->stopping = 0;
    p->open_handles = 2;
    return 0;
}

static void on_grace_over(uv_timer_t *t)
{
    ig_process_t *p = t->data;
    if (!p->running)
        return;
    ig_log_warn("replica pid %d did not stop within its grace period: SIGKILL", p->pid);
    kill(-p->pid, SIGKILL);
}

void ig_process_stop(ig_process_t *p, uint64_t grace_ms)
{
    if (!p->running || p->stopping)
        return;
    p->stopping = 1;
    kill(-p->pid, SIGTERM);
    uv_timer_start(&p->kill_timer, on_grace_over, grace_ms, 0);
}

void ig_process_kill(ig_process_t *p)
{
    if (p->running)
        kill(-p->pid, SIGKILL);
}

void ig_process_set_ref(ig_process_t *p, int ref)
{
    if (!p->running)
        return;
    if (ref) {
        uv_ref((uv_handle_t *)&p->proc);
        uv_ref((uv_handle_t *)&p->kill_timer);
    } else {
        uv_unref((uv_handle_t *)&p->proc);
        uv_unref((uv_handle_t *)&p->kill_timer);
    }
}

uint16_t ig_free_local_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}
