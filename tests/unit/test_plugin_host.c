/*
 * test_plugin_host.c — loading plugins from files (test-plugins/<name>.so, built
 * next to this test), refusing broken ones with useful messages, finding
 * them by name or alias, descriptor sanity for builtins, and option
 * validation against declarations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config_yaml.h"
#include "ig_test.h"
#include "plugin/plugin_host.h"
#include "plugin/plugin_options.h"

#define DIR_ "./test-plugins"

static void loading(void)
{
    ig_plugin_host_t *h = ig_plugin_host_create(NULL);
    char msg[1024];

    const ig_loaded_plugin_t *te = ig_plugin_host_load(h, DIR_, "test_engine", msg, sizeof(msg));
    CHECKF(te != NULL, "test_engine: %s", msg);
    if (te) {
        CHECK(strcmp(te->name, "test_engine") == 0);
        CHECK(strcmp(te->path, DIR_ "/test_engine.so") == 0);
        CHECK(te->dl != NULL && te->desc->kind == IG_PLUGIN_ENGINE);
    }
    /* loaded once: the same object comes back */
    CHECK(ig_plugin_host_load(h, DIR_, "test_engine", msg, sizeof(msg)) == te);
    const ig_loaded_plugin_t *lb = ig_plugin_host_load(h, DIR_, "test_lb", msg, sizeof(msg));
    CHECKF(lb != NULL, "test_lb: %s", msg);

    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, DIR_, "bad_abi", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "plugin \"bad_abi\" (" DIR_ "/bad_abi.so) was built for ABI version 999, this infergate "
                       "speaks version 3"),
           "abi: %s", msg);

    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, DIR_, "no_symbol", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "plugin \"no_symbol\" (" DIR_ "/no_symbol.so) does not export infergate_plugin: "),
           "no symbol: %s", msg);
    CHECKF(strstr(msg, "undefined symbol"), "dlerror text missing: %s", msg);

    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, DIR_, "wrong_name", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "calls itself \"something_else\""), "wrong name: %s", msg);

    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, DIR_, "missing", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "plugin \"missing\": cannot open " DIR_ "/missing.so: No such file or directory"),
           "missing: %s", msg);

    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, "/nonexistent-dir", "test_engine", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "/nonexistent-dir/test_engine.so"), "other dir: %s", msg);

    const char *bad_names[] = {"", "../test_engine", "a/b", ".hidden", "-x", "sp ace"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        msg[0] = '\0';
        CHECKF(ig_plugin_host_load(h, DIR_, bad_names[i], msg, sizeof(msg)) == NULL && strstr(msg, "invalid plugin name"),
               "name \"%s\": %s", bad_names[i], msg);
    }

    /* a file that is not a shared object: dlerror's text is passed on */
    FILE *f = fopen(DIR_ "/garbage.so", "w");
    if (f) {
        fputs("this is not an ELF file, just text long enough to have a header\n", f);
        fclose(f);
    }
    msg[0] = '\0';
    CHECK(ig_plugin_host_load(h, DIR_, "garbage", msg, sizeof(msg)) == NULL);
    CHECKF(strstr(msg, "plugin \"garbage\": cannot load " DIR_ "/garbage.so: ") && strstr(msg, "garbage.so: "),
           "not ELF: %s", msg);
    CHECKF(strstr(msg, "ELF") || strstr(msg, "too short"), "dlerror text missing: %s", msg);
    remove(DIR_ "/garbage.so");

    /* lookup: case-insensitive, by name or alias, and by kind */
    const ig_loaded_plugin_t *all[] = {te, NULL, lb};
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "test_engine") == te);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "TEST_ENGINE") == te);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "testengine") == te);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "te") == te);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "t") == NULL);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_LB, "test_engine") == NULL);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_LB, "leastload") == lb);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_LB, "LeastLoad") == lb);
    CHECK(ig_plugin_find(all, 3, IG_PLUGIN_ENGINE, "LeastLoad") == NULL);
    CHECK(ig_plugin_find(all, 0, IG_PLUGIN_ENGINE, "te") == NULL);
    ig_plugin_host_free(h);
}

