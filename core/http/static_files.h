/*
 * static_files.h — the console (/ui/) and portal (/portal/) pages, served from server.ui.dir:
 *
 *   /ui/, /ui/index.html           console/index.html
 *   /ui/<path>                     console/<path>
 *   /portal/, /portal/<path>       portal/index.html, portal/<path>
 *   /ui/assets/<path>, /portal/assets/<path>   assets/<path>   (shared by both)
 *   /ui/vendor/<path>, /portal/vendor/<path>   vendor/<path>   (npm libraries the build copied)
 *
 * Every answer carries a strict Content-Security-Policy (everything from this origin, nothing
 * inline, no framing), nosniff and no-referrer; HTML is never cached without revalidation, and
 * every file has an ETag. Only regular files inside the folder are served: any "." or ".." segment,
 * hidden name, backslash, or encoded dot or slash is refused, and symbolic links are not followed
 * out of it.
 */
#ifndef IG_STATIC_FILES_H
#define IG_STATIC_FILES_H

#include <h2o.h>

/* path starts with /ui or /portal. dir: server.ui.dir. */
void ig_static_serve(h2o_req_t *req, h2o_iovec_t path, const char *dir);
/* The headers every console and portal answer carries (CSP, nosniff, no-referrer, no framing). */
void ig_static_security_headers(h2o_req_t *req);

#endif
