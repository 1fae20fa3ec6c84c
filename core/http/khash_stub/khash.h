/*
 * khash_stub/khash.h — lets h2o_stream.c include Debian's h2o/http2_internal.h, whose khash.h
 * Debian does not install. Only the types' layout is wanted (offsets into h2o's own stream and
 * connection): the one hash in there (h2o_http2_conn_t.streams) is a pointer, and the inline
 * lookup that would use it is never called.
 */
#ifndef IG_KHASH_STUB_H
#define IG_KHASH_STUB_H
typedef unsigned int khint_t;
typedef khint_t khiter_t;
#define khash_t(name) struct ig_kh_##name##_s
#define KHASH_MAP_INIT_INT64(name, type)
#define kh_get(name, h, k) ((void)(h), (void)(k), (khiter_t)0)
#define kh_end(h) ((khiter_t)0)
#define kh_val(h, x) ((void)(x), (void *)0)
#endif