/* ---- builtins: descriptor sanity without files ---- */

static int prepare(void *s, ig_engine_req_t *r, ig_error_t *e)
{
    return 0;
}
static void data(void *s, ig_engine_req_t *r, const char *d, size_t n, ig_sink_t *k)
{
}
static void end(void *s, ig_engine_req_t *r, int c, ig_sink_t *k)
{
}
static int pick(void *s, const ig_model_t *m, const ig_lb_request_t *r, ig_endpoint_t *const *c, size_t n)
{
    return 0;
}

static const ig_engine_vtable_t good_engine_vt = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION, .prepare = prepare, .on_response_data = data, .on_response_end = end};
static const ig_engine_vtable_t no_prepare_vt = {
    .size = sizeof(ig_engine_vtable_t),
    .features = IG_FEATURE_TEXT_GENERATION, .on_response_data = data, .on_response_end = end};
static const ig_engine_vtable_t no_features_vt = {.size = sizeof(ig_engine_vtable_t), .prepare = prepare, .on_response_data = data, .on_response_end = end};
static const ig_engine_vtable_t load_no_parser_vt = {.size = sizeof(ig_engine_vtable_t), .features = IG_FEATURE_TEXT_GENERATION, .load_path = "/metrics",
    .prepare = prepare, .on_response_data = data, .on_response_end = end};
static const ig_engine_vtable_t relative_health_vt = {.size = sizeof(ig_engine_vtable_t), .features = IG_FEATURE_TEXT_GENERATION, .health_path = "health",
    .prepare = prepare, .on_response_data = data, .on_response_end = end};
static const ig_engine_vtable_t short_engine_vt = {.size = 24, .features = IG_FEATURE_TEXT_GENERATION};
static const ig_lb_vtable_t no_pick_vt = {.size = sizeof(ig_lb_vtable_t)};
static const ig_lb_vtable_t good_lb_vt = {.size = sizeof(ig_lb_vtable_t), .pick = pick};
static int admit(void *s, ig_rl_request_t *r, ig_error_t *e) { return 0; }
static void record(void *s, const ig_usage_record_t *rec) {}
static int handle(void *s, ig_http_exchange_t *x, ig_error_t *e) { return 0; }
static const ig_auth_vtable_t no_auth_vt = {.size = sizeof(ig_auth_vtable_t)};
static const ig_ratelimit_vtable_t half_rl_vt = {.size = sizeof(ig_ratelimit_vtable_t), .admit = admit};
static const ig_billing_vtable_t no_bill_vt = {.size = sizeof(ig_billing_vtable_t)};
static const ig_billing_vtable_t good_bill_vt = {.size = sizeof(ig_billing_vtable_t), .record = record};
static const ig_route_decl_t relative_route[] = {{"admin/x", IG_ROUTE_ADMIN, handle}, {NULL}};
static const ig_route_decl_t good_route[] = {{"/admin/x", IG_ROUTE_ADMIN, handle}, {NULL}};

/* every option below is stored at offset 0 of an int64_t-sized struct, but good_opts (good_opts_t) */
static const ig_option_decl_t dup_opts[] = {{"a", IG_OPT_INT, "1"}, {"a", IG_OPT_INT, "2"}, {NULL}};
static const ig_option_decl_t misaligned_opts[] = {{"n", IG_OPT_INT, "1", NULL, 0, 0, 4}, {NULL}};
static const ig_option_decl_t bad_default[] = {{"n", IG_OPT_INT, "lots"}, {NULL}};
static const ig_option_decl_t out_of_bounds_default[] = {{"n", IG_OPT_INT, "50", NULL, 1, 10}, {NULL}};
static const ig_option_decl_t bad_type[] = {{"n", (ig_option_type_t)42, "1"}, {NULL}};
static const ig_option_decl_t min_gt_max[] = {{"n", IG_OPT_INT, "1", NULL, 10, 1}, {NULL}};
typedef struct {
    const char *s, *q;
    ig_str_list_t l;
    int64_t d, z;
    int b;
    const char *j;
} good_opts_t;
#define GO(field) offsetof(good_opts_t, field)
static const ig_option_decl_t good_opts[] = {{"s", IG_OPT_STRING, "", NULL, 0, 0, GO(s)},
                                             {"q", IG_OPT_STRING, "\"quoted: yes\"", NULL, 0, 0, GO(q)},
                                             {"l", IG_OPT_STRING_LIST, "[]", NULL, 0, 0, GO(l)},
                                             {"d", IG_OPT_DURATION, "2m", NULL, 0, 0, GO(d)},
                                             {"z", IG_OPT_SIZE, "16MiB", NULL, 0, 0, GO(z)},
                                             {"b", IG_OPT_BOOL, "TRUE", NULL, 0, 0, GO(b)},
                                             {"j", IG_OPT_JSON, "{a: [1]}", NULL, 0, 0, GO(j)},
                                             {NULL}};

