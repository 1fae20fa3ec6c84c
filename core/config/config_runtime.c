/*
 * config_runtime.c — models made at run time (PUT /admin/models/{name}): KubeAI Model manifests in
 * <stateDir>/models, one model a file named after it, read after the file's models. A change in
 * the making (ig_runtime_change_t) replaces or removes one of them before anything is written, so
 * a PUT is validated exactly as `infergate -t` validates the files it would leave behind.
 */
#include "config/config_internal.h"
#include "observe/log.h"
#include "util/buf.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_RUNTIME_FILES 10000

char *ig_config_read_file(const char *path, size_t *len, ig_errors_t *errs)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) {
        ig_errors_at(errs, path, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ig_errors_at(errs, path, 0, "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > IG_YAML_MAX_FILE) {
        ig_errors_at(errs, path, 0, "file is too large (%lld bytes, at most %u)", (long long)st.st_size,
                     IG_YAML_MAX_FILE);
        close(fd);
        return NULL;
    }
    size_t size = (size_t)st.st_size, got = 0;
    char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        ig_errors_at(errs, path, 0, "out of memory");
        return NULL;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ig_errors_at(errs, path, 0, "read error: %s", strerror(errno));
            free(buf);
            close(fd);
            return NULL;
        }
        if (r == 0)
            break; /* shrank while reading: take what is there */
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return buf;
}

char *ig_config_runtime_dir(const ig_config_t *cfg)
{
    const char *sd = cfg->server.state_dir;
    if (!sd || !*sd)
        return NULL;
    size_t n = strlen(sd);
    char *p = malloc(n + sizeof("/models"));
    if (p)
        snprintf(p, n + sizeof("/models"), "%s%s", sd, sd[n - 1] == '/' ? "models" : "/models");
    return p;
}

/* The file model named name (index below nfile), or -1. */
static long file_model(const ig_cfg_ctx_t *c, size_t nfile, const char *name)
{
    for (size_t i = 0; i < nfile; i++)
        if (c->models[i].model.name && strcmp(c->models[i].model.name, name) == 0)
            return (long)i;
    return -1;
}

/* models: DIR pointing at the runtime folder itself (refused: a model would be both). */
static int same_dir(const char *a, const char *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];
    return a && b && realpath(a, ra) && realpath(b, rb) && strcmp(ra, rb) == 0;
}

/* Models parsed from one runtime document set: marked runtime, and named as expected. */
static void settle_runtime(ig_cfg_ctx_t *c, size_t before, size_t nfile, const char *expected, int from_change,
                           const char *npath)
{
    ig_yaml_t *y = c->y;
    if (c->nmodels > before + 1)
        ig_yaml_error_line(y, c->models[before + 1].line, NULL,
                           from_change ? "one model at a time: the body holds %zu"
                                       : "a runtime model file holds one model (this one holds %zu)",
                           c->nmodels - before);
    if (c->nmodels <= before)
        return; /* reported */
    ig_model_config_t *m = &c->models[before];
    m->runtime = 1;
    if (m->model.name && strcmp(m->model.name, expected) != 0) {
        if (from_change)
            ig_yaml_error_line(y, m->line, npath, "\"%s\" is not the model this request changes (\"%s\")",
                               m->model.name, expected);
        else
            ig_yaml_error_line(y, m->line, npath,
                               "\"%s\" differs from the file's name: a runtime model file is named after its "
                               "model (%s.yaml)",
                               m->model.name, m->model.name);
        return;
    }
    long f = m->model.name ? file_model(c, nfile, m->model.name) : -1;
    if (f < 0)
        return;
    const ig_model_config_t *fm = &c->models[f];
    if (from_change) {
        ig_yaml_error_line(y, m->line, npath, "model \"%s\" is defined in %s:%d: change it there", fm->model.name,
                           fm->file, fm->line);
        return;
    }
    /* the file wins: a model added to the YAML later takes over its name */
    ig_log_warn("%s: model \"%s\" is also defined in %s:%d, whose definition is used; delete this file (or the "
                "model through the admin API) to silence this",
                y->file, fm->model.name, fm->file, fm->line);
    c->nmodels = before;
}

