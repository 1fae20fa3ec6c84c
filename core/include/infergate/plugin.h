/*
 * infergate/plugin.h — the plugin ABI. The only header (with json.h) a plugin includes.
 *
 * A plugin is a shared object exporting one symbol, IG_PLUGIN_SYMBOL, a const
 * ig_plugin_t that describes it: ABI version, name, kind, the options it
 * accepts (validated by the core, errors reported as file:line), and the
 * kind's function table. The core hands every entry point an ig_host_t, the
 * table of everything a plugin may call in the core (Redis-module style): a
 * plugin never links against core symbols.
 *
 * Compatibility (from version 3 on):
 *  - Every table of functions, the host's (ig_host_t, ig_json_api_t) and the plugin's (the
 *    descriptor and each kind's vtable), starts with its size and only ever grows at its end. A
 *    plugin built against an older header of the same ABI version hands the core a smaller table:
 *    the core reads only what fits (IG_HAS) and treats the rest as NULL. A plugin calls a host
 *    function added after the version it was built against only after IG_HAS(host, fn).
 *  - Structs the core fills and hands to plugins (requests, records, init contexts) also only grow
 *    at their end.
 *  - Arrays of structs a plugin defines (ig_option_decl_t, ig_route_decl_t) and everything else
 *    here are frozen: changing them bumps IG_PLUGIN_ABI_VERSION, and the core refuses a plugin built
 *    for another version, naming both.
 * This header holds types and tables only: a plugin calls the core through ig_host_t, never by
 * symbol.
 */
#ifndef INFERGATE_PLUGIN_H
#define INFERGATE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include "infergate/json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IG_PLUGIN_ABI_VERSION 3
#define IG_PLUGIN_SYMBOL "infergate_plugin"

/* Put in front of the descriptor definition: IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {...}; */
#define IG_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef struct {
    const char *ptr;
    size_t len;
} ig_str_t;

#define IG_STR(lit) ((ig_str_t){(lit), sizeof(lit) - 1})

/* True when a table that starts with its size (host, vtables) holds member: the table was built
 * against a header that had it. Use before calling a host function newer than your plugin's need. */
#define IG_HAS(table, member) \
    ((table)->size >= offsetof(__typeof__(*(table)), member) + sizeof((table)->member))

/* A NUL-terminated string list (IG_OPT_STRING_LIST values). */
typedef struct {
    const char *const *items;
    size_t len;
} ig_str_list_t;

/*
 * What an entry point that may finish later (auth's authenticate, a rate limiter's admit) returns
 * when it will: it calls the host's matching *_done function exactly once, from the request's worker
 * thread, unless the core cancels the request first (see the vtables).
 */
#define IG_PENDING 1

/*
 * Errors are values: a plugin fills msg (host->error does) and returns -1.
 * Where the error reaches a client, status/type/code pick the OpenAI-shaped
 * answer; left 0/NULL, the call's documented default applies.
 */
typedef struct {
    char msg[512];
    int status;          /* HTTP status, e.g. 401, 403, 429, 503 */
    const char *type;    /* static string: "invalid_request_error", "rate_limit_exceeded", ... */
    const char *code;    /* static string: "invalid_api_key", "model_not_found", ...; may be NULL */
} ig_error_t;

typedef enum {
    IG_PLUGIN_ENGINE = 1,    /* talks to one kind of inference server */
    IG_PLUGIN_LB = 2,        /* picks an endpoint of a model */
    IG_PLUGIN_AUTH = 3,      /* API key → principal (at most one per configuration) */
    IG_PLUGIN_RATELIMIT = 4, /* admits or refuses a request, charges its usage */
    IG_PLUGIN_BILLING = 5    /* receives one usage record per request that reached an engine */
} ig_plugin_kind_t;

/* ---- options declared by plugins, validated by the core -------------------------------- */

/*
 * Options are declared, and each declaration says where its value goes (Fluent Bit's config map):
 * the plugin names a struct of its own (options_size), and the core fills one per configuration
 * generation at the declared offsets, with the C type of the option's type:
 */
typedef enum {
    IG_OPT_STRING = 1,  /* const char * (NUL-terminated) */
    IG_OPT_INT,         /* int64_t, within [min, max] */
    IG_OPT_BOOL,        /* int, 0 or 1 */
    IG_OPT_DURATION,    /* int64_t milliseconds: "250ms", "5s", "2m", "1h" or a bare number of ms */
    IG_OPT_STRING_LIST, /* ig_str_list_t */
    IG_OPT_JSON,        /* const char *: any YAML value (map, list, scalar) as JSON text; the plugin
                           validates its shape. Plain scalars true/false/null and numbers become JSON
                           literals, every other scalar a JSON string */
    IG_OPT_SIZE         /* int64_t bytes: "512KB", "16MiB", "1GB" or a bare number of bytes */
} ig_option_type_t;