static void builtins(void)
{
    static const struct {
        ig_plugin_t desc;
        const char *want; /* NULL: accepted */
    } cases[] = {
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "ok_engine", IG_PLUGIN_ENGINE, .options = good_opts, .options_size = sizeof(good_opts_t), .vtable = &good_engine_vt}, NULL},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "ok_lb", IG_PLUGIN_LB, .vtable = &good_lb_vt}, NULL},
        {{1, sizeof(ig_plugin_t), "v1", IG_PLUGIN_ENGINE, .vtable = &good_engine_vt},
         "was built for ABI version 1, this infergate speaks version 3"},
        {{2, sizeof(ig_plugin_t), "v2", IG_PLUGIN_ENGINE, .vtable = &good_engine_vt},
         "was built for ABI version 2, this infergate speaks version 3"},
        {{IG_PLUGIN_ABI_VERSION, 16, "short", IG_PLUGIN_ENGINE, .vtable = &good_engine_vt}, "declares a 16-byte descriptor"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "shortvt", IG_PLUGIN_ENGINE, .vtable = &short_engine_vt},
         "declares a 24-byte function table, shorter than"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "outside", IG_PLUGIN_LB, .options = good_opts,
          .options_size = sizeof(int64_t), .vtable = &good_lb_vt},
         "option \"q\" is stored at offset 8, outside the 8-byte options struct"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "misaligned", IG_PLUGIN_LB, .options = misaligned_opts,
          .options_size = 16, .vtable = &good_lb_vt},
         "option \"n\" is stored at offset 4, misaligned for its type"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "no_vt", IG_PLUGIN_ENGINE}, "has no engine function table"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "no_prep", IG_PLUGIN_ENGINE, .vtable = &no_prepare_vt}, "lacks the required function prepare()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "no_feat", IG_PLUGIN_ENGINE, .vtable = &no_features_vt}, "declares invalid features 0x0"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "load_np", IG_PLUGIN_ENGINE, .vtable = &load_no_parser_vt},
         "sets load_path but lacks parse_load()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "rel_hp", IG_PLUGIN_ENGINE, .vtable = &relative_health_vt},
         "health_path \"health\" must start with '/'"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "no_pick", IG_PLUGIN_LB, .vtable = &no_pick_vt}, "lacks the required function pick()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "auth", IG_PLUGIN_AUTH, .vtable = &no_auth_vt}, "lacks the required function authenticate()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "rl", IG_PLUGIN_RATELIMIT, .vtable = &half_rl_vt}, "lacks the required function complete()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "bill", IG_PLUGIN_BILLING, .vtable = &no_bill_vt}, "lacks the required function record()"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "route", IG_PLUGIN_BILLING, .vtable = &good_bill_vt, .routes = relative_route},
         "routes[0] (\"admin/x\") needs a path starting with '/'"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "okbill", IG_PLUGIN_BILLING, .vtable = &good_bill_vt, .routes = good_route}, NULL},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "weird", (ig_plugin_kind_t)77, .vtable = &good_lb_vt}, "has an invalid kind 77"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), NULL, IG_PLUGIN_LB, .vtable = &good_lb_vt}, "calls itself \"(null)\""},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "dup", IG_PLUGIN_LB, .options = dup_opts, .options_size = sizeof(int64_t), .vtable = &good_lb_vt}, "option \"a\" is declared twice"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "baddef", IG_PLUGIN_LB, .options = bad_default, .options_size = sizeof(int64_t), .vtable = &good_lb_vt},
         "invalid default for option \"n\": default of the plugin's option \"n\":1: expected an integer, got \"lots\""},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "oob", IG_PLUGIN_LB, .options = out_of_bounds_default, .options_size = sizeof(int64_t), .vtable = &good_lb_vt},
         "50 is out of range (1..10)"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "badtype", IG_PLUGIN_LB, .options = bad_type, .options_size = sizeof(int64_t), .vtable = &good_lb_vt}, "has unknown type 42"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "minmax", IG_PLUGIN_LB, .options = min_gt_max, .options_size = sizeof(int64_t), .vtable = &good_lb_vt}, "min 10 > max 1"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "nokey", IG_PLUGIN_LB, .model_options = good_opts, .model_options_size = sizeof(good_opts_t), .vtable = &good_lb_vt},
         "declares model_options without a usable model_options_key"},
        {{IG_PLUGIN_ABI_VERSION, sizeof(ig_plugin_t), "engopts", IG_PLUGIN_ENGINE, .model_options = good_opts, .model_options_size = sizeof(good_opts_t), .model_options_key = "x",
          .vtable = &good_engine_vt},
         "which only load-balancing plugins can have"},
    };
    ig_plugin_host_t *h = ig_plugin_host_create(NULL);
    ig_plugin_host_allow_files(h, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char msg[1024] = "";
        const ig_loaded_plugin_t *lp = ig_plugin_host_add_builtin(h, &cases[i].desc, msg, sizeof(msg));
        if (!cases[i].want)
            CHECKF(lp != NULL && lp->dl == NULL, "case %zu: refused: %s", i, msg);
        else
            CHECKF(lp == NULL && strstr(msg, cases[i].want), "case %zu: want \"%s\", got \"%s\"", i, cases[i].want,
                   msg);
    }
    char msg[512] = "";
    /* a builtin resolves by name without files; anything else is refused while files are off */
    const ig_loaded_plugin_t *b = ig_plugin_host_load(h, "/nowhere", "ok_engine", msg, sizeof(msg));
    CHECKF(b && strcmp(b->path, "builtin") == 0, "builtin: %s", msg);
    CHECK(ig_plugin_host_add_builtin(h, &cases[0].desc, msg, sizeof(msg)) == NULL && strstr(msg, "registered twice"));
    CHECK(ig_plugin_host_load(h, DIR_, "test_engine", msg, sizeof(msg)) == NULL &&
          strstr(msg, "loading from files is disabled"));
    ig_plugin_host_free(h);
}

