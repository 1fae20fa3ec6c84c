/*
 * model_address.h — a model's own addresses: hostnames (`hosts:`) and a path prefix (`pathPrefix:`)
 * under which a request reaches that model (and /v1/models there lists only it).
 *
 * Config time: what a valid host and prefix are (ig_address_host_valid, ig_address_prefix_valid).
 * Request time: the Host (or :authority) a client sent, reduced to its name (ig_address_host_of), and
 * the generation's index of every model's addresses (sorted arrays, binary search: no per-request
 * scan of the models). Pure functions on bytes, no h2o: fuzzed by tests/fuzz/fuzz_model_address.c.
 */
#ifndef IG_MODEL_ADDRESS_H
#define IG_MODEL_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#define IG_ADDRESS_HOST_MAX 253
#define IG_ADDRESS_PREFIX_MAX 128

/* A DNS name in lowercase: labels of [a-z0-9-] (1..63, no '-' at either end) joined by '.', at most
 * 253 bytes, not all digits and dots (an IP address is no model's name). 0, or -1 with msg. */
int ig_address_host_valid(const char *s, char *msg, size_t msgcap);

/* "/seg[/seg...]": segments of [A-Za-z0-9._~-] (not "." or ".."), no trailing '/', at most 128 bytes,
 * and a first segment the gateway does not serve itself (v1, admin, ui, portal, ...). 0, or -1 with msg. */
int ig_address_prefix_valid(const char *s, char *msg, size_t msgcap);

/* The name in a Host header or :authority (a port and a trailing dot dropped, lowercased) into out
 * (cap >= IG_ADDRESS_HOST_MAX + 1). Its length, or 0 when it is empty, an IPv6 literal, has an empty
 * label or is otherwise malformed. */
size_t ig_address_host_of(const char *authority, size_t len, char *out, size_t cap);

/* Every model's addresses, for one generation. */
typedef struct {
    const char *key;   /* host (lowercase) or prefix */
    size_t len;
    uint32_t model;    /* index into the generation's models */
} ig_address_entry_t;

typedef struct {
    ig_address_entry_t *hosts, *prefixes; /* sorted by key */
    size_t nhosts, nprefixes;
} ig_address_index_t;

/* Adds one address (key not copied: it lives as long as the index's config). 0 or -1 (out of memory). */
int ig_address_index_add(ig_address_index_t *ix, int prefix, const char *key, uint32_t model);
/* Sorts what was added; call once, before lookups. */
void ig_address_index_seal(ig_address_index_t *ix);
void ig_address_index_free(ig_address_index_t *ix);

/* The model whose host is name[0..len) (as ig_address_host_of gives it), or -1. */
long ig_address_find_host(const ig_address_index_t *ix, const char *name, size_t len);
/* The model whose prefix path[0..len) starts with, followed by '/' (the rest, from that '/', starts at
 * *rest_at), or -1. Prefixes never nest (the config refuses it), so at most one matches. */
long ig_address_find_prefix(const ig_address_index_t *ix, const char *path, size_t len, size_t *rest_at);

#endif