typedef struct {
    const char *name;          /* YAML key, camelCase like the rest of the config */
    ig_option_type_t type;
    const char *default_value; /* as it would be written in YAML; NULL = required */
    const char *description;
    int64_t min, max;          /* IG_OPT_INT / _DURATION / _SIZE bounds; both 0 = unbounded */
    size_t offset;             /* offsetof(your options struct, field) */
} ig_option_decl_t;

/* ---- what the gateway serves ------------------------------------------------------------- */

typedef enum {
    IG_API_NONE = 0,
    IG_API_CHAT_COMPLETIONS,
    IG_API_COMPLETIONS,
    IG_API_EMBEDDINGS,
    IG_API_RERANK,
    IG_API_SCORE,
    IG_API_AUDIO_TRANSCRIPTIONS,
    IG_API_AUDIO_TRANSLATIONS,
    IG_API__COUNT
} ig_api_t;

enum {
    IG_FEATURE_TEXT_GENERATION = 1u << 0,
    IG_FEATURE_TEXT_EMBEDDING = 1u << 1,
    IG_FEATURE_RERANKING = 1u << 2,
    IG_FEATURE_SPEECH_TO_TEXT = 1u << 3
};

typedef struct {
    const char *key, *value;
} ig_kv_t;

typedef struct {
    const char *name;
    const char *url;
} ig_adapter_t;

typedef struct ig_endpoint_s ig_endpoint_t; /* opaque; read through ig_host_t */

/*
 * A model's prices: per token (per second for audio, per request for request), OpenRouter style,
 * kept as written ("0.000008") so they can be computed exactly. The core computes them once, at
 * load, from the model's `pricing:` and its listing metadata's `pricing` (openrouter: or the
 * manifest's openrouter.ai/json annotation), and refuses a config where the two disagree: what a
 * model is listed at and what it is billed are these strings. input_cache_read is the prompt price
 * when neither place sets it (cached tokens cost what other prompt tokens cost); NULL where nothing
 * is charged. Frozen: ig_model_t holds it inline. OpenRouter's other prices are ig_pricing_more_t.
 */
typedef struct {
    const char *prompt, *completion, *request, *input_cache_read, *audio;
} ig_pricing_t;

/*
 * OpenRouter's prices for what no engine reports a count of (added within ABI 3, at the end of
 * ig_model_t). The core accepts them only as zero ("0", "0.0") or absent, since nothing could bill
 * them: NULL, or the zero as written.
 */
typedef struct {
    const char *input_cache_write;   /* per prompt token written to a prompt cache */
    const char *image;               /* per input image */
    const char *web_search;          /* per web search */
    const char *internal_reasoning;  /* per reasoning token */
} ig_pricing_more_t;

/* ig_model_t.listed: may the public listings (GET /public/api/models, /openrouter/models) show it */
enum {
    IG_LISTED_AUTO = -1, /* when every key may use it (nothing but a key's own models list restricts it) */
    IG_LISTED_NO = 0,    /* never */
    IG_LISTED_YES = 1    /* always, even when published to chosen customers only */
};

/* Rate limits; -1 means no limit. Windows are sliding minutes/hours. */
typedef struct {
    int64_t requests_per_minute, requests_per_hour;
    int64_t tokens_per_minute, tokens_per_hour;
    int64_t burst;            /* extra requests allowed above the per-minute rate in a short spike */
    int64_t max_concurrent;   /* requests in flight at once */
} ig_limits_t;

#define IG_LIMITS_NONE ((ig_limits_t){-1, -1, -1, -1, -1, -1})

/*
 * A model as configured. Immutable and owned by a configuration generation:
 * valid from model_init until model_free, shared by all worker threads.
 */
typedef struct ig_model_s {
    const char *name;         /* what clients send as "model" */
    const char *engine;       /* as written in the config */
    const char *url;          /* hf://..., ollama://..., or NULL */
    const char *served_name;  /* name the engine serves the base model under */
    unsigned features;        /* IG_FEATURE_* */
    const char *const *args;
    size_t nargs;
    const ig_kv_t *env;
    size_t nenv;
    const ig_adapter_t *adapters;
    size_t nadapters;
    ig_pricing_t pricing;     /* the prices it is billed and listed at (see ig_pricing_t) */
    const char *openrouter_json; /* openrouter: metadata as JSON text (or the manifest annotation), or NULL */
    ig_limits_t limits;       /* limits: for the model as a whole (every field -1 when absent) */
    const char *strategy;     /* loadBalancing.strategy as written */
    const void *lb_options;   /* the strategy plugin's model_options struct (model_options_size), filled */
    void *engine_model_state; /* the engine plugin's per-model state, set by its model_init */
    void *lb_model_state;     /* the strategy plugin's per-model state, set by its model_init */
    /* added within ABI 3 (a struct the core fills grows only here) */
    ig_pricing_more_t pricing_more; /* OpenRouter's other prices (all zero or NULL, see ig_pricing_more_t) */
    const char *owner;        /* owner: what /v1/models says in owned_by (KubeAI's field); NULL: "infergate" */
    int listed;               /* IG_LISTED_*: `listed:` (a manifest's infergate/listed annotation) */
} ig_model_t;

