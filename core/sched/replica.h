/*
 * replica.h — one engine server process run by the scheduler (uv_spawn on the main loop).
 *
 * The child starts as infergate itself with IG_REPLICA_EXEC_ARG, which asks the kernel to SIGKILL
 * it when infergate dies (PR_SET_PDEATHSIG, so even a SIGKILL of infergate leaves no orphan) and
 * then execs the engine. It runs in its own session and process group, so stopping it reaches the
 * engine's own children: SIGTERM to the group, SIGKILL after the grace period. Its stdout and
 * stderr go to a log file of its own.
 */
#ifndef IG_REPLICA_H
#define IG_REPLICA_H

#include <stdint.h>
#include <uv.h>

#define IG_REPLICA_EXEC_ARG "--replica-exec"

typedef struct ig_process_s ig_process_t;

/* Called once, on the main loop, when the process has exited (its handles are closed after). */
typedef void (*ig_process_exit_fn)(ig_process_t *p, int64_t exit_status, int term_signal);

struct ig_process_s {
    uv_process_t proc;
    uv_timer_t kill_timer;
    int pid;
    int running;                   /* spawned and not yet exited */
    int stopping;                  /* ig_process_stop was called */
    unsigned open_handles;         /* closed one by one after exit; the owner frees p on on_closed */
    ig_process_exit_fn on_exit;
    void (*on_closed)(ig_process_t *p); /* every handle closed: p may be freed */
    void *data;
};

/*
 * Starts argv[0] (looked up in PATH) with argv and envp (NULL-terminated, "NAME=value"), stdout and
 * stderr appended to log_path (NULL: infergate's own stderr). 0, or -1 with msg; after a failed
 * uv_spawn p->on_closed is still called once libuv let go of p (open_handles > 0 tells).
 */
int ig_process_spawn(ig_process_t *p, uv_loop_t *loop, char *const *argv, char *const *envp, const char *log_path,
                     char *msg, size_t msgsize);
/* SIGTERM to its process group, SIGKILL after grace_ms. Idempotent. */
void ig_process_stop(ig_process_t *p, uint64_t grace_ms);
/* SIGKILL to its process group now. */
void ig_process_kill(ig_process_t *p);
/* Lets the loop end while p runs (1), or keeps it alive again (0). */
void ig_process_set_ref(ig_process_t *p, int ref);

/* main() of the child before exec (argv[1] == IG_REPLICA_EXEC_ARG): never returns on success. */
int ig_replica_exec_main(int argc, char **argv);

/* A TCP port on 127.0.0.1 free right now (bound then released). 0 on failure. */
uint16_t ig_free_local_port(void);

#endif