/* One runtime model document: a file in the folder (text NULL), or one from PostgreSQL. */
static void parse_runtime_file(ig_cfg_ctx_t *c, const char *file, const char *stem, size_t nfile, const char *text,
                               size_t len)
{
    ig_yaml_t my;
    if ((text ? ig_yaml_open_buffer(&my, file, text, len, c->errs) : ig_yaml_open_file(&my, file, c->errs)) == 0) {
        ig_yaml_t *main_y = c->y;
        const char *main_file = c->file;
        c->y = &my;
        c->file = file;
        size_t before = c->nmodels;
        while (ig_yaml_next_document(&my) == 1)
            ig_cfg_parse_manifest(c, ig_yaml_root(&my));
        settle_runtime(c, before, nfile, stem, 0, "metadata.name");
        ig_cfg_warn_ignored(c);
        c->y = main_y;
        c->file = main_file;
    }
    ig_yaml_close(&my);
}

static const char *const manifest_markers[] = {"apiVersion", "kind", "metadata", "spec", NULL};

/* The change's text: a models[] entry (name optional: the URL names it) or a Model manifest. */
static void parse_change(ig_cfg_ctx_t *c, size_t nfile)
{
    const ig_runtime_change_t *ch = c->change;
    ig_yaml_t by;
    if (ig_yaml_open_buffer(&by, ch->text_name, ch->text, ch->len, c->errs) != 0) {
        ig_yaml_close(&by);
        return;
    }
    ig_yaml_t *main_y = c->y;
    const char *main_file = c->file;
    c->y = &by;
    c->file = ig_cfg_strdup(c, ch->text_name); /* the caller names the stored file once it is written */
    int r = ig_yaml_next_document(&by);
    if (r == 0)
        ig_yaml_error(&by, NULL, NULL, "empty: expected a model (the fields of a models[] entry, or a KubeAI Model manifest)");
    yaml_node_t *root = r == 1 ? ig_yaml_root(&by) : NULL;
    if (root && ig_yaml_expect_map(&by, root, NULL) == 0) {
        size_t before = c->nmodels;
        int manifest = 0;
        for (size_t i = 0; manifest_markers[i]; i++)
            manifest |= ig_yaml_map_get(&by, root, manifest_markers[i]) != NULL;
        if (manifest) {
            ig_cfg_parse_manifest(c, root);
        } else {
            ig_model_config_t m = {0};
            if (ig_yaml_map_get(&by, root, "name")) {
                ig_cfg_parse_model(c, root, "", NULL, &m);
            } else {
                /* the URL names it: a name node of our own, read like a manifest's metadata.name */
                int id = yaml_document_add_scalar(&by.doc, NULL, (yaml_char_t *)ch->name, -1, YAML_PLAIN_SCALAR_STYLE);
                yaml_node_t *name = id ? yaml_document_get_node(&by.doc, id) : NULL;
                root = ig_yaml_root(&by); /* adding a node may have moved them */
                if (name && root)
                    ig_cfg_parse_model(c, root, "", &(ig_cfg_manifest_meta_t){.name = name}, &m);
                else
                    ig_yaml_error(&by, NULL, NULL, "out of memory");
            }
            ig_cfg_add_model(c, &m);
        }
        settle_runtime(c, before, nfile, ch->name, 1, manifest ? "metadata.name" : "name");
        ig_cfg_warn_ignored(c);
        if (ig_yaml_next_document(&by) == 1)
            ig_yaml_error(&by, ig_yaml_root(&by), NULL, "a second YAML document: one model at a time");
    }
    c->y = main_y;
    c->file = main_file;
    ig_yaml_close(&by);
}

/* The set read from PostgreSQL, in place of the folder. */
static void parse_runtime_set(ig_cfg_ctx_t *c, size_t nfile)
{
    for (size_t i = 0; i < c->set->n; i++) {
        const ig_runtime_doc_t *d = &c->set->docs[i];
        if (c->change && strcmp(d->name, c->change->name) == 0)
            continue; /* replaced by the change, or removed */
        char *stem = ig_arena_printf(c->a, "%s", d->name);
        char *file = ig_arena_printf(c->a, "postgres:runtime_models/%s", d->name);
        if (!stem || !file)
            break;
        parse_runtime_file(c, file, stem, nfile, d->text, d->len);
    }
    if (c->change && c->change->text)
        parse_change(c, nfile);
}

