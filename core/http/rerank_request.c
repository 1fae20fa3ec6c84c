#include "util/json.h"
#include "http/rerank_request.h"
#include <stdarg.h>
#include <stdio.h>

static int fail(const char **param, const char *which, char *msg, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int fail(const char **param, const char *which, char *msg, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    *param = which;
    return -1;
}

static ig_str_t contents(const ig_json_value_t *s)
{
    return (ig_str_t){s->ptr + 1, s->len - 2};
}

int ig_rerank_document_text(const ig_json_value_t *doc, ig_json_value_t *text)
{
    if (doc->type == IG_JSON_STRING) {
        *text = *doc;
        return 1;
    }
    return doc->type == IG_JSON_OBJECT && ig_json_object_get(doc, "text", 4, text) == 1 && text->type == IG_JSON_STRING;
}

static int check_rerank(const ig_rerank_fields_t *f, ig_str_t *prefix, const char **param, char *msg, size_t cap)
{
    if (f->query.type == IG_JSON_INVALID || f->query.type == IG_JSON_NULL)
        return fail(param, "query", msg, cap, "you must provide a query parameter: the text to rank the documents against");
    if (f->query.type != IG_JSON_STRING)
        return fail(param, "query", msg, cap, "'query' must be a string");
    if (f->documents.type == IG_JSON_INVALID || f->documents.type == IG_JSON_NULL)
        return fail(param, "documents", msg, cap, "you must provide a documents parameter: the texts to rank");
    if (f->documents.type != IG_JSON_ARRAY)
        return fail(param, "documents", msg, cap, "'documents' must be an array of strings or of objects with a 'text' string");
    ig_json_iter_t it;
    ig_json_value_t doc, text;
    size_t n = 0;
    ig_json_iter_init(&it, &f->documents);
    for (; ig_json_iter_next(&it, NULL, &doc) == 1; n++)
        if (!ig_rerank_document_text(&doc, &text))
            return fail(param, "documents", msg, cap,
                        "'documents[%zu]' must be a string or an object with a 'text' string", n);
    if (n == 0)
        return fail(param, "documents", msg, cap, "'documents' must not be empty: give at least one document to rank");
    if (f->top_n.type != IG_JSON_INVALID && f->top_n.type != IG_JSON_NULL) {
        int64_t top;
        if (ig_json_int64(&f->top_n, &top) != 0 || top < 1)
            return fail(param, "top_n", msg, cap, "'top_n' must be a positive integer (the number of results to return)");
    }
    if (f->return_documents.type != IG_JSON_INVALID && f->return_documents.type != IG_JSON_NULL) {
        int b;
        if (ig_json_bool(&f->return_documents, &b) != 0)
            return fail(param, "return_documents", msg, cap, "'return_documents' must be a boolean");
    }
    *prefix = contents(&f->query);
    return 0;
}

/* text_1 / text_2: a string or a non-empty array of strings; *count 0 for a single string. */
static int check_score_side(const ig_json_value_t *v, const char *name, size_t *count, ig_json_value_t *first,
                            const char **param, char *msg, size_t cap)
{
    if (v->type == IG_JSON_INVALID || v->type == IG_JSON_NULL)
        return fail(param, name, msg, cap, "you must provide a %s parameter", name);
    *count = 0;
    if (v->type == IG_JSON_STRING) {
        *first = *v;
        return 0;
    }
    if (v->type != IG_JSON_ARRAY)
        return fail(param, name, msg, cap, "'%s' must be a string or an array of strings", name);
    ig_json_iter_t it;
    ig_json_value_t e;
    ig_json_iter_init(&it, v);
    for (; ig_json_iter_next(&it, NULL, &e) == 1; (*count)++) {
        if (e.type != IG_JSON_STRING)
            return fail(param, name, msg, cap, "'%s[%zu]' must be a string", name, *count);
        if (*count == 0)
            *first = e;
    }
    if (*count == 0)
        return fail(param, name, msg, cap, "'%s' must not be empty", name);
    return 0;
}

static int check_score(const ig_rerank_fields_t *f, ig_str_t *prefix, const char **param, char *msg, size_t cap)
{
    size_t n1, n2;
    ig_json_value_t first1, first2;
    if (check_score_side(&f->text_1, "text_1", &n1, &first1, param, msg, cap) != 0 ||
        check_score_side(&f->text_2, "text_2", &n2, &first2, param, msg, cap) != 0)
        return -1;
    /* pairs are 1:1, 1:N or N:N (vLLM's rule) */
    if (n1 > 1 && n1 != n2)
        return fail(param, "text_2", msg, cap, "'text_1' has %zu texts and 'text_2' %zu: with several texts on both sides they pair up one to one, so the counts must match", n1, n2);
    *prefix = contents(&first1);
    return 0;
}

int ig_rerank_request_check(ig_api_t api, const ig_rerank_fields_t *f, ig_str_t *prefix, const char **param,
                            char *msg, size_t cap)
{
    if (api == IG_API_RERANK)
        return check_rerank(f, prefix, param, msg, cap);
    if (api == IG_API_SCORE)
        return check_score(f, prefix, param, msg, cap);
    return 0;
}
