/* sim_usage: what the simulator generated per end user (the request's OpenAI "user" field), so a
 * test can compare a gateway's billing with what was really sent, customer by customer. Tokens are
 * counted as they are handed to the connection, exactly like sim_stats.completion_tokens. */
#ifndef SIM_USAGE_H
#define SIM_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

/* Adds to the user's row (users beyond the table's 256 rows share the row "*"). */
void sim_usage_add(const char *user, size_t len, uint64_t requests, uint64_t prompt, uint64_t completion);

/* GET /sim/usage: {"users":{"<user>":{"requests","prompt_tokens","completion_tokens"},...}}
 * (requests: accepted ones; "" is the requests without a user). */
void sim_usage_get(h2o_req_t *req);
/* POST /sim/reset-usage: empties the table and answers like GET. */
void sim_usage_reset(h2o_req_t *req);

#endif