void ig_cfg_parse_runtime_models(ig_cfg_ctx_t *c)
{
    if (!c->runtime)
        return;
    size_t nfile = c->nmodels;
    if (c->set != NULL) {
        parse_runtime_set(c, nfile);
        return;
    }
    char *dir = ig_config_runtime_dir(c->cfg);
    if (!dir)
        return;
    char **names = NULL;
    size_t n = 0;
    DIR *d = NULL;
    if (same_dir(c->cfg->models_dir, dir))
        ig_errors_at(c->errs, c->cfg->path, 0,
                     "models: \"%s\" is <stateDir>/models, where the admin API keeps the models it makes: use "
                     "another folder",
                     c->cfg->models_dir);
    else if (!(d = opendir(dir)) && errno != ENOENT)
        ig_errors_at(c->errs, dir, 0, "cannot read the runtime models' folder: %s", strerror(errno));
    /* dot files are ours in the making (.<name>.yaml.tmp) */
    if (d) {
        n = ig_cfg_yaml_names(d, 0, MAX_RUNTIME_FILES, &names);
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        size_t stem_len = strlen(names[i]) - 5;
        char *stem = ig_arena_printf(c->a, "%.*s", (int)stem_len, names[i]);
        char *file = ig_arena_printf(c->a, "%s/%s", dir, names[i]);
        if (!stem || !file)
            break;
        if (c->change && strcmp(stem, c->change->name) == 0)
            continue; /* replaced by the change, or removed */
        parse_runtime_file(c, file, stem, nfile, NULL, 0);
    }
    ig_cfg_names_free(names, n);
    free(dir);
    if (c->change && c->change->text)
        parse_change(c, nfile);
}

/* ---- the stored form: a KubeAI Model manifest, block YAML ---------------------------------------- */

#define MANIFEST_MAX_NODES 20000

typedef struct {
    yaml_document_t *src, *dst;
    size_t budget;
} copy_t;

/* A quoted scalar that reads the same unquoted: not empty, not a number, boolean or null look-alike. */
static int plain_safe(const yaml_node_t *n)
{
    const char *s = (const char *)n->data.scalar.value;
    static const char *const words[] = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~", NULL};
    if (n->data.scalar.length == 0 || strlen(s) != n->data.scalar.length)
        return 0;
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 0;
    if (strspn(s, "0123456789+-.eExXoO_:") == n->data.scalar.length || s[0] == '.')
        return 0; /* could read as a number (or a sexagesimal, in YAML 1.1) */
    return 1;
}

/* Copies node n of src into dst (collections in block style); its id, or 0. skip: a key left out. */
static int copy_node(copy_t *c, yaml_node_t *n, int depth, const char *skip)
{
    if (!n || depth > IG_YAML_MAX_DEPTH || c->budget == 0)
        return 0;
    c->budget--;
    switch (n->type) {
    case YAML_SCALAR_NODE: {
        /* JSON quotes every string: unquoted where that changes nothing, the emitter decides */
        yaml_scalar_style_t style = n->data.scalar.style;
        if (style == YAML_DOUBLE_QUOTED_SCALAR_STYLE && plain_safe(n))
            style = YAML_ANY_SCALAR_STYLE;
        return yaml_document_add_scalar(c->dst, NULL, n->data.scalar.value, (int)n->data.scalar.length, style);
    }
    case YAML_SEQUENCE_NODE: {
        int id = yaml_document_add_sequence(c->dst, NULL, YAML_BLOCK_SEQUENCE_STYLE);
        for (yaml_node_item_t *it = n->data.sequence.items.start; id && it < n->data.sequence.items.top; it++) {
            int item = copy_node(c, yaml_document_get_node(c->src, *it), depth + 1, NULL);
            if (!item || !yaml_document_append_sequence_item(c->dst, id, item))
                return 0;
        }
        return id;
    }
    case YAML_MAPPING_NODE: {
        int id = yaml_document_add_mapping(c->dst, NULL, YAML_BLOCK_MAPPING_STYLE);
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; id && p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *k = yaml_document_get_node(c->src, p->key);
            if (skip && k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, skip) == 0)
                continue;
            int key = copy_node(c, k, depth + 1, NULL);
            int val = key ? copy_node(c, yaml_document_get_node(c->src, p->value), depth + 1, NULL) : 0;
            if (!val || !yaml_document_append_mapping_pair(c->dst, id, key, val))
                return 0;
        }
        return id;
    }
    default:
        return 0;
    }
}