/* ---- option parsing from YAML ---- */

typedef struct {
    const char *name;
    int64_t count, big;
    int on;
    int64_t wait, any, size;
    ig_str_list_t list;
} opts_t;

#define O(field) offsetof(opts_t, field)
static const ig_option_decl_t decls[] = {
    {"name", IG_OPT_STRING, NULL, "required", 0, 0, O(name)},
    {"count", IG_OPT_INT, "5", NULL, 1, 10, O(count)},
    {"big", IG_OPT_INT, "-3", NULL, 0, 0, O(big)}, /* unbounded */
    {"on", IG_OPT_BOOL, "false", NULL, 0, 0, O(on)},
    {"wait", IG_OPT_DURATION, "1s", NULL, 10, 5000, O(wait)},
    {"any", IG_OPT_DURATION, "1h", NULL, 0, 0, O(any)},
    {"list", IG_OPT_STRING_LIST, "[x]", NULL, 0, 0, O(list)},
    {"size", IG_OPT_SIZE, "1KiB", NULL, 0, 1 << 20, O(size)},
    {NULL}};

static opts_t *parse(const char *text, ig_arena_t *a, char **joined)
{
    ig_errors_t errs = {0};
    ig_yaml_t y;
    ig_yaml_open_buffer(&y, "opts.yaml", text, strlen(text), &errs);
    opts_t *v = NULL;
    if (ig_yaml_next_document(&y) == 1)
        v = ig_options_parse(&y, a, ig_yaml_root(&y), 7, "plugins.options.p", "plugin \"p\"", decls, sizeof(opts_t));
    *joined = ig_errors_join(&errs);
    ig_yaml_close(&y);
    ig_errors_clear(&errs);
    return v;
}

