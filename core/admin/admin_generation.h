/*
 * admin_generation.h — GET /admin/generation (behind the admin-key gate): the
 * generation serving new requests (id, when it was loaded, the config file,
 * its models and plugins), reload counts and the last reload error.
 */
#ifndef IG_ADMIN_GENERATION_H
#define IG_ADMIN_GENERATION_H

#include <h2o.h>

typedef struct ig_worker_s ig_worker_t;

void ig_admin_generation_serve(h2o_req_t *req, ig_worker_t *w);

#endif
