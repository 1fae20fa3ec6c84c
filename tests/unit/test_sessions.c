/*
 * test_sessions.c — console and portal sessions (admin/sessions.h): tokens and base64url, open /
 * find / close, the portal's key kept for the session, the least recently used session going first
 * when full, the failed-login limit per address (IPv4, IPv4-mapped IPv6, IPv6 by /64), and the
 * generated admin key's file (admin/admin_key.h): made once, 0600, only the hash, read back after.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "admin/admin_key.h"
#include "admin/sessions.h"
#include "ig_test.h"
#include "util/hex.h"

static void test_base64url(void)
{
    char out[64];
    static const struct {
        const char *in, *want;
    } v[] = {{"", ""}, {"f", "Zg"}, {"fo", "Zm8"}, {"foo", "Zm9v"}, {"foob", "Zm9vYg"}, {"\xfb\xff", "-_8"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = ig_base64url((const unsigned char *)v[i].in, strlen(v[i].in), out);
        CHECKF(n == strlen(v[i].want) && strcmp(out, v[i].want) == 0, "base64url(%s) = %s", v[i].in, out);
    }
    char a[IG_SESSION_TOKEN_LEN + 1], b[IG_SESSION_TOKEN_LEN + 1];
    CHECK(ig_random_token(a) == 0 && ig_random_token(b) == 0);
    CHECK(strlen(a) == IG_SESSION_TOKEN_LEN && strcmp(a, b) != 0);
}

static void test_sessions(void)
{
    ig_sessions_t *s = ig_sessions_create();
    unsigned char kh[32];
    memset(kh, 7, sizeof(kh));
    char tok[IG_SESSION_TOKEN_LEN + 1], tok2[IG_SESSION_TOKEN_LEN + 1];
    ig_session_view_t v, w;
    CHECK(ig_sessions_open(s, IG_SESSION_ADMIN, kh, NULL, 0, tok, &v) == 0);
    CHECK(strlen(v.csrf) == IG_SESSION_TOKEN_LEN && strcmp(v.csrf, tok) != 0);
    CHECK(v.api_key_len == 0 && memcmp(v.key_hash, kh, 32) == 0);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, tok, strlen(tok), &w) == 0 && strcmp(w.csrf, v.csrf) == 0);
    CHECK(ig_sessions_find(s, IG_SESSION_PORTAL, tok, strlen(tok), &w) != 0); /* kinds do not mix */
    char wrong[IG_SESSION_TOKEN_LEN + 1];
    memcpy(wrong, tok, sizeof(wrong));
    wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, wrong, strlen(wrong), &w) != 0);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, tok, 10, &w) != 0);
    CHECK(ig_sessions_open(s, IG_SESSION_PORTAL, NULL, "sk-secret", 9, tok2, &v) == 0);
    CHECK(ig_sessions_find(s, IG_SESSION_PORTAL, tok2, strlen(tok2), &w) == 0 && w.api_key_len == 9 &&
          strcmp(w.api_key, "sk-secret") == 0);
    CHECK(ig_sessions_count(s, IG_SESSION_ADMIN) == 1 && ig_sessions_count(s, IG_SESSION_PORTAL) == 1);
    char big[IG_SESSION_MAX_API_KEY + 2];
    memset(big, 'k', sizeof(big));
    CHECK(ig_sessions_open(s, IG_SESSION_PORTAL, NULL, big, sizeof(big), tok2, &v) != 0);
    ig_sessions_close(s, IG_SESSION_ADMIN, tok, strlen(tok));
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, tok, strlen(tok), &w) != 0);
    CHECK(ig_sessions_count(s, IG_SESSION_ADMIN) == 0);
    ig_sessions_close(s, IG_SESSION_ADMIN, tok, strlen(tok)); /* twice: harmless */

    /* full: the least recently used goes */
    char first[IG_SESSION_TOKEN_LEN + 1], second[IG_SESSION_TOKEN_LEN + 1], t[IG_SESSION_TOKEN_LEN + 1];
    CHECK(ig_sessions_open(s, IG_SESSION_ADMIN, kh, NULL, 0, first, &v) == 0);
    CHECK(ig_sessions_open(s, IG_SESSION_ADMIN, kh, NULL, 0, second, &v) == 0);
    usleep(2000);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, first, strlen(first), &w) == 0); /* first is used again */
    int fails = 0;
    for (int i = 2; i < IG_SESSIONS_MAX; i++)
        fails += ig_sessions_open(s, IG_SESSION_ADMIN, kh, NULL, 0, t, &v) != 0;
    CHECK(fails == 0 && ig_sessions_count(s, IG_SESSION_ADMIN) == IG_SESSIONS_MAX);
    CHECK(ig_sessions_open(s, IG_SESSION_ADMIN, kh, NULL, 0, t, &v) == 0);
    CHECK(ig_sessions_count(s, IG_SESSION_ADMIN) == IG_SESSIONS_MAX);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, second, strlen(second), &w) != 0);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, first, strlen(first), &w) == 0);
    CHECK(ig_sessions_find(s, IG_SESSION_ADMIN, t, strlen(t), &w) == 0);
    ig_sessions_free(s);
}

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    inet_pton(AF_INET, a, &in->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *in = (struct sockaddr_in6 *)&ss;
    in->sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &in->sin6_addr);
    return ss;
}