static void options(void)
{
    ig_arena_t *a = ig_arena_create();
    char *err;
    opts_t *v = parse("name: n1\nbig: -9000000000\non: true\nwait: 250ms\nlist: [a, 'b c']\nsize: 64KB\n", a, &err);
    if (CHECKF(v != NULL, "valid options refused: %s", err)) {
        CHECK(strcmp(v->name, "n1") == 0);
        CHECK(v->count == 5);
        CHECK(v->big == -9000000000LL);
        CHECK(v->on == 1);
        CHECK(v->wait == 250);
        CHECK(v->any == 3600000);
        CHECK(v->list.len == 2 && strcmp(v->list.items[1], "b c") == 0 && v->list.items[2] == NULL);
        CHECKF(v->size == 64000 || v->size == 65536, "size 64KB: %lld", (long long)v->size);
    }
    free(err);
    v = parse("name: n1\n", a, &err);
    if (CHECKF(v != NULL, "defaults refused: %s", err))
        CHECK(v->size == 1024 && v->list.len == 1 && strcmp(v->list.items[0], "x") == 0);
    free(err);

    static const struct {
        const char *text, *want;
    } bad[] = {
        {"count: 3\n", "opts.yaml:1: plugins.options.p: missing required option \"name\" (string: required)"},
        {"name: x\nextra: 1\n", "opts.yaml:2: plugins.options.p.extra: unknown option \"extra\" for plugin \"p\" (known: "
                                "name, count, big, on, wait, any, list, size)"},
        {"name: x\ncount: 11\n", "opts.yaml:2: plugins.options.p.count: 11 is out of range (1..10)"},
        {"name: x\ncount: 0\n", "plugins.options.p.count: 0 is out of range (1..10)"},
        {"name: x\ncount: 2.5\n", "plugins.options.p.count: expected an integer, got \"2.5\""},
        {"name: x\non: 1\n", "plugins.options.p.on: expected true or false, got \"1\""},
        {"name: x\nwait: 5ms\n", "plugins.options.p.wait: 5ms is out of range (10ms..5000ms)"},
        {"name: x\nwait: soon\n", "plugins.options.p.wait: invalid duration \"soon\""},
        {"name: x\nlist: [a, [b]]\n", "plugins.options.p.list[1]: expected a string, got a list"},
        {"name: [x]\n", "plugins.options.p.name: expected a string, got a list"},
        {"name: ~\n", "plugins.options.p.name: expected a string, got nothing (null)"},
        {"[1, 2]\n", "opts.yaml:1: plugins.options.p: expected a map, got a list"},
        {"name: x\nsize: 2MiB\n", "plugins.options.p.size: "},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        v = parse(bad[i].text, a, &err);
        CHECKF(v == NULL && err && strstr(err, bad[i].want), "case %zu: want \"%s\", got:\n%s", i, bad[i].want,
               err ? err : "");
        free(err);
    }

    /* no map at all: defaults, and "missing" points at the line given (the plugins.load item) */
    ig_errors_t errs = {0};
    ig_yaml_t y;
    ig_yaml_open_buffer(&y, "cfg.yaml", "x: 1\n", 5, &errs);
    ig_yaml_next_document(&y);
    CHECK(ig_options_parse(&y, a, NULL, 7, "plugins.options.p", "plugin \"p\"", decls, sizeof(opts_t)) == NULL);
    CHECK(errs.count == 1 && strstr(errs.items[0], "cfg.yaml:7: plugins.options.p: missing required option \"name\""));
    ig_errors_clear(&errs);
    /* a plugin without options: an empty map is fine, keys are not */
    static const ig_option_decl_t none[] = {{NULL}};
    CHECK(ig_options_parse(&y, a, NULL, 7, "plugins.options.q", "plugin \"q\"", none, 0) != NULL);
    CHECK(ig_options_parse(&y, a, NULL, 7, "plugins.options.q", "plugin \"q\"", NULL, 0) != NULL);
    CHECK(ig_options_parse(&y, a, ig_yaml_root(&y), 7, "plugins.options.q", "plugin \"q\"", NULL, 0) == NULL);
    CHECK(errs.count == 1 && strstr(errs.items[0], "unknown option \"x\": plugin \"q\" takes no options"));
    ig_yaml_close(&y);
    ig_errors_clear(&errs);

    char msg[256];
    CHECK(ig_options_check_decls(decls, sizeof(opts_t), msg, sizeof(msg)) == 0);
    CHECK(ig_options_check_decls(NULL, 0, msg, sizeof(msg)) == 0);
    CHECK(ig_options_check_decls(decls, offsetof(opts_t, list), msg, sizeof(msg)) == -1 &&
          strstr(msg, "option \"list\" is stored at offset"));
    CHECK(ig_options_count(decls) == 8 && ig_options_count(NULL) == 0);
    ig_arena_destroy(a);
}