/*
 * One part of a multipart/form-data body (RFC 7578), as the core found it. Every span points into
 * the client's body; nothing is copied (the audio of a transcription may be large).
 */
typedef struct {
    ig_str_t name;          /* the form field's name as written (between its quotes, escapes kept) */
    ig_str_t filename;      /* the file name as written; ptr NULL when the part is not a file */
    ig_str_t content_type;  /* the part's Content-Type value, or empty */
    ig_str_t value;         /* the part's content (for a file: its bytes) */
    ig_str_t whole;         /* the part from its delimiter line up to (not including) the next one's CRLF */
} ig_form_part_t;

/* Usage the engine reported; -1 where unknown. */
typedef struct {
    int64_t prompt_tokens;
    int64_t completion_tokens;
    int64_t cached_tokens;
    double audio_seconds;
} ig_usage_t;

/* ---- the host API table ------------------------------------------------------------------ */

typedef enum { IG_LOG_ERROR = 0, IG_LOG_WARN, IG_LOG_INFO, IG_LOG_DEBUG } ig_log_level_t;

typedef struct ig_auth_request_s ig_auth_request_t;
typedef struct ig_rl_request_s ig_rl_request_t;
typedef struct ig_principal_s ig_principal_t;
struct ig_http_exchange_s;
struct uv_loop_s; /* libuv's loop: a plugin that waits on the network includes <uv.h> and links libuv */

