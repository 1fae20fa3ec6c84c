/* sim_router: maps method + path to the handlers; also serves the small fixed endpoints
 * (/health, /version, /v1/models, /metrics). */
#ifndef SIM_ROUTER_H
#define SIM_ROUTER_H

#include <h2o.h>

int sim_router_on_req(h2o_handler_t *self, h2o_req_t *req);

/* One route of an engine API mode: exact path and method. */
typedef struct sim_route {
    const char *path;
    const char *method;
    void (*fn)(h2o_req_t *req);
} sim_route_t;

/* Serves req from routes (HEAD as GET); an unknown path gets FastAPI's 404 {"detail":"Not Found"},
 * a known path with another method 405 — what vLLM and Infinity (both FastAPI) answer. */
void sim_router_dispatch(h2o_req_t *req, const sim_route_t *table, size_t n);

#endif
