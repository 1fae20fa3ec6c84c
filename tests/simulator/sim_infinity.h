/* sim_infinity: the API of Infinity (michaelfeil/infinity, `infinity_emb v2`), served with
 * --api infinity: POST {prefix}/embeddings, POST {prefix}/rerank, GET {prefix}/models, GET /health,
 * where prefix is --url-prefix (Infinity's own option, default empty), plus the /sim/ control API. */
#ifndef SIM_INFINITY_H
#define SIM_INFINITY_H

#include <stddef.h>

#include "sim_router.h"

/* The route table of Infinity mode (built once, with --url-prefix). */
const sim_route_t *sim_infinity_routes(size_t *n);

#endif
