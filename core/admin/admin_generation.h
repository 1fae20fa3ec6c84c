/*
 * admin_generation.h — GET /admin/generation (behind the admin-key gate): the
 * generation serving new requests (id, when it was loaded, the config file,
 * its models and plugins), reload counts and the last reload error.
 */
#ifndef IG_ADMIN_GENERATION_H
#define IG_ADMIN_GENERATION_H

#include <h2o.h>
#include "config/generation.h"
#include "observe/reload_status.h"

/* gen: the generation serving new requests on the calling worker. */
void ig_admin_generation_serve(h2o_req_t *req, const ig_generation_t *gen, const ig_reload_status_t *reloads);

#endif
