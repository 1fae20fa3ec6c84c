/* admin_auth.c — checks an admin key against server.adminKeys (admin_auth.h). */
#include "admin/admin_auth.h"
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include "http/openai_error.h"

int ig_admin_authorize(h2o_req_t *req, const ig_server_config_t *server)
{
    if (server->nadmin_keys == 0) {
        ig_send_error(req, 403, "invalid_request_error", NULL, "admin_disabled",
                      "the admin API is disabled: configure server.adminKeys (\"sha256:<hex>\" of each admin key)");
        return -1;
    }
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    h2o_iovec_t v = i >= 0 ? req->headers.entries[i].value : h2o_iovec_init(NULL, 0);
    if (v.len <= 7 || strncasecmp(v.base, "Bearer ", 7) != 0) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_api_key",
                      "the admin API needs an admin key: Authorization: Bearer <admin key>");
        return -1;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)v.base + 7, v.len - 7, digest);
    int match = 0;
    for (size_t k = 0; k < server->nadmin_keys; k++) /* no early exit: every key is compared */
        match |= CRYPTO_memcmp(digest, server->admin_key_hashes[k], sizeof(digest)) == 0;
    if (!match) {
        ig_send_error(req, 401, "invalid_request_error", NULL, "invalid_api_key",
                      "the admin key given is not one of server.adminKeys");
        return -1;
    }
    return 0;
}