static void test_login_limit(void)
{
    ig_sessions_t *s = ig_sessions_create();
    struct sockaddr_storage a = v4("192.0.2.1"), mapped = v6("::ffff:192.0.2.1"), b = v4("192.0.2.2");
    struct sockaddr_storage n1 = v6("2001:db8:1:2::1"), n2 = v6("2001:db8:1:2:ffff::9"), other = v6("2001:db8:1:3::1");
    int retry = 0, allowed = 0;
    for (int i = 0; i < IG_LOGIN_MAX_FAILURES; i++) {
        allowed += ig_login_allowed(s, (struct sockaddr *)(i % 2 ? &a : &mapped), &retry) == 0;
        ig_login_failed(s, (struct sockaddr *)(i % 2 ? &a : &mapped));
    }
    CHECKF(allowed == IG_LOGIN_MAX_FAILURES, "allowed %d", allowed);
    CHECK(ig_login_allowed(s, (struct sockaddr *)&a, &retry) != 0 && retry > 0 && retry <= 60);
    CHECK(ig_login_allowed(s, (struct sockaddr *)&mapped, &retry) != 0);
    CHECK(ig_login_allowed(s, (struct sockaddr *)&b, &retry) == 0);
    for (int i = 0; i < IG_LOGIN_MAX_FAILURES; i++)
        ig_login_failed(s, (struct sockaddr *)(i % 2 ? &n1 : &n2)); /* one /64 */
    CHECK(ig_login_allowed(s, (struct sockaddr *)&n1, &retry) != 0);
    CHECK(ig_login_allowed(s, (struct sockaddr *)&other, &retry) == 0);
    ig_sessions_free(s);
}

static void test_admin_key(void)
{
    char dir[] = "/tmp/ig-admin-key-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char state[256], path[4200], key[128], msg[512];
    snprintf(state, sizeof(state), "%s/state/deeper", dir);
    unsigned char hash[32], again[32], want[32];
    CHECK(ig_admin_key_setup(state, hash, key, sizeof(key), path, sizeof(path), msg, sizeof(msg)) == 0);
    CHECKF(strncmp(key, "igadm_", 6) == 0 && strlen(key) == 6 + 43, "key %s", key);
    SHA256((const unsigned char *)key, strlen(key), want);
    CHECK(memcmp(hash, want, 32) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(stat(state, &st) == 0 && (st.st_mode & 0777) == 0700);
    FILE *f = fopen(path, "r");
    char line[128] = "", hex[65];
    if (f) {
        CHECK(fgets(line, sizeof(line), f) != NULL);
        fclose(f);
    }
    ig_hex_encode(want, 32, hex);
    hex[64] = '\0';
    char expect[128];
    snprintf(expect, sizeof(expect), "sha256:%s\n", hex);
    CHECKF(strcmp(line, expect) == 0, "file holds %s", line);
    CHECK(strstr(line, key + 6) == NULL);
    /* later starts read it back and make nothing */
    CHECK(ig_admin_key_setup(state, again, key, sizeof(key), path, sizeof(path), msg, sizeof(msg)) == 0);
    CHECK(key[0] == '\0' && memcmp(again, hash, 32) == 0);
    f = fopen(path, "w");
    if (f) {
        fputs("sha256:nothex\n", f);
        fclose(f);
    }
    CHECK(ig_admin_key_setup(state, again, key, sizeof(key), path, sizeof(path), msg, sizeof(msg)) != 0);
    CHECKF(strstr(msg, "delete the file") != NULL, "msg: %s", msg);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
}

int main(void)
{
    test_base64url();
    test_sessions();
    test_login_limit();
    test_admin_key();
    return ig_test_summary();
}