typedef struct ig_host_s {
    size_t size;              /* sizeof(ig_host_t) as the core was built: see IG_HAS */
    uint32_t abi_version;
    void (*log)(ig_log_level_t level, const char *plugin, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Fills err->msg, printf-style. Always returns -1 so `return host->error(err, ...)` reads well. */
    int (*error)(ig_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
    /* Request-scoped memory (h2o's per-request pool): freed with the request, never free() it. */
    void *(*palloc)(void *pool, size_t n);
    uint64_t (*now_ms)(void); /* monotonic */
    const ig_json_api_t *json;
    /* Endpoint state, shared by all worker threads (atomic reads). */
    const char *(*endpoint_url)(const ig_endpoint_t *ep);
    uint32_t (*endpoint_in_flight)(const ig_endpoint_t *ep);
    int (*endpoint_healthy)(const ig_endpoint_t *ep);
    /* Requests running + waiting in the engine as it last reported them (its engine's load_path,
     * read by the health checker every healthCheck.interval); 0 when unknown. Counts every client
     * of the engine, not only this gateway, and lags by up to one interval. */
    uint32_t (*endpoint_engine_load)(const ig_endpoint_t *ep);
    /*
     * The calling worker thread's event loop and index (0 .. workers-1), or NULL and -1 on any other
     * thread. A plugin that answers later (IG_PENDING) does its I/O and timers on this loop; handles
     * it opens there belong to that thread. The loop outlives every generation; it stops only at exit,
     * after the last request ended and before unload().
     */
    struct uv_loop_s *(*worker_loop)(void);
    int (*worker_index)(void);
    /*
     * Finish an authenticate() or admit() that returned IG_PENDING: rc 0 (authenticated, with *out
     * filled / admitted) or -1 with err (NULL: the call's default error). Exactly once per pending
     * call, on the request's worker thread (its worker_loop), never from inside the call that returned
     * IG_PENDING, and never after the core called the vtable's cancel for that request.
     */
    void (*auth_done)(const ig_auth_request_t *req, int rc, const ig_error_t *err);
    void (*admit_done)(ig_rl_request_t *req, int rc, const ig_error_t *err);
    /*
     * Runs fn(arg) on the calling worker thread once its loop is about to end (at exit, after its last
     * request, before unload()): close there what was opened on worker_loop(), the loop then runs until
     * those handles are closed. Worker threads only. 0, or -1 (not a worker thread, out of memory).
     */
    int (*on_worker_exit)(void (*fn)(void *arg), void *arg);
    /*
     * Added within ABI 3. The caller of an IG_ROUTE_PRINCIPAL route call (see ig_route_access_t), as the
     * auth plugin established it, valid during the call; NULL for any other route or when no auth plugin
     * is loaded. A plugin serving such a route refuses the call when this is missing (IG_HAS) or NULL:
     * an older core treats IG_ROUTE_PRINCIPAL as public.
     */
    const ig_principal_t *(*route_principal)(const struct ig_http_exchange_s *x);
    /*
     * Added within ABI 3. From inside a route's handler: runs work(arg) on a thread of the core's pool,
     * off the event loop (a database read, a file), then done(arg, x, err) on the request's worker
     * thread, which fills x's outputs and returns 0, or returns -1 with err, as a handler would. The
     * handler returns IG_PENDING right after a 0 from here. work must not touch x or its pool; the
     * plugin's state of the generation serving the call stays valid until done returns. When the client
     * left (or the gateway's grace period ended) before done, done is called with x NULL: release arg,
     * answer nothing. Exactly one done per 0 returned. -1 (not in a handler, called twice, out of
     * memory): nothing was queued, the handler answers itself.
     */
    int (*route_defer)(struct ig_http_exchange_s *x, void (*work)(void *arg),
                       int (*done)(void *arg, struct ig_http_exchange_s *x, ig_error_t *err), void *arg);
} ig_host_t;

/* ---- engine plugins ---------------------------------------------------------------------- */

/*
 * One request on its way to an engine. The core fills the inputs, the engine's
 * prepare() fills the upstream request, the response hooks fill usage.
 * Everything a plugin allocates for it comes from host->palloc(r->pool, ...).
 */
typedef struct ig_engine_req_s {
    const ig_host_t *host;
    void *pool;
    /* inputs */
    ig_api_t api;
    const ig_model_t *model;
    ig_str_t adapter;          /* LoRA adapter addressed as <model>_<adapter>, or empty */
    ig_json_value_t body;      /* the client's JSON body (the top-level object) */
    ig_json_value_t model_field; /* span of the body's "model" value (with quotes) */
    int stream;                /* the client asked for a stream */
    int client_wants_usage;    /* stream_options.include_usage was true in the client's body */
    /* outputs of prepare(): path and body sent upstream */
    ig_str_t upstream_path;
    ig_str_t upstream_body[8]; /* concatenated in order; spans may point into the client body */
    size_t nupstream_body;
    /* response, filled by the core before on_response_data */
    int upstream_status;
    /*
     * Set by a response hook when the engine answered >= 400: the status the client gets for that
     * error (e.g. 503 for a model the engine has not pulled). 0 keeps the core's default: the
     * engine's 4xx as it is, its 5xx as 502.
     */
    int client_status;
    /* filled by the engine from the response */
    ig_usage_t usage;
    void *state;               /* engine's per-request state */
    /*
     * multipart/form-data requests (audio transcriptions and translations). body and model_field
     * are then empty (type IG_JSON_INVALID); the form is parsed instead, and the engine splices
     * upstream_body from spans of raw_body (the audio is never copied). nform is 0 for JSON.
     */
    ig_str_t raw_body;         /* the client's whole body */
    ig_str_t boundary;         /* the form's boundary (without the leading "--") */
    const ig_form_part_t *form; /* the parts, in order */
    size_t nform;
    ig_str_t response_format;  /* audio: the form's response_format, checked; "json" when absent */
    /* output of prepare(): the Content-Type sent upstream; empty means application/json. A
     * multipart body must carry its boundary ("multipart/form-data; boundary=..."). */
    ig_str_t upstream_content_type;
    /*
     * Set by a response hook when the engine reported an error after its answer had begun (vLLM's
     * `data: {"error": ...}` event inside a stream): the HTTP status that error stands for (its code,
     * or 500). The request is then logged, counted and billed as failed with this status although the
     * client's response started as 200. 0: no such error.
     */
    int stream_error_status;
} ig_engine_req_t;

/* Load an engine reports about itself (vLLM's /metrics). A field the engine did not report is negative. */
typedef struct {
    double running;          /* requests being processed now, from every client of the engine */
    double waiting;          /* requests queued in the engine, not yet started */
    double kv_cache_usage;   /* KV-cache in use, 0..1 */
} ig_engine_load_t;

/* A request the core sends to an endpoint on an engine's behalf (before_send). */
typedef struct {
    ig_str_t method;   /* "POST", "GET"; empty means POST */
    ig_str_t path;     /* "/v1/load_lora_adapter" */
    ig_str_t body;     /* sent as application/json when not empty */
} ig_engine_control_t;

enum { IG_ENGINE_SEND = 0, IG_ENGINE_CONTROL = 1, IG_ENGINE_WAIT = 2 };

/*
 * How the scheduler runs this engine as a local process (one replica of a model that has no static
 * endpoints). Every string may hold placeholders, expanded per replica:
 *   {port}         the free TCP port the replica must listen on (host is always 127.0.0.1)
 *   {host}         127.0.0.1
 *   {url}          the model's url as written ("hf://Qwen/Qwen2.5-0.5B-Instruct"), or ""
 *   {model_ref}    the url without its scheme ("Qwen/Qwen2.5-0.5B-Instruct", "qwen2.5:0.5b")
 *   {model}        the name clients use;  {served_name}  the name the engine serves it under
 *   {devices}      the devices allocated from the resource profile, comma-separated ("0,1"), or ""
 *   {{ and }}      literal braces
 * The model's `args` are appended to argv; env is the core's environment, then this recipe's env,
 * the profile's env, the model's env, and device_env={devices} when the replica has devices.
 * A `command:` on the model or its resource profile replaces argv[] (the tests run ig-sim so).
 * Readiness is the engine's health_path answering 2xx (probed by the health checker), then
 * warmup when set. All fields but argv may be NULL.
 */
typedef struct {
    const char *const *argv;      /* NULL-terminated: {"vllm", "serve", "{model_ref}", "--port", "{port}", NULL} */
    const char *const *env;       /* NULL-terminated "NAME=value" templates */
    const char *device_env;       /* "CUDA_VISIBLE_DEVICES": gets {devices} (a profile's deviceEnv overrides it) */
    /* One request sent once the health path answers, before the replica takes traffic (Ollama pulls
     * its model so: POST /api/pull). Any 2xx ends it; anything else counts as a failed start. */
    const char *warmup_method;    /* "POST"; NULL: no warmup */
    const char *warmup_path;
    const char *warmup_body;      /* JSON template, sent as application/json */
} ig_launch_recipe_t;

/* Where a response hook writes what the client receives. */
typedef struct ig_sink_s {
    void (*write)(struct ig_sink_s *sink, const char *data, size_t len);
} ig_sink_t;

typedef struct {
    size_t size;         /* sizeof(ig_engine_vtable_t) */
    unsigned features;   /* IG_FEATURE_* this engine can serve */
    const char *health_path;   /* GET answered 2xx while the engine can serve ("/health"); NULL: no active probe */
    /*
     * Optional load signal: a GET path (NULL: none) the health checker fetches every
     * healthCheck.interval, and the parser of its body (required with load_path). Called on the
     * main thread with the state of the generation the probe started under. 0, or -1 when the
     * body says nothing it understands.
     */
    const char *load_path;
    int (*parse_load)(void *plugin_state, const char *body, size_t len, ig_engine_load_t *out);
    /* Checks model fields (url scheme, features) and sets model->engine_model_state. 0 or -1 with err. */
    int (*model_init)(const ig_host_t *host, void *plugin_state, ig_model_t *model, ig_error_t *err);
    void (*model_free)(void *plugin_state, ig_model_t *model);
    /* Fills upstream_path and upstream_body. 0, or -1 with err (the client gets a 400 naming it). */
    int (*prepare)(void *plugin_state, ig_engine_req_t *r, ig_error_t *err);
    /*
     * Upstream response body bytes as they arrive (de-chunked), for both plain
     * and streamed responses. The engine writes what the client should receive
     * to sink (usually the same bytes) and extracts usage on the way.
     */
    void (*on_response_data)(void *plugin_state, ig_engine_req_t *r, const char *data, size_t len, ig_sink_t *sink);
    /*
     * End of the response (complete = 0 when it was cut short, the client went
     * away, or no endpoint answered). Called exactly once for every request
     * whose prepare() succeeded, so per-request resources are released here.
     * May write a tail to sink (ignored when the client is gone).
     */
    void (*on_response_end)(void *plugin_state, ig_engine_req_t *r, int complete, ig_sink_t *sink);
    /*
     * Optional control requests before the request itself (vLLM's dynamic LoRA loading, Ollama's
     * tag check). Called on the worker thread once an endpoint is picked for an attempt, before
     * anything is sent to it; ep is that endpoint (host->endpoint_url(ep) names it; an endpoint
     * outlives reloads, so its URL is a good key for what the engine already has). Returns
     *   IG_ENGINE_SEND (0): send the request now;
     *   IG_ENGINE_CONTROL: *ctl is filled (strings from r->pool): the core sends it to ep first,
     *     on the same upstream client and with the same timeouts, then calls on_control_done;
     *   IG_ENGINE_WAIT: something this request needs is under way elsewhere (another request's
     *     control on the same endpoint): the core calls before_send again about 50 ms later (until
     *     server.firstByteTimeout has passed since the first wait; then the client gets a 504);
     *   -1 with err: answer the client with err (default 502 server_error).
     * It runs again for every attempt: a retry on another endpoint asks afresh.
     */
    int (*before_send)(void *plugin_state, ig_engine_req_t *r, const ig_endpoint_t *ep, ig_engine_control_t *ctl,
                       ig_error_t *err);
    /*
     * The control request's outcome: the engine's status and body (at most 64 KB, not
     * NUL-terminated). status is 0 when the endpoint could not be reached or failed mid-answer
     * (the core then treats the attempt as failed: retried on another endpoint or answered 502/504,
     * and the return value is ignored) or when the client left meanwhile (the request is abandoned).
     * Called exactly once per IG_ENGINE_CONTROL. Returns 0 to go on (before_send is called again: it
     * may ask for another control request or say IG_ENGINE_SEND), or -1 with err (default 502).
     */
    int (*on_control_done)(void *plugin_state, ig_engine_req_t *r, const ig_endpoint_t *ep, int status,
                           const char *body, size_t len, ig_error_t *err);
    /* How to run this engine locally (see ig_launch_recipe_t); NULL: only static endpoints, or a
     * `command:` given in the config. */
    const ig_launch_recipe_t *launch;
} ig_engine_vtable_t;

/* ---- load-balancing plugins -------------------------------------------------------------- */

/* The longest prompt prefix handed to a strategy, in bytes. */
#define IG_LB_PREFIX_MAX 4096

typedef struct {
    ig_api_t api;
    ig_str_t adapter;
    /*
     * The prompt prefix (first user message, prompt or input) as text: JSON escapes decoded once by
     * the core, valid UTF-8, at most IG_LB_PREFIX_MAX bytes, cut at a character boundary; may be
     * empty. Not NUL-terminated.
     */
    ig_str_t prefix;
    ig_str_t routing_key;  /* Routing-Key header, may be empty */
} ig_lb_request_t;

typedef struct {
    size_t size;           /* sizeof(ig_lb_vtable_t) */
    /* Per-model setup (model->lb_options is filled already); sets model->lb_model_state. */
    int (*model_init)(const ig_host_t *host, void *plugin_state, ig_model_t *model, ig_error_t *err);
    void (*model_free)(void *plugin_state, ig_model_t *model);
    /*
     * Picks one of n candidate endpoints (all healthy, none already tried for
     * this request). Returns its index, or -1. Called from any worker thread:
     * state touched here must be atomic or immutable.
     */
    int (*pick)(void *plugin_state, const ig_model_t *model, const ig_lb_request_t *req,
                ig_endpoint_t *const *candidates, size_t n);
} ig_lb_vtable_t;

/* ---- who is calling: auth plugins -------------------------------------------------------- */

/*
 * The caller of a request, as the auth plugin established it. Lives in the
 * request's pool (strings too) and is read by rate limiters, billing plugins,
 * metrics and the access log. With no auth plugin loaded there is no principal.
 */
typedef struct ig_principal_s {
    ig_str_t customer_id;
    ig_str_t customer_name;
    ig_str_t key_id;
    ig_limits_t key_limits;       /* the key's own limits */
    ig_limits_t customer_limits;  /* limits shared by all the customer's keys */
    ig_limits_t key_model_limits; /* limits of this key/customer on the request's model (set by authorize_model) */
    void *auth_data;              /* the auth plugin's own, request-scoped */
} ig_principal_t;

struct ig_auth_request_s {
    void *pool;                  /* request pool: host->palloc(pool, n) */
    ig_str_t authorization;      /* the Authorization header's value, or empty */
    ig_str_t api_key;            /* the X-API-Key header's value, or empty */
    void *plugin_data;           /* the plugin's own, for a pending call (set it before IG_PENDING) */
};

typedef struct {
    size_t size;                 /* sizeof(ig_auth_vtable_t) */
    /*
     * Establishes who calls. 0 with *out filled (limits IG_LIMITS_NONE where none), -1 with err
     * (default 401 invalid_request_error/invalid_api_key), or IG_PENDING: the answer comes later
     * through host->auth_done(req, ...), *out filled before it (req and out stay valid until then).
     * Runs on worker threads, before the body is read: it must not block.
     */
    int (*authenticate)(void *plugin_state, const ig_auth_request_t *req, ig_principal_t *out, ig_error_t *err);
    /*
     * May this principal use the model (and list it in /v1/models)? 1, filling
     * principal->key_model_limits for it when asked to (the principal is the request's own copy),
     * or 0: the client gets OpenAI's 404 model_not_found, as if the model did not exist.
     */
    int (*authorize_model)(void *plugin_state, ig_principal_t *principal, const ig_model_t *model);
    /*
     * The client left while authenticate() was pending: after this returns the plugin never touches
     * req or out again and does not call auth_done. Required when authenticate may return IG_PENDING.
     */
    void (*cancel)(void *plugin_state, const ig_auth_request_t *req);
    /*
     * Optional (added within ABI 3). May every key use the model as far as the plugin's own rules go
     * (a key's own list of models aside)? 1 or 0. The public listings show a model (IG_LISTED_AUTO)
     * only when this says 1: a model published to chosen customers, or hidden, says 0. Without it,
     * only models marked IG_LISTED_YES are listed. Any thread; must not block.
     */
    int (*model_open)(void *plugin_state, const ig_model_t *model);
} ig_auth_vtable_t;

/* ---- rate limiting ------------------------------------------------------------------------- */

/* One request as a rate limiter sees it, from admit() to complete(). */
struct ig_rl_request_s {
    void *pool;
    const ig_principal_t *principal;   /* NULL when no auth plugin is loaded */
    const ig_model_t *model;
    ig_str_t adapter;
    ig_api_t api;
    /* filled by admit(), admitted or not: response headers (x-ratelimit-*), strings from pool */
    ig_kv_t headers[12];
    size_t nheaders;
    uint32_t retry_after_s;            /* with a refusal: the Retry-After value */
    void *ticket;                      /* the limiter's per-request state, given back to complete() */
};

typedef struct {
    size_t size;                       /* sizeof(ig_ratelimit_vtable_t) */
    /*
     * Admits (0) or refuses (-1 with err; the client gets 429 rate_limit_exceeded with
     * Retry-After and r->headers) a request whose model is known and allowed, or answers
     * IG_PENDING and later host->admit_done(r, 0 or -1, err) (headers, retry_after_s and ticket
     * filled before it; r stays valid until then). Worker threads; state shared between them must
     * be atomic or locked briefly; it must not block.
     */
    int (*admit)(void *plugin_state, ig_rl_request_t *r, ig_error_t *err);
    /* Called exactly once for every admitted request when it ends, with the engine's usage
     * (fields -1 where unknown): token limits are charged here, concurrency is released. */
    void (*complete)(void *plugin_state, ig_rl_request_t *r, const ig_usage_t *usage);
    /*
     * The client left while admit() was pending: after this returns the plugin never touches r again,
     * does not call admit_done, and complete() is not called for r; whatever the pending admission
     * takes (a concurrency slot, a counted request) the plugin gives back itself once it knows.
     * Required when admit may return IG_PENDING.
     */
    void (*cancel)(void *plugin_state, ig_rl_request_t *r);
} ig_ratelimit_vtable_t;

/* ---- billing ------------------------------------------------------------------------------- */

/* What one request that reached an engine consumed. Valid only during record(): copy what you keep. */
typedef struct {
    int64_t started_unix_ms;           /* wall clock when the request arrived */
    const ig_principal_t *principal;   /* NULL when no auth plugin is loaded */
    const ig_model_t *model;
    ig_str_t adapter;
    const char *endpoint_url;          /* the endpoint of the last attempt */
    ig_api_t api;
    int status;                        /* what the client was answered (499: it left first) */
    int stream;
    int complete;                      /* the engine's answer reached its end */
    ig_usage_t usage;                  /* as the engine adapter extracted it; -1 where unknown */
    int64_t ttft_us;                   /* to the first byte sent to the client; -1 if none */
    int64_t duration_us;
    uint32_t attempts;
    uint64_t generation;               /* configuration generation the request ran under */
} ig_usage_record_t;

typedef struct {
    size_t size;                       /* sizeof(ig_billing_vtable_t) */
    /* Exactly one call per request that reached an engine. Worker threads; must not block (queue it). */
    void (*record)(void *plugin_state, const ig_usage_record_t *rec);
} ig_billing_vtable_t;

/* ---- HTTP routes a plugin serves (admin API, listings) -------------------------------------- */

typedef enum {
    IG_ROUTE_PUBLIC = 0,  /* anyone */
    IG_ROUTE_ADMIN = 1,   /* the core checks an admin key (server.adminKeys) before calling */
    /* Added within ABI 3: a customer's own route (GET /v1/me/usage). The core authenticates the caller
     * with the auth plugin first (its API key, or the portal's cookie on /v1/me/...) and answers 401
     * itself when that fails or when no auth plugin is loaded; host->route_principal(x) is the caller. */
    IG_ROUTE_PRINCIPAL = 2
} ig_route_access_t;

/* One call of a plugin's route. Inputs are set by the core; the handler fills the outputs. */
typedef struct ig_http_exchange_s {
    const ig_host_t *host;
    void *pool;
    ig_str_t method;                   /* "GET", "POST", ... */
    ig_str_t path;                     /* the whole path as sent (still percent-encoded), without the query */
    ig_str_t rest;                     /* what follows the route's prefix ("" for an exact route), encoded:
                                          decode each segment once ("a%2Fb" is the one segment "a/b") */
    ig_str_t query;                    /* after '?', undecoded, or empty */
    ig_str_t body;
    const ig_model_t *const *models;   /* the models of the generation serving the call */
    size_t nmodels;
    /* outputs */
    int status;                        /* default 200 */
    const char *content_type;          /* default "application/json" */
    ig_str_t response;                 /* from pool */
    ig_kv_t headers[4];
    size_t nheaders;
    /* added within ABI 3: per model of models[], 1 when a public listing may show it: marked
     * IG_LISTED_YES, or IG_LISTED_AUTO and every key may use it (the auth plugin's model_open; every
     * model when no auth plugin is loaded). */
    const unsigned char *models_listed;
    /* added within ABI 3: the request's Accept header value ("" when absent), for a route that
     * answers in several formats (billing's invoices: JSON, CSV, HTML) */
    ig_str_t accept;
} ig_http_exchange_t;

typedef struct {
    const char *path;           /* "/admin/keys" matches itself and "/admin/keys/..." */
    ig_route_access_t access;
    /* 0 with the outputs filled, or -1 with err (default 400): the client gets it OpenAI-shaped.
     * Runs synchronously on a worker thread; keep it short: what may block (disk, a database) goes
     * through host->route_defer, and the handler returns IG_PENDING. */
    int (*handle)(void *plugin_state, ig_http_exchange_t *x, ig_error_t *err);
} ig_route_decl_t;

/* ---- GET /v1/me: the caller described by every plugin ------------------------------------- */

/*
 * One GET /v1/me call (added within ABI 3). The core writes what it knows of the caller (object,
 * customer, key_id, the models the caller may use with their prices) and asks every plugin of the
 * generation that has describe_principal for JSON members to add: the auth plugin adds key_name (and
 * what else it keeps about a key), the rate limiter `limits` (each limit, what is left of it in the
 * current window and when it resets). Members the core writes itself cannot be replaced; the core
 * writes "key_name":null and "limits":[] when no plugin did.
 */
typedef struct {
    const ig_host_t *host;
    void *pool;                             /* request pool: host->palloc */
    const ig_principal_t *principal;        /* never NULL */
    /* the models the principal may use (auth's authorize_model said 1), and per model the
     * principal's own limits on it (what authorize_model put in key_model_limits) */
    const ig_model_t *const *models;
    const ig_limits_t *key_model_limits;
    size_t nmodels;
    /* output: object members without the braces (`"limits":[...]`), valid JSON once wrapped in
     * braces, from pool; left empty, nothing is added */
    ig_str_t members;
} ig_describe_t;

/* ---- the descriptor ---------------------------------------------------------------------- */

/* What init() receives for one configuration generation. */
typedef struct {
    void *process_state;               /* what load() made, or NULL: outlives generations */
    const void *options;               /* plugins.options.<name>: the plugin's options struct (options_size), filled */
    const char *state_dir;             /* server.stateDir, existing; NULL when not set */
    unsigned workers;                  /* worker threads */
    uint64_t generation;               /* this generation's id (1, 2, ...) */
    /* added within ABI 3 (docs/plugins.md, "Several gateways"): */
    const char *database;              /* server.database: "postgres://..." shared by every gateway of a fleet;
                                          NULL: keep state in state_dir (SQLite) */
    const char *gateway_id;            /* server.gatewayId, or "<hostname>:<first listen port>": never NULL,
                                          unique per gateway of a fleet (names usage record ids) */
} ig_plugin_init_t;

typedef struct ig_plugin_s {
    uint32_t abi_version;          /* IG_PLUGIN_ABI_VERSION at build time; stays the first field */
    size_t size;                   /* sizeof(ig_plugin_t) at build time */
    const char *name;              /* "vllm"; also what plugins.load lists */
    ig_plugin_kind_t kind;
    const char *version;
    const char *description;
    /* Names this plugin answers to in the config besides `name`, compared
     * case-insensitively (engine: "VLLM", strategy: "LeastLoad"). NULL-terminated or NULL. */
    const char *const *aliases;
    const ig_option_decl_t *options;       /* plugins.options.<name>; NULL-terminated by name == NULL */
    size_t options_size;                   /* sizeof the struct options are written into (0 without options) */
    const ig_option_decl_t *model_options; /* per-model options; may be NULL */
    size_t model_options_size;             /* sizeof the struct model options are written into */
    const char *model_options_key;  /* where a model sets them: loadBalancing.<key> for LB ("prefixHash") */
    /*
     * Optional. Called once when the .so is loaded, before any init(), and once when it is
     * unloaded (no configuration lists it any more and no generation uses it, or at exit, after
     * every generation is gone). What load() makes outlives reloads: rate-limit windows, an open
     * ledger. unload() must flush what must not be lost.
     */
    int (*load)(const ig_host_t *host, void **process_state, ig_error_t *err);
    void (*unload)(void *process_state);
    /* Creates the plugin's state for one configuration generation. 0 or -1 with err. */
    int (*init)(const ig_host_t *host, const ig_plugin_init_t *ctx, void **plugin_state, ig_error_t *err);
    void (*fini)(void *plugin_state);
    const void *vtable;            /* by kind: ig_engine_vtable_t, ig_lb_vtable_t, ig_auth_vtable_t,
                                      ig_ratelimit_vtable_t, ig_billing_vtable_t */
    const ig_route_decl_t *routes; /* HTTP routes it serves, with this generation's state; NULL-terminated by path */
    /*
     * Optional, any kind (added within ABI 3): what this plugin adds to GET /v1/me (see
     * ig_describe_t). 0 with d->members filled (or left empty), or -1 with err (the client gets it,
     * default 500). Worker threads, synchronously: it must not block (a limiter whose counters are
     * elsewhere says what it knows without asking).
     */
    int (*describe_principal)(void *plugin_state, ig_describe_t *d, ig_error_t *err);
} ig_plugin_t;

#ifdef __cplusplus
}
#endif

#endif
