/*
 * sessions.h — browser sessions of the console (admin) and the portal (customers), and the limit on
 * failed logins per source address.
 *
 * Process state, shared by the worker threads under one lock; it survives reloads, not restarts.
 * A session is found by its cookie's token, of which only the SHA-256 is kept. An admin session
 * keeps no key, only the SHA-256 of the admin key that opened it (the session ends when that key
 * leaves the configuration); a portal session keeps the customer's API key in memory, never on
 * disk, because every request of the session is authenticated again with it by the auth plugin.
 * Sessions end after IG_SESSION_IDLE_MS unused or IG_SESSION_MAX_MS after login, whichever first.
 */
#ifndef IG_SESSIONS_H
#define IG_SESSIONS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define IG_SESSION_IDLE_MS (12ll * 3600 * 1000)
#define IG_SESSION_MAX_MS (7ll * 24 * 3600 * 1000)
#define IG_SESSION_TOKEN_LEN 43      /* 32 random bytes, base64url without padding */
#define IG_SESSION_MAX_API_KEY 512   /* longer keys are refused at login */
#define IG_SESSIONS_MAX 4096         /* per kind; the least recently used goes first */

/* Failed logins: at most IG_LOGIN_MAX_FAILURES per source address (IPv6: per /64) in
 * IG_LOGIN_WINDOW_MS; beyond, logins from there are refused (429) until the window ends. */
#define IG_LOGIN_MAX_FAILURES 10
#define IG_LOGIN_WINDOW_MS (60ll * 1000)

typedef enum { IG_SESSION_ADMIN = 0, IG_SESSION_PORTAL = 1 } ig_session_kind_t;

typedef struct ig_sessions_s ig_sessions_t;

/* What a session is, as a request sees it. */
typedef struct {
    char csrf[IG_SESSION_TOKEN_LEN + 1];
    unsigned char key_hash[32];      /* admin: SHA-256 of the admin key that logged in */
    char api_key[IG_SESSION_MAX_API_KEY + 1]; /* portal: the API key ("" for admin) */
    size_t api_key_len;
    int64_t expires_at_ms;           /* unix ms: the earlier of idle and absolute expiry */
} ig_session_view_t;

ig_sessions_t *ig_sessions_create(void);
void ig_sessions_free(ig_sessions_t *s);

/* Random base64url text of 32 bytes (IG_SESSION_TOKEN_LEN chars + NUL) from OpenSSL. 0 or -1. */
int ig_random_token(char out[IG_SESSION_TOKEN_LEN + 1]);
/* base64url without padding of in[0..n) into out (4 * ceil(n / 3) + 1 bytes suffice); returns the length. */
size_t ig_base64url(const unsigned char *in, size_t n, char *out);

/*
 * A new session: token (the cookie's value) and view filled. key_hash for admin sessions,
 * api_key for portal ones. 0, or -1 (out of memory, no randomness).
 */
int ig_sessions_open(ig_sessions_t *s, ig_session_kind_t kind, const unsigned char key_hash[32], const char *api_key,
                     size_t api_key_len, char token[IG_SESSION_TOKEN_LEN + 1], ig_session_view_t *view);
/* The live session of this token (it counts as used now): 0 with view filled, or -1. */
int ig_sessions_find(ig_sessions_t *s, ig_session_kind_t kind, const char *token, size_t len, ig_session_view_t *view);
/* Ends the session of this token (logout); harmless when there is none. */
void ig_sessions_close(ig_sessions_t *s, ig_session_kind_t kind, const char *token, size_t len);
/* Live sessions of a kind (tests, /admin/gateway). */
size_t ig_sessions_count(ig_sessions_t *s, ig_session_kind_t kind);

/* 0 when sa may try to log in now, else -1 with *retry_after_s (seconds until the window ends). */
int ig_login_allowed(ig_sessions_t *s, const struct sockaddr *sa, int *retry_after_s);
/* A failed login from sa. */
void ig_login_failed(ig_sessions_t *s, const struct sockaddr *sa);

#endif
