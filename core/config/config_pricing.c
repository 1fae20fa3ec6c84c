/*
 * config_pricing.c — a model's one price list. A price may be written in the model's `pricing:` map
 * or in its listing metadata's `pricing` (the `openrouter:` map, or a KubeAI manifest's
 * openrouter.ai/json annotation, OpenRouter's own format). Each price is taken from wherever it is
 * written; written in both places, the two must be the same number, or the config is refused
 * naming both lines. The result is ig_model_t.pricing (+ pricing_more): the listing shows those
 * strings and the ledger bills them, so what is listed is what is billed.
 */
#include "config/config_internal.h"
#include "config/config_values.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/json.h"

/* OpenRouter's pricing fields, plus infergate's audio (per second). unbillable: why a non-zero
 * value is refused (nothing reports a count of it), NULL for what the ledger bills. */
static const struct {
    const char *key;
    const char *unbillable;
} prices[] = {
    {"prompt", NULL},
    {"completion", NULL},
    {"request", NULL},
    {"input_cache_read", NULL},
    {"audio", NULL},
    {"input_cache_write", "no engine reports prompt-cache writes (vLLM's prefix cache fills as it serves)"},
    {"image", "no engine reports a count of images (a vision model's image tokens are prompt tokens)"},
    {"web_search", "the engines run no web searches"},
    {"internal_reasoning", "the engines report reasoning tokens as completion tokens (billed at completion)"},
};
#define NPRICES (sizeof(prices) / sizeof(prices[0]))
#define PRICE_MAX_LEN 64

typedef struct {
    const char *v[NPRICES]; /* as written, checked; NULL where not given */
    int line[NPRICES];
} price_set_t;

static int price_index(const char *key)
{
    for (size_t i = 0; i < NPRICES; i++)
        if (strcmp(prices[i].key, key) == 0)
            return (int)i;
    return -1;
}

