/* sim_router: maps method + path to the handlers; also serves the small fixed endpoints
 * (/health, /version, /v1/models, /metrics). */
#ifndef SIM_ROUTER_H
#define SIM_ROUTER_H

#include <h2o.h>

int sim_router_on_req(h2o_handler_t *self, h2o_req_t *req);

#endif
