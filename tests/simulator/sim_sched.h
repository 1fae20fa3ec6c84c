/* sim_sched: vLLM's bounded running set.  With --max-num-seqs N, at most N generation requests run
 * at once, process-wide; the others wait in arrival order (per worker) and are admitted as running
 * ones end, so their time to first token grows with the queue.  Without the option nothing waits.
 * /metrics reports the two counts as vllm:num_requests_running and vllm:num_requests_waiting. */
#ifndef SIM_SCHED_H
#define SIM_SCHED_H

#include <stdint.h>

#include <h2o.h>

struct sim_worker;

typedef enum { SIM_SEQ_IDLE = 0, SIM_SEQ_WAITING, SIM_SEQ_RUNNING } sim_seq_state_t;

/* One request's place: embedded in whatever carries the request (a stream, a plain answer). */
typedef struct sim_seq {
    h2o_linklist_t link;       /* in its worker's waiting list while SIM_SEQ_WAITING */
    struct sim_worker *worker;
    h2o_req_t *plain;          /* a waiting non-streamed request, checked for a vanished client; or NULL */
    void (*on_admit)(struct sim_seq *s); /* called on the worker's loop once it runs */
    sim_seq_state_t state;
} sim_seq_t;

/* Runs s at once (returns 1; on_admit is not called) or queues it (returns 0; on_admit follows). */
int sim_sched_submit(struct sim_worker *w, sim_seq_t *s);
/* s ends, whether it ran or waited (idempotent): its slot goes to the next waiter. */
void sim_sched_release(sim_seq_t *s);
/* Admits this worker's waiters while slots are free (from the worker's wakeup and tick). */
void sim_sched_run(struct sim_worker *w);
/* Aborts this worker's waiting plain requests whose HTTP/1 client has gone (h2o does not read then). */
void sim_sched_check_clients(struct sim_worker *w);

/* Requests waiting now, process-wide. */
uint64_t sim_sched_waiting(void);

#endif
