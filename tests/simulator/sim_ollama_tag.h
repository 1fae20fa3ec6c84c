/*
 * sim_ollama_tag.h — how Ollama names a model: "host/ns/name:version", ":latest" implied, compared
 * case-insensitively (Ollama's model.ParseName). The simulator answers by this rule, and the
 * ollama_tags fuzz target checks the ollama plugin against it: one reference, independent of the
 * plugin's own code.
 */
#ifndef SIM_OLLAMA_TAG_H
#define SIM_OLLAMA_TAG_H

#include <stddef.h>
#include <string.h>
#include <strings.h>

/* Splits a tag into its name (the whole prefix before the version) and version. */
static inline void sim_ollama_split_tag(const char *s, size_t n, size_t *name_len, const char **ver, size_t *ver_len)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '/')
            from = i + 1;
    const char *colon = memchr(s + from, ':', n - from);
    if (colon == NULL) {
        *name_len = n;
        *ver = "latest";
        *ver_len = 6;
    } else {
        *name_len = (size_t)(colon - s);
        *ver = colon + 1;
        *ver_len = n - *name_len - 1;
    }
}

/* Both tags name the same model and version. */
static inline int sim_ollama_tag_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t an, bn, avl, bvl;
    const char *av, *bv;
    sim_ollama_split_tag(a, alen, &an, &av, &avl);
    sim_ollama_split_tag(b, blen, &bn, &bv, &bvl);
    return an == bn && avl == bvl && strncasecmp(a, b, an) == 0 && strncasecmp(av, bv, avl) == 0;
}

#endif
