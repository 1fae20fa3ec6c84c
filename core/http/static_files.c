/* static_files.c — the console's and portal's files (static_files.h). */
#include "http/static_files.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "http/openai_error.h"
#include "http/static_path.h"

#define MAX_FILE (64u << 20)

static const char csp[] = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                          "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

void ig_static_security_headers(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0, NULL,
                          csp, sizeof(csp) - 1);
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL,
                          H2O_STRLIT("nosniff"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("no-referrer"));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL, H2O_STRLIT("DENY"));
}

static const struct {
    const char *ext, *type;
} mime_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"htm", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"jpg", "image/jpeg"},
    {"jpeg", "image/jpeg"},
    {"gif", "image/gif"},
    {"webp", "image/webp"},
    {"ico", "image/x-icon"},
    {"woff2", "font/woff2"},
    {"woff", "font/woff"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"webmanifest", "application/manifest+json"},
};

static const char *mime_of(const char *file)
{
    const char *dot = strrchr(file, '.');
    if (dot != NULL)
        for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++)
            if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
                return mime_types[i].type;
    return "application/octet-stream";
}

static void not_found(h2o_req_t *req)
{
    ig_send_error(req, 404, "invalid_request_error", NULL, "not_found", "no such file: %.*s",
                  (int)(req->path_normalized.len > 200 ? 200 : req->path_normalized.len), req->path_normalized.base);
}

static void redirect(h2o_req_t *req, const char *to)
{
    req->res.status = 302;
    req->res.reason = ig_http_reason(302);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, to, strlen(to));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_send_inline(req, H2O_STRLIT("redirecting\n"));
}

/* Reads the whole regular file at fd into pool memory. */
static char *slurp(h2o_req_t *req, int fd, size_t size)
{
    char *buf = h2o_mem_alloc_pool(&req->pool, size + 1);
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return NULL;
        got += (size_t)r;
    }
    return buf;
}

void ig_static_serve(h2o_req_t *req, h2o_iovec_t path, const char *dir)
{
    ig_static_security_headers(req);
    int head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    if (!head && !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD"));
        ig_send_error(req, 405, "invalid_request_error", NULL, "method_not_allowed", "%.*s is not allowed on %.*s",
                      (int)req->method.len, req->method.base, (int)(path.len > 200 ? 200 : path.len), path.base);
        return;
    }
    char rel[PATH_MAX], file[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    int portal;
    size_t raw_len = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
    switch (ig_static_map(req->path.base, raw_len, path.base, path.len, rel, sizeof(rel), &portal)) {
    case IG_STATIC_REDIRECT:
        redirect(req, rel);
        return;
    case IG_STATIC_REFUSED:
        not_found(req);
        return;
    case IG_STATIC_FILE:
        break;
    }
    int n = snprintf(file, sizeof(file), "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= sizeof(file)) {
        not_found(req);
        return;
    }
    if (realpath(dir, real_dir) == NULL) {
        ig_send_error(req, 404, "invalid_request_error", NULL, "ui_not_installed",
                      "the console's files are not installed: server.ui.dir (%s) does not exist; build with cmake "
                      "(it copies ui/ there) or set server.ui.dir",
                      dir);
        return;
    }
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > MAX_FILE ||
        realpath(file, real_file) == NULL || strncmp(real_file, real_dir, strlen(real_dir)) != 0 ||
        real_file[strlen(real_dir)] != '/') {
        if (fd >= 0)
            close(fd);
        if (strcmp(rel, portal ? "portal/index.html" : "console/index.html") == 0)
            ig_send_error(req, 404, "invalid_request_error", NULL, "ui_not_installed",
                          "the %s is not installed: server.ui.dir (%s) has no %s", portal ? "portal" : "console", dir,
                          rel);
        else
            not_found(req);
        return;
    }
    const char *type = mime_of(file);
    char *etag = h2o_mem_alloc_pool(&req->pool, 64);
    int elen = snprintf(etag, 64, "\"%llx-%llx\"", (unsigned long long)st.st_size,
                        (unsigned long long)st.st_mtim.tv_sec * 1000000000ull + (unsigned long long)st.st_mtim.tv_nsec);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ETAG, NULL, etag, (size_t)elen);
    /* no hashed file names: every file is checked again, cheaply, with its ETag */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-cache"));
    ssize_t inm = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    if (inm >= 0 && h2o_memis(req->headers.entries[inm].value.base, req->headers.entries[inm].value.len, etag,
                              (size_t)elen)) {
        close(fd);
        req->res.status = 304;
        req->res.reason = ig_http_reason(304);
        h2o_send_inline(req, "", 0);
        return;
    }
    size_t size = (size_t)st.st_size;
    char *body = head ? NULL : slurp(req, fd, size);
    close(fd);
    if (!head && body == NULL) {
        ig_send_error(req, 500, "server_error", NULL, NULL, "cannot read %.*s", (int)path.len, path.base);
        return;
    }
    req->res.status = 200;
    req->res.reason = ig_http_reason(200);
    req->res.content_length = size;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, type, strlen(type));
    static h2o_generator_t generator = {NULL, NULL};
    h2o_start_response(req, &generator);
    h2o_iovec_t buf = h2o_iovec_init(body ? body : "", head ? 0 : size);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}