static void known_list(char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NPRICES && off < cap; i++) {
        int w = snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", prices[i].key);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* What is wrong with price text s for prices[i]: 0, or -1 with the message in msg. The ledger counts
 * in integers of 1e-15 currency units up to INT64_MAX: a price it could not hold exactly is refused
 * here, never rounded. */
static int price_problem(size_t i, const char *s, char *msg, size_t cap)
{
    const char *why = NULL;
    const char *dot = strchr(s, '.');
    size_t frac = dot ? strlen(dot + 1) : 0;
    if (ig_parse_decimal(s) != 0) {
        why = "is not a non-negative decimal (write it like \"0.000008\")";
    } else if (frac > 15) {
        why = "has more than 15 decimals (the ledger counts in units of 1e-15)";
    } else {
        const char *t = s;
        while (*t == '0' && t[1] && t[1] != '.')
            t++; /* leading zeros */
        size_t whole = dot ? (size_t)(dot - t) : strlen(t);
        uint64_t units = 0, f = 0;
        for (size_t k = 0; k < whole && whole <= 4; k++)
            units = units * 10 + (uint64_t)(t[k] - '0');
        for (size_t k = 0; k < 15; k++)
            f = f * 10 + (uint64_t)(k < frac ? dot[1 + k] - '0' : 0);
        int zero = 1;
        for (const char *p = t; *p; p++)
            zero &= *p == '0' || *p == '.';
        if (whole > 4 || units * UINT64_C(1000000000000000) + f > (uint64_t)INT64_MAX)
            why = "is too large (at most 9223.372036854775807)";
        else if (!zero && prices[i].unbillable) {
            snprintf(msg, cap, "\"%.40s\": infergate cannot bill it, %s; write \"0\" or leave it out", s,
                     prices[i].unbillable);
            return -1;
        }
    }
    if (!why)
        return 0;
    snprintf(msg, cap, "\"%.40s\" %s", s, why);
    return -1;
}

/* "0012.50" -> "12.5", "0.0" -> "0": two prices are the same number when these are equal. */
static void normalize(const char *s, char *out, size_t cap)
{
    while (*s == '0' && s[1] && s[1] != '.')
        s++;
    snprintf(out, cap, "%s", s);
    char *dot = strchr(out, '.');
    if (dot) {
        char *end = out + strlen(out);
        while (end > dot + 1 && end[-1] == '0')
            *--end = '\0';
        if (end == dot + 1)
            *dot = '\0';
    }
}

/* pricing: {prompt: "0.000008", ...} — a YAML map, each value as written (a YAML number keeps its text). */
static void read_yaml(ig_cfg_ctx_t *c, yaml_node_t *node, const char *path, price_set_t *out)
{
    ig_yaml_t *y = c->y;
    if (!node || ig_yaml_is_null(node) || ig_yaml_expect_map(y, node, path) != 0)
        return;
    size_t n = ig_yaml_map_len(node);
    for (size_t k = 0; k < n; k++) {
        const char *key;
        yaml_node_t *v = ig_yaml_map_at(y, node, k, &key);
        if (!v || !key)
            return;
        char kpath[IG_PATH_MAX], known[256];
        ig_path_key(kpath, sizeof(kpath), path, key);
        int i = price_index(key);
        if (i < 0) {
            known_list(known, sizeof(known));
            if (strcmp(key, "input_cache_reads") == 0 || strcmp(key, "input_cache_writes") == 0)
                ig_yaml_error(y, v, path, "\"%s\" is not OpenRouter's name: write \"%.*s\"", key,
                              (int)strlen(key) - 1, key);
            else
                ig_yaml_error(y, v, path, "unknown price \"%.80s\" (expected one of: %s)", key, known);
            continue;
        }
        const char *s;
        if (ig_yaml_str(y, v, kpath, &s) != 0)
            continue;
        char msg[300];
        if (price_problem((size_t)i, s, msg, sizeof(msg)) != 0) {
            ig_yaml_error(y, v, kpath, "%s", msg);
            continue;
        }
        out->v[i] = ig_cfg_strdup(c, s);
        out->line[i] = ig_yaml_line(v);
    }
}

/*
 * The listing metadata (JSON text: an openrouter: map, or the openrouter.ai/json annotation), its
 * "pricing" object in OpenRouter's format: decimal strings (a plain JSON number is taken as written).
 * Every error points at line, the metadata's.
 */
static void read_json(ig_cfg_ctx_t *c, const char *json, int line, const char *path, price_set_t *out)
{
    ig_yaml_t *y = c->y;
    ig_json_value_t root, pr, k, v;
    ig_json_error_t jerr;
    char ppath[IG_PATH_MAX], kpath[IG_PATH_MAX], known[256];
    if (ig_json_validate_value(json, strlen(json), &jerr, &root) != 0) {
        ig_yaml_error_line(y, line, path, "not valid JSON: %s", jerr.msg);
        return;
    }
    if (root.type != IG_JSON_OBJECT) {
        ig_yaml_error_line(y, line, path, "expected a JSON object (OpenRouter's model listing fields)");
        return;
    }
    if (ig_json_object_get(&root, "pricing", 7, &pr) != 1 || pr.type == IG_JSON_NULL)
        return;
    ig_path_key(ppath, sizeof(ppath), path, "pricing");
    if (pr.type != IG_JSON_OBJECT) {
        ig_yaml_error_line(y, line, ppath, "expected an object of prices");
        return;
    }
    ig_json_iter_t it;
    ig_json_iter_init(&it, &pr);
    while (ig_json_iter_next(&it, &k, &v) == 1) {
        char key[64], val[PRICE_MAX_LEN + 1];
        size_t n;
        if (ig_json_string_unescape(&k, key, sizeof(key) - 1, &n) != 0) {
            ig_yaml_error_line(y, line, ppath, "unknown price %.*s", (int)(k.len > 60 ? 60 : k.len), k.ptr);
            continue;
        }
        key[n] = '\0';
        ig_path_key(kpath, sizeof(kpath), ppath, key);
        int i = price_index(key);
        if (i < 0) {
            known_list(known, sizeof(known));
            if (strcmp(key, "input_cache_reads") == 0 || strcmp(key, "input_cache_writes") == 0)
                ig_yaml_error_line(y, line, ppath, "\"%s\" is not OpenRouter's name: write \"%.*s\"", key,
                                   (int)strlen(key) - 1, key);
            else
                ig_yaml_error_line(y, line, ppath, "unknown price \"%.60s\" (expected one of: %s)", key, known);
            continue;
        }
        if (v.type == IG_JSON_STRING) {
            if (ig_json_string_unescape(&v, val, sizeof(val) - 1, &n) != 0) {
                ig_yaml_error_line(y, line, kpath, "a price of more than %d characters", PRICE_MAX_LEN);
                continue;
            }
            val[n] = '\0';
        } else if (v.type == IG_JSON_NUMBER && v.len <= PRICE_MAX_LEN) {
            memcpy(val, v.ptr, v.len);
            val[v.len] = '\0';
        } else {
            ig_yaml_error_line(y, line, kpath, "expected a decimal string like \"0.000008\"");
            continue;
        }
        char msg[300];
        if (price_problem((size_t)i, val, msg, sizeof(msg)) != 0) {
            ig_yaml_error_line(y, line, kpath, "%s", msg);
            continue;
        }
        if (out->v[i]) {
            ig_yaml_error_line(y, line, kpath, "given twice");
            continue;
        }
        out->v[i] = ig_cfg_strdup(c, val);
        out->line[i] = line;
    }
}

void ig_cfg_model_pricing(ig_cfg_ctx_t *c, yaml_node_t *pricing, const char *path, yaml_node_t *meta_pricing,
                          const char *meta_json, int meta_line, const char *meta_path, ig_model_config_t *m)
{
    price_set_t a = {{0}}, b = {{0}};
    char mpath[IG_PATH_MAX];
    ig_path_key(mpath, sizeof(mpath), meta_path, "pricing");
    read_yaml(c, pricing, path, &a);
    if (meta_pricing)
        read_yaml(c, meta_pricing, mpath, &b);
    else if (meta_json)
        read_json(c, meta_json, meta_line, meta_path, &b);
    const char *v[NPRICES];
    for (size_t i = 0; i < NPRICES; i++) {
        v[i] = a.v[i] ? a.v[i] : b.v[i];
        if (!a.v[i] || !b.v[i])
            continue;
        char na[PRICE_MAX_LEN + 1], nb[PRICE_MAX_LEN + 1], kpath[IG_PATH_MAX];
        normalize(a.v[i], na, sizeof(na));
        normalize(b.v[i], nb, sizeof(nb));
        if (strcmp(na, nb) == 0)
            continue;
        ig_path_key(kpath, sizeof(kpath), path, prices[i].key);
        ig_yaml_error_line(c->y, a.line[i], kpath,
                           "\"%s\" disagrees with %s.%s \"%s\" (line %d): a model is listed and billed at one "
                           "price; write it in one place, or the same in both",
                           a.v[i], mpath, prices[i].key, b.v[i], b.line[i]);
    }
    ig_pricing_t *p = &m->model.pricing;
    ig_pricing_more_t *q = &m->model.pricing_more;
    const char **slots[NPRICES] = {&p->prompt,           &p->completion, &p->request,    &p->input_cache_read,
                                   &p->audio,            &q->input_cache_write, &q->image, &q->web_search,
                                   &q->internal_reasoning};
    for (size_t i = 0; i < NPRICES; i++)
        *slots[i] = v[i];
    /* cached prompt tokens cost what other prompt tokens cost unless a cache price says otherwise:
     * the listing shows this and the ledger bills it */
    if (!p->input_cache_read)
        p->input_cache_read = p->prompt;
}
