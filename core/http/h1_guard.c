#include "http/h1_guard.h"
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

typedef int (*phr_parse_request_fn)(const char *buf, size_t len, const char **method, size_t *method_len,
                                    const char **path, size_t *path_len, int *minor_version,
                                    struct phr_header *headers, size_t *num_headers, size_t last_len);

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len);

static phr_parse_request_fn real_parse;
static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

static void resolve(void)
{
    real_parse = (phr_parse_request_fn)dlsym(RTLD_NEXT, "phr_parse_request");
}

/* Room to count headers past h2o's 100, so "too many" is told apart from "malformed" (a refused
 * head is parsed a second time, into this). */
#define PARSE_CAP 1024

static _Thread_local struct phr_header parsed[PARSE_CAP];
static _Thread_local ig_h1_head_t last;
static _Thread_local int last_valid;
/* h2o lowercases header names in place: a writable copy per thread */
static _Thread_local char connection_name[] = "connection";
static const char refused_method[] = "GET";
static const char refused_path[] = "/";

static void add_close(struct phr_header *h)
{
    *h = (struct phr_header){connection_name, sizeof(connection_name) - 1, "close", 5};
}

/* Shows h2o a complete body-less request "GET /" of len bytes that closes the connection. */
static int refuse(const char *why, size_t len, const char **method, size_t *method_len, const char **path,
                  size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers)
{
    *method = refused_method;
    *method_len = 3;
    *path = refused_path;
    *path_len = 1;
    *minor_version = 1;
    add_close(&headers[0]);
    *num_headers = 1;
    last = (ig_h1_head_t){.method = refused_method, .head_len = len, .refused = why};
    last_valid = 1;
    return (int)len;
}

static int is_framing_header(const struct phr_header *h)
{
    static const char *const names[] = {"content-length", "transfer-encoding", "expect", "upgrade", "connection"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (h->name_len == strlen(names[i]) && strncasecmp(h->name, names[i], h->name_len) == 0)
            return 1;
    return 0;
}

int phr_parse_request(const char *buf, size_t len, const char **method, size_t *method_len, const char **path,
                      size_t *path_len, int *minor_version, struct phr_header *headers, size_t *num_headers,
                      size_t last_len)
{
    pthread_once(&resolve_once, resolve);
    size_t cap = *num_headers, n = cap;
    last_valid = 0;
    int r = real_parse(buf, len, method, method_len, path, path_len, minor_version, headers, &n, last_len);
    if (r == -2) {
        /* h2o refuses a head that fills H2O_MAX_REQLEN without ending */
        if (len >= H2O_MAX_REQLEN)
            return refuse("the request head is too large", len, method, method_len, path, path_len, minor_version,
                          headers, num_headers);
        return r;
    }
    if (r == -1) {
        static const char h2_preface[] = "PRI * HTTP/2";
        size_t pl = len < sizeof(h2_preface) - 1 ? len : sizeof(h2_preface) - 1;
        if (memcmp(buf, h2_preface, pl) == 0)
            return r; /* h2c with prior knowledge: h2o's */
        int blank = len <= 4;
        for (size_t i = 0; blank && i < len; i++)
            blank = buf[i] == '\r' || buf[i] == '\n';
        if (blank)
            return r; /* h2o closes quietly */
        /* again with room past h2o's 100, to tell "too many" from "malformed" (refused alike) */
        size_t more = PARSE_CAP;
        const char *m, *p;
        size_t ml, pl2;
        int minor;
        int again = real_parse(buf, len, &m, &ml, &p, &pl2, &minor, parsed, &more, 0);
        return refuse(again > 0 && more > cap ? "the request has more than 100 header fields"
                                              : "the request head is malformed, or has more than 100 header fields",
                      len, method, method_len, path, path_len, minor_version, headers, num_headers);
    }
    ig_h1_framing_t f;
    if (ig_h1_framing_check(headers, n, *minor_version, &f) != 0)
        return refuse(f.error, len, method, method_len, path, path_len, minor_version, headers, num_headers);
    *num_headers = n;
    if (f.body == IG_H1_BODY_NONE)
        return r;
    /* A body: h2o sees no framing (so it reads none), and a connection that closes after the response
     * unless the router, having read the body, says otherwise. */
    size_t out = 0;
    for (size_t i = 0; i < n; i++)
        if (!is_framing_header(&headers[i]))
            headers[out++] = headers[i];
    add_close(&headers[out++]); /* fits: a body means a Content-Length or Transfer-Encoding was dropped */
    *num_headers = out;
    last = (ig_h1_head_t){.method = *method, .head_len = (size_t)r, .framing = f};
    last_valid = 1;
    return r;
}

int ig_h1_head_take(h2o_req_t *req, ig_h1_head_t *out)
{
    if (!last_valid || req->version >= 0x200 || req->input.method.base != last.method)
        return -1;
    *out = last;
    last_valid = 0;
    return 0;
}

int ig_h1_guard_installed(void)
{
    void *seen = dlsym(RTLD_DEFAULT, "phr_parse_request");
    return seen == (void *)phr_parse_request ? 0 : -1;
}