/* IG_OPT_JSON: any YAML value reaches the plugin as JSON text; defaults go through the same walk */
static void json_options(void)
{
    typedef struct {
        const char *keys, *meta;
    } jopts_t;
    static const ig_option_decl_t jdecls[] = {{"keys", IG_OPT_JSON, "[]", NULL, 0, 0, offsetof(jopts_t, keys)},
                                              {"meta", IG_OPT_JSON, "{x: 1}", NULL, 0, 0, offsetof(jopts_t, meta)},
                                              {NULL}};
    ig_arena_t *a = ig_arena_create();
    static const struct {
        const char *text, *keys, *meta; /* keys NULL: an error containing meta */
    } cases[] = {
        {"{}", "[]", "{\"x\":1}"},
        {"keys: [{id: k1, n: 5, on: true, off: ~, s: \"5\", q: 'a\"b'}]\nmeta: plain",
         "[{\"id\":\"k1\",\"n\":5,\"on\":true,\"off\":null,\"s\":\"5\",\"q\":\"a\\\"b\"}]", "\"plain\""},
        {"keys: 2.5e3\nmeta: {nested: {deeper: [[]]}}", "2.5e3", "{\"nested\":{\"deeper\":[[]]}}"},
        {NULL, NULL, "plugins.options.j.keys: nested more than 64 levels deep"}, /* text made below */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ig_errors_t errs = {0};
        ig_yaml_t y;
        char deep[200] = "keys: ";
        if (!cases[i].text) { /* 70 nested lists: deeper than the YAML walk allows */
            for (int d = 0; d < 70; d++)
                strcat(deep, "[");
            for (int d = 0; d < 70; d++)
                strcat(deep, "]");
        }
        const char *text = cases[i].text ? cases[i].text : deep;
        ig_yaml_open_buffer(&y, "j.yaml", text, strlen(text), &errs);
        jopts_t *v = NULL;
        if (ig_yaml_next_document(&y) == 1)
            v = ig_options_parse(&y, a, ig_yaml_root(&y), 3, "plugins.options.j", "plugin \"j\"", jdecls,
                                 sizeof(jopts_t));
        char *joined = ig_errors_join(&errs);
        if (cases[i].keys) {
            if (CHECKF(v != NULL, "case %zu refused: %s", i, joined))
                CHECKF(strcmp(v->keys, cases[i].keys) == 0 && strcmp(v->meta, cases[i].meta) == 0,
                       "case %zu: got %s / %s", i, v->keys, v->meta);
        } else {
            CHECKF(v == NULL && joined && strstr(joined, cases[i].meta), "case %zu: want %s, got %s", i, cases[i].meta,
                   joined ? joined : "");
        }
        free(joined);
        ig_yaml_close(&y);
        ig_errors_clear(&errs);
    }
    char msg[256];
    CHECK(ig_options_check_decls(jdecls, sizeof(jopts_t), msg, sizeof(msg)) == 0);
    ig_arena_destroy(a);
}

int main(int argc, char **argv)
{
    loading();
    builtins();
    options();
    json_options();
    return ig_test_summary();
}
