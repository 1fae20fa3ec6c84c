/* sim_control: the simulator's own test API under /sim/ (not part of vLLM). */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <h2o.h>

/* POST /sim/fault {"mode":"500","every":1,"duration_ms":0} */
void sim_control_set_fault(h2o_req_t *req);
/* GET /sim/fault */
void sim_control_get_fault(h2o_req_t *req);
/* GET /sim/stats */
void sim_control_stats(h2o_req_t *req);
/* POST /sim/reset-stats */
void sim_control_reset_stats(h2o_req_t *req);
/* POST /sim/reset-prefix-cache: empties the prefix cache, answers like GET /sim/stats */
void sim_control_reset_prefix_cache(h2o_req_t *req);

#endif