static int add_str(yaml_document_t *d, const char *s)
{
    return yaml_document_add_scalar(d, NULL, (yaml_char_t *)s, -1, YAML_PLAIN_SCALAR_STYLE);
}

static int add_pair(yaml_document_t *d, int map, const char *key, int val)
{
    int k = add_str(d, key);
    return k && val && yaml_document_append_mapping_pair(d, map, k, val);
}

static int write_out(void *data, unsigned char *buf, size_t n)
{
    return ig_buf_put(data, buf, n) == 0;
}

char *ig_config_runtime_manifest(const char *name, const char *text, size_t len, size_t *out_len)
{
    yaml_parser_t p;
    yaml_document_t src, dst;
    if (!yaml_parser_initialize(&p))
        return NULL;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int loaded = yaml_parser_load(&p, &src);
    yaml_parser_delete(&p);
    if (!loaded)
        return NULL;
    yaml_node_t *root = yaml_document_get_root_node(&src);
    if (!root || root->type != YAML_MAPPING_NODE || !yaml_document_initialize(&dst, NULL, NULL, NULL, 1, 1)) {
        yaml_document_delete(&src);
        return NULL;
    }
    copy_t c = {.src = &src, .dst = &dst, .budget = MANIFEST_MAX_NODES};
    int manifest = 0;
    for (yaml_node_pair_t *pr = root->data.mapping.pairs.start; pr < root->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yaml_document_get_node(&src, pr->key);
        for (size_t i = 0; k && k->type == YAML_SCALAR_NODE && manifest_markers[i]; i++)
            manifest |= strcmp((const char *)k->data.scalar.value, manifest_markers[i]) == 0;
    }
    int ok;
    if (manifest) {
        ok = copy_node(&c, root, 0, NULL) != 0;
    } else {
        /* a models[] entry becomes the manifest a KubeAI user would write: the name in metadata */
        int top = yaml_document_add_mapping(&dst, NULL, YAML_BLOCK_MAPPING_STYLE);
        int md = yaml_document_add_mapping(&dst, NULL, YAML_BLOCK_MAPPING_STYLE);
        ok = top && md && add_pair(&dst, top, "apiVersion", add_str(&dst, "kubeai.org/v1")) &&
             add_pair(&dst, top, "kind", add_str(&dst, "Model")) && add_pair(&dst, md, "name", add_str(&dst, name)) &&
             add_pair(&dst, top, "metadata", md) && add_pair(&dst, top, "spec", copy_node(&c, root, 0, "name"));
    }
    yaml_document_delete(&src);
    ig_buf_t out = {0};
    ig_buf_printf(&out, "# infergate runtime model \"%s\" (PUT /admin/models/%s): a KubeAI Model manifest.\n"
                        "# Change it through the admin API, or here followed by SIGHUP.\n",
                  name, name);
    yaml_emitter_t e;
    if (!ok || !yaml_emitter_initialize(&e)) {
        yaml_document_delete(&dst);
        ig_buf_free(&out);
        return NULL;
    }
    yaml_emitter_set_output(&e, write_out, &out);
    yaml_emitter_set_unicode(&e, 1);
    yaml_emitter_set_width(&e, -1); /* no folding of long values */
    if (!yaml_emitter_open(&e)) {
        ok = 0;
        yaml_document_delete(&dst);
    } else {
        /* dump deletes the document, whatever it returns */
        ok = yaml_emitter_dump(&e, &dst) && yaml_emitter_close(&e) && yaml_emitter_flush(&e);
    }
    yaml_emitter_delete(&e);
    if (!ok) {
        ig_buf_free(&out);
        return NULL;
    }
    return ig_buf_take(&out, out_len);
}
