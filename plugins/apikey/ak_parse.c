/*
 * ak_parse.c — strict JSON readers for the apikey records (see ak_parse.h).
 */
#define _DEFAULT_SOURCE /* timegm */
#include "ak_parse.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int fail(ak_err_t *e, const char *path, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "path.field: message", with param set to "path.field" */
static int fail(ak_err_t *e, const char *path, const char *field, const char *fmt, ...)
{
    if (field && *field)
        snprintf(e->param, sizeof(e->param), "%s%s%s", path && *path ? path : "", path && *path ? "." : "", field);
    else
        snprintf(e->param, sizeof(e->param), "%s", path ? path : "");
    char body[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (e->param[0])
        snprintf(e->msg, sizeof(e->msg), "%s: %s", e->param, body);
    else
        snprintf(e->msg, sizeof(e->msg), "%s", body);
    return -1;
}

static const char *type_name(ig_json_type_t t)
{
    switch (t) {
    case IG_JSON_OBJECT:
        return "an object";
    case IG_JSON_ARRAY:
        return "an array";
    case IG_JSON_STRING:
        return "a string";
    case IG_JSON_NUMBER:
        return "a number";
    case IG_JSON_TRUE:
    case IG_JSON_FALSE:
        return "a boolean";
    case IG_JSON_NULL:
        return "null";
    default:
        return "invalid JSON";
    }
}

int ak_valid_id(const char *s, size_t len)
{
    if (len == 0 || len > AK_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

int ak_valid_name(const char *s, size_t len)
{
    if (len == 0 || len > AK_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/*
 * One object's members against the fields it may have. Calls back per known field; unknown or
 * repeated fields are errors. fields is NULL-terminated, at most 16.
 */
typedef int (*field_fn)(void *ctx, int which, const ig_json_value_t *val);

static int walk(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, const char *const *fields,
                field_fn fn, void *ctx, ak_err_t *e)
{
    if (v->type != IG_JSON_OBJECT)
        return fail(e, path, NULL, "expected an object, got %s", type_name(v->type));
    ig_json_iter_t it;
    ig_json_value_t k, val;
    unsigned seen = 0;
    if (j->iter_init(&it, v) != 0)
        return fail(e, path, NULL, "malformed object");
    int r;
    while ((r = j->iter_next(&it, &k, &val)) == 1) {
        char name[72];
        size_t nl = 0;
        int which = -1;
        if (j->string_unescape(&k, name, sizeof(name) - 1, &nl) == 0) {
            name[nl] = '\0';
            for (int i = 0; fields[i]; i++)
                if (strlen(fields[i]) == nl && memcmp(fields[i], name, nl) == 0)
                    which = i;
        } else {
            snprintf(name, sizeof(name), "%.40s...", k.ptr + 1);
        }
        if (which < 0 || memchr(name, '\0', nl)) {
            char known[256] = "";
            size_t off = 0;
            for (int i = 0; fields[i] && off < sizeof(known); i++)
                off += (size_t)snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "", fields[i]);
            char shown[80];
            size_t sl = j->escape(name, strnlen(name, sizeof(name)), shown, sizeof(shown));
            if (sl >= sizeof(shown))
                snprintf(shown, sizeof(shown), "\"...\"");
            else
                shown[sl] = '\0';
            return fail(e, path, name[0] && sl < sizeof(shown) ? name : NULL, "unknown field %s (known: %s)", shown,
                        known);
        }
        if (seen & (1u << which))
            return fail(e, path, fields[which], "given twice");
        seen |= 1u << which;
        if (fn(ctx, which, &val) != 0)
            return -1;
    }
    if (r < 0)
        return fail(e, path, NULL, "malformed object");
    return 0;
}

/* A string field into the arena, checked as an id or a name. */
static int get_string(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, const char *field,
                      int as_id, ig_arena_t *a, const char **out, ak_err_t *e)
{
    if (v->type != IG_JSON_STRING)
        return fail(e, path, field, "expected a string, got %s", type_name(v->type));
    char buf[AK_NAME_MAX + 1];
    size_t n = 0;
    if (j->string_unescape(v, buf, sizeof(buf), &n) != 0 || n > AK_NAME_MAX)
        return fail(e, path, field, "longer than %d bytes", as_id ? AK_ID_MAX : AK_NAME_MAX);
    if (as_id && !ak_valid_id(buf, n))
        return fail(e, path, field, n > AK_ID_MAX ? "longer than %d bytes" : "must be 1 to %d characters from A-Z a-z 0-9 . _ -",
                    AK_ID_MAX);
    if (!as_id && !ak_valid_name(buf, n))
        return fail(e, path, field, n == 0 ? "must not be empty" : "must not contain control characters");
    *out = ig_arena_strndup(a, buf, n);
    return *out ? 0 : fail(e, path, field, "out of memory");
}

/* ---- limits ---- */

static const char *const limit_fields[] = {"requestsPerMinute", "requestsPerHour", "tokensPerMinute",
                                           "tokensPerHour",     "burst",           "maxConcurrent", NULL};

typedef struct {
    const ig_json_api_t *j;
    const char *path;
    ig_limits_t *out;
    ak_err_t *e;
} limits_ctx_t;

static int limit_field(void *vctx, int which, const ig_json_value_t *v)
{
    limits_ctx_t *c = vctx;
    int64_t n = -1;
    if (v->type != IG_JSON_NULL) {
        if (v->type != IG_JSON_NUMBER || c->j->int64(v, &n) != 0)
            return fail(c->e, c->path, limit_fields[which], "expected an integer or null, got %s",
                        v->type == IG_JSON_NUMBER ? "a fraction or an out-of-range number" : type_name(v->type));
        if (n < 1 || n > AK_LIMIT_MAX)
            return fail(c->e, c->path, limit_fields[which], "%lld is out of range (1..%lld, or null for no limit)",
                        (long long)n, (long long)AK_LIMIT_MAX);
    }
    int64_t *slots[] = {&c->out->requests_per_minute, &c->out->requests_per_hour, &c->out->tokens_per_minute,
                        &c->out->tokens_per_hour,     &c->out->burst,             &c->out->max_concurrent};
    *slots[which] = n;
    return 0;
}

int ak_parse_limits(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_limits_t *out, ak_err_t *e)
{
    *out = IG_LIMITS_NONE;
    if (v->type == IG_JSON_NULL)
        return 0;
    limits_ctx_t c = {j, path, out, e};
    if (walk(j, v, path, limit_fields, limit_field, &c, e) != 0)
        return -1;
    /* as for models[].limits: burst is a spike above the per-minute rate, meaningless without it */
    if (out->burst >= 0 && out->requests_per_minute < 0)
        return fail(e, path, "burst", "needs requestsPerMinute");
    return 0;
}

/* Elements of an array, counted before anything is allocated for them. */
static int count_items(const ig_json_api_t *j, const ig_json_value_t *v, size_t *n)
{
    ig_json_iter_t it;
    ig_json_value_t item;
    int r;
    *n = 0;
    if (j->iter_init(&it, v) != 0)
        return -1;
    while ((r = j->iter_next(&it, NULL, &item)) == 1)
        (*n)++;
    return r < 0 ? -1 : 0;
}

static char *sub(char *buf, size_t cap, const char *path, const char *field)
{
    snprintf(buf, cap, "%s%s%s", path && *path ? path : "", path && *path ? "." : "", field);
    return buf;
}

/* ---- customers ---- */

static const char *const customer_fields[] = {"id", "name", "limits", NULL};

typedef struct {
    const ig_json_api_t *j;
    const char *path;
    ig_arena_t *a;
    ak_customer_t *out;
    ak_err_t *e;
} customer_ctx_t;

static int customer_field(void *vctx, int which, const ig_json_value_t *v)
{
    customer_ctx_t *c = vctx;
    char p[128];
    switch (which) {
    case 0:
        return get_string(c->j, v, c->path, "id", 1, c->a, &c->out->id, c->e);
    case 1:
        return get_string(c->j, v, c->path, "name", 0, c->a, &c->out->name, c->e);
    default:
        return ak_parse_limits(c->j, v, sub(p, sizeof(p), c->path, "limits"), &c->out->limits, c->e);
    }
}

int ak_parse_customer(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a,
                      ak_origin_t origin, ak_customer_t *out, ak_err_t *e)
{
    memset(out, 0, sizeof(*out));
    out->limits = IG_LIMITS_NONE;
    out->source = origin == AK_FROM_API ? AK_SRC_API : AK_SRC_CONFIG;
    customer_ctx_t c = {j, path, a, out, e};
    if (walk(j, v, path, customer_fields, customer_field, &c, e) != 0)
        return -1;
    if (!out->id && origin == AK_FROM_CONFIG)
        return fail(e, path, "id", "missing (every customer needs an id)");
    return 0;
}

/* ---- keys ---- */

int ak_parse_rfc3339(const char *s, size_t len, int64_t *out)
{
    /* exactly YYYY-MM-DDTHH:MM:SSZ: one unambiguous form, in UTC */
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    if (len != sizeof(shape) - 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return -1;
    }
    struct tm tm = {0};
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    int h = (s[11] - '0') * 10 + (s[12] - '0'), mi = (s[14] - '0') * 10 + (s[15] - '0');
    int sec = (s[17] - '0') * 10 + (s[18] - '0');
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 59)
        return -1;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm);
    return 0;
}

int ak_parse_models(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a,
                    const char *const **models, size_t *n, ak_err_t *e)
{
    if (v->type != IG_JSON_ARRAY)
        return fail(e, path, NULL, "expected an array of model names, got %s", type_name(v->type));
    size_t total = 0;
    if (count_items(j, v, &total) != 0)
        return fail(e, path, NULL, "malformed array");
    if (total > AK_MODELS_MAX)
        return fail(e, path, NULL, "more than %d entries", AK_MODELS_MAX);
    /* exact size: a store of many keys reads this for every row */
    const char **list = ig_arena_array(a, total + 1, sizeof(*list));
    if (!list)
        return fail(e, path, NULL, "out of memory");
    ig_json_iter_t it;
    ig_json_value_t item;
    size_t count = 0;
    j->iter_init(&it, v);
    int r;
    while (count < total && (r = j->iter_next(&it, NULL, &item)) == 1) {
        char p[128];
        snprintf(p, sizeof(p), "%s[%zu]", path, count);
        if (get_string(j, &item, p, NULL, 0, a, &list[count], e) != 0)
            return -1;
        count++;
    }
    *models = list;
    *n = count;
    return 0;
}

static const char *const key_fields[] = {"id", "customer", "name", "hash", "models", "limits", "expires", NULL};

typedef struct {
    const ig_json_api_t *j;
    const char *path;
    ig_arena_t *a;
    ak_origin_t origin;
    ak_key_t *out;
    int has_hash;
    ak_err_t *e;
} key_ctx_t;

static int key_field(void *vctx, int which, const ig_json_value_t *v)
{
    key_ctx_t *c = vctx;
    char p[128];
    switch (which) {
    case 0:
        return get_string(c->j, v, c->path, "id", 1, c->a, &c->out->id, c->e);
    case 1:
        return get_string(c->j, v, c->path, "customer", 1, c->a, &c->out->customer, c->e);
    case 2:
        return get_string(c->j, v, c->path, "name", 0, c->a, &c->out->name, c->e);
    case 3: {
        if (c->origin == AK_FROM_API)
            return fail(c->e, c->path, "hash", "not accepted: the server makes the key and shows it once");
        char buf[80];
        size_t n = 0;
        const char *why = "";
        if (v->type != IG_JSON_STRING)
            return fail(c->e, c->path, "hash", "expected a string \"sha256:<64 hex digits>\", got %s", type_name(v->type));
        if (c->j->string_unescape(v, buf, sizeof(buf), &n) != 0 || ak_hash_parse(buf, n, c->out->hash, &why) != 0)
            return fail(c->e, c->path, "hash", "%s", why[0] ? why : "must be \"sha256:\" followed by 64 hex digits");
        c->has_hash = 1;
        return 0;
    }
    case 4:
        if (v->type == IG_JSON_NULL)
            return 0;
        return ak_parse_models(c->j, v, sub(p, sizeof(p), c->path, "models"), c->a, &c->out->models,
                               &c->out->nmodels, c->e);
    case 5:
        return ak_parse_limits(c->j, v, sub(p, sizeof(p), c->path, "limits"), &c->out->limits, c->e);
    default: {
        if (v->type == IG_JSON_NULL)
            return 0;
        if (v->type == IG_JSON_NUMBER) {
            int64_t t;
            if (c->j->int64(v, &t) != 0 || t <= 0 || t > 253402300799LL)
                return fail(c->e, c->path, "expires", "expected unix seconds (1..253402300799)");
            c->out->expires = t;
            return 0;
        }
        char buf[32];
        size_t n = 0;
        if (v->type != IG_JSON_STRING || c->j->string_unescape(v, buf, sizeof(buf), &n) != 0 ||
            ak_parse_rfc3339(buf, n, &c->out->expires) != 0)
            return fail(c->e, c->path, "expires",
                        "expected unix seconds or a UTC time \"YYYY-MM-DDTHH:MM:SSZ\", or null for never");
        return 0;
    }
    }
}

int ak_parse_key(const ig_json_api_t *j, const ig_json_value_t *v, const char *path, ig_arena_t *a, ak_origin_t origin,
                 ak_key_t *out, ak_err_t *e)
{
    memset(out, 0, sizeof(*out));
    out->limits = IG_LIMITS_NONE;
    out->source = origin == AK_FROM_API ? AK_SRC_API : AK_SRC_CONFIG;
    key_ctx_t c = {j, path, a, origin, out, 0, e};
    if (walk(j, v, path, key_fields, key_field, &c, e) != 0)
        return -1;
    if (!out->id && origin == AK_FROM_CONFIG)
        return fail(e, path, "id", "missing (every key needs an id)");
    if (!out->customer)
        return fail(e, path, "customer", "missing (the id of the customer who owns the key)");
    if (origin == AK_FROM_CONFIG && !c.has_hash)
        return fail(e, path, "hash", "missing: a key in the configuration is given as \"sha256:<hex>\" of the key");
    return 0;
}

/* ---- publications ---- */

static const char *const publish_fields[] = {"customers", "limits", NULL};

typedef struct {
    const ig_json_api_t *j;
    ig_arena_t *a;
    ak_publish_t *out;
    int has_customers;
    ak_err_t *e;
} publish_ctx_t;

static int publish_field(void *vctx, int which, const ig_json_value_t *v)
{
    publish_ctx_t *c = vctx;
    if (which == 1)
        return ak_parse_limits(c->j, v, "limits", &c->out->limits, c->e);
    if (v->type != IG_JSON_ARRAY)
        return fail(c->e, "customers", NULL, "expected an array of customer ids, got %s", type_name(v->type));
    size_t total = 0;
    if (count_items(c->j, v, &total) != 0)
        return fail(c->e, "customers", NULL, "malformed array");
    if (total > AK_MODELS_MAX)
        return fail(c->e, "customers", NULL, "more than %d entries", AK_MODELS_MAX);
    const char **list = ig_arena_array(c->a, total + 1, sizeof(*list));
    if (!list)
        return fail(c->e, "customers", NULL, "out of memory");
    ig_json_iter_t it;
    ig_json_value_t item;
    size_t n = 0;
    c->j->iter_init(&it, v);
    while (n < total && c->j->iter_next(&it, NULL, &item) == 1) {
        char p[48];
        snprintf(p, sizeof(p), "customers[%zu]", n);
        if (get_string(c->j, &item, p, NULL, 1, c->a, &list[n], c->e) != 0)
            return -1;
        n++;
    }
    c->out->customers = list;
    c->out->ncustomers = n;
    c->has_customers = 1;
    return 0;
}

int ak_parse_publish(const ig_json_api_t *j, const ig_json_value_t *v, ig_arena_t *a, ak_publish_t *out, ak_err_t *e)
{
    memset(out, 0, sizeof(*out));
    out->limits = IG_LIMITS_NONE;
    publish_ctx_t c = {j, a, out, 0, e};
    if (walk(j, v, "", publish_fields, publish_field, &c, e) != 0)
        return -1;
    if (!c.has_customers)
        return fail(e, "", "customers", "missing (the ids of the customers who may use the model)");
    return 0;
}
