/*
 * conn_guard.h — hook points into Debian's libh2o for infergate's own HTTP/2 bounds (h2_guard.h).
 *
 * libh2o calls its exported functions through its PLT, so the executable defines some of them
 * (exported by core/http/h2o_hooks.list), looks at what passes and calls h2o's own through
 * dlsym(RTLD_NEXT). Only the executable linked with that list sees libh2o's calls; elsewhere the
 * hooks only forward.
 */
#ifndef IG_HTTP_CONN_GUARD_H
#define IG_HTTP_CONN_GUARD_H

/* Resolves h2o's functions behind the hooks (main thread, before the workers). 0, or -1 with a message. */
int ig_conn_guard_init(void);
/* 1 once libh2o's calls reach the hooks (an HTTP/2 connection was accepted through them). */
int ig_conn_guard_active(void);

#endif
