/*
 * ak_key.c — key secrets: SHA-256 (OpenSSL), constant-time comparison, generation, header parsing.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: see ak_key_hash */
#include "ak_key.h"
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "util/hex.h"

/*
 * Every request hashes its key. OpenSSL 3's one-shot SHA256() looks the
 * algorithm up in its provider tables on each call (about 7,600 instructions
 * a key under callgrind); the low-level functions hash a key in one block.
 * They are deprecated in 3.0 but kept, and this is exactly what they are for.
 */
void ak_key_hash(const char *key, size_t len, uint8_t out[AK_HASH_LEN])
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, key, len);
    SHA256_Final(out, &c);
}

int ak_hash_equal(const uint8_t a[AK_HASH_LEN], const uint8_t b[AK_HASH_LEN])
{
    return CRYPTO_memcmp(a, b, AK_HASH_LEN) == 0;
}

int ak_hash_parse(const char *s, size_t len, uint8_t out[AK_HASH_LEN], const char **why)
{
    static const char prefix[] = "sha256:";
    if (len < sizeof(prefix) - 1 || memcmp(s, prefix, sizeof(prefix) - 1) != 0) {
        *why = "must be \"sha256:\" followed by 64 hex digits (the SHA-256 of the key)";
        return -1;
    }
    s += sizeof(prefix) - 1;
    len -= sizeof(prefix) - 1;
    if (len != 2 * AK_HASH_LEN) {
        *why = "must have exactly 64 hex digits after \"sha256:\"";
        return -1;
    }
    if (ig_hex_decode(s, AK_HASH_LEN, out) != 0) {
        *why = "has a character that is not a hex digit after \"sha256:\"";
        return -1;
    }
    return 0;
}

void ak_hash_format(const uint8_t h[AK_HASH_LEN], char *buf)
{
    memcpy(buf, "sha256:", 7);
    ig_hex_encode(h, AK_HASH_LEN, buf + 7);
}

int ak_key_generate(const char *id, char *buf, size_t cap)
{
    unsigned char raw[AK_SECRET_BYTES];
    unsigned char b64[4 * ((AK_SECRET_BYTES + 2) / 3) + 1];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    int n = EVP_EncodeBlock(b64, raw, sizeof(raw));
    OPENSSL_cleanse(raw, sizeof(raw));
    /* base64url without padding: the key stays one token in headers, URLs and shells */
    while (n > 0 && b64[n - 1] == '=')
        n--;
    for (int i = 0; i < n; i++)
        b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
    int w = snprintf(buf, cap, "ig-%s-%.*s", id, n, (const char *)b64);
    OPENSSL_cleanse(b64, sizeof(b64));
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

int ak_random_id(const char *prefix, char *buf, size_t cap)
{
    unsigned char raw[8];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    char hex[2 * sizeof(raw) + 1];
    ig_hex_encode(raw, sizeof(raw), hex);
    int w = snprintf(buf, cap, "%s%s", prefix, hex);
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

static ig_str_t trim(ig_str_t s)
{
    while (s.len && (s.ptr[0] == ' ' || s.ptr[0] == '\t'))
        s.ptr++, s.len--;
    while (s.len && (s.ptr[s.len - 1] == ' ' || s.ptr[s.len - 1] == '\t'))
        s.len--;
    return s;
}

static int check_token(ig_str_t k, const char **why)
{
    if (k.len == 0) {
        *why = "the API key is empty";
        return -1;
    }
    if (k.len > AK_KEY_MAX) {
        *why = "the API key is too long";
        return -1;
    }
    for (size_t i = 0; i < k.len; i++)
        if ((unsigned char)k.ptr[i] <= ' ' || (unsigned char)k.ptr[i] == 0x7f) {
            *why = "the API key contains spaces or control characters";
            return -1;
        }
    return 0;
}

int ak_key_from_headers(ig_str_t authorization, ig_str_t api_key, ig_str_t *key, const char **why)
{
    ig_str_t a = trim(authorization);
    if (a.len) {
        if (a.len > 7 && strncasecmp(a.ptr, "bearer", 6) == 0 && (a.ptr[6] == ' ' || a.ptr[6] == '\t')) {
            *key = trim((ig_str_t){a.ptr + 7, a.len - 7});
            return check_token(*key, why) == 0 ? 1 : -1;
        }
        if (trim(api_key).len == 0) {
            *why = "the Authorization header must be \"Bearer <API key>\"";
            return -1;
        }
    }
    ig_str_t x = trim(api_key);
    if (x.len == 0)
        return 0;
    *key = x;
    return check_token(*key, why) == 0 ? 1 : -1;
}
