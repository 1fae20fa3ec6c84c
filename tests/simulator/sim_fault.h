/* sim_fault: the process-wide fault-injection mode, shared by all workers through one atomic word
 * (mode, every, generation) and one atomic request counter. */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stddef.h>
#include <stdint.h>

typedef enum sim_fault_mode {
    SIM_FAULT_NONE = 0,
    SIM_FAULT_REFUSE,         /* connection level: listeners closed (ECONNREFUSED), see README */
    SIM_FAULT_500,            /* answer 500 with vLLM's error JSON */
    SIM_FAULT_HANG,           /* accept the request, never answer */
    SIM_FAULT_CLOSE,          /* close the connection without any response */
    SIM_FAULT_DIE_MID_STREAM, /* close the connection after half the tokens / half the body */
    SIM_FAULT_ERROR_MID_STREAM, /* after half the tokens, the engine's error event, then [DONE] */
    SIM_FAULT_STALL_MID_STREAM, /* after half the tokens, nothing more until the client leaves */
} sim_fault_mode_t;

typedef struct sim_fault_state {
    sim_fault_mode_t mode;
    uint32_t every;      /* 1 = every request */
    uint32_t generation; /* bumped by every change */
} sim_fault_state_t;

int sim_fault_from_name(const char *s, size_t n, sim_fault_mode_t *out);
const char *sim_fault_name(sim_fault_mode_t mode);

/* Replaces the fault mode (every == 0 is taken as 1), restarts the every-N counter and calls the
 * change hook.  Returns the new generation. */
uint32_t sim_fault_set(sim_fault_mode_t mode, uint32_t every);
/* Resets to none only if nothing changed since `generation` (for timed faults). */
void sim_fault_clear_if(uint32_t generation);
sim_fault_state_t sim_fault_get(void);

/* True while every new connection must be refused (mode refuse, every 1): listeners stay closed. */
int sim_fault_refusing_all(void);
/* For a request reaching an inference endpoint: the fault to inject into it, or SIM_FAULT_NONE.
 * In refuse-all mode, requests on connections accepted earlier get SIM_FAULT_CLOSE. */
sim_fault_mode_t sim_fault_draw_request(void);
/* For a freshly accepted connection: non-zero if it must be reset at once (refuse with every > 1). */
int sim_fault_draw_connection(void);

/* Called (from whichever thread changed the mode) after each change; set once at startup. */
void sim_fault_on_change(void (*hook)(void));

#endif
