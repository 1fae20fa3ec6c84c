/* api.c — see util/api.h. */
#include "util/api.h"
#include <string.h>

#define PATH(s) s, sizeof(s) - 1

static const struct {
    const char *path;
    size_t path_len;
    const char *name;
    unsigned feature;
} apis[IG_API__COUNT] = {
    [IG_API_CHAT_COMPLETIONS] = {PATH("/v1/chat/completions"), "chat.completions", IG_FEATURE_TEXT_GENERATION},
    [IG_API_COMPLETIONS] = {PATH("/v1/completions"), "completions", IG_FEATURE_TEXT_GENERATION},
    [IG_API_EMBEDDINGS] = {PATH("/v1/embeddings"), "embeddings", IG_FEATURE_TEXT_EMBEDDING},
    [IG_API_RERANK] = {PATH("/v1/rerank"), "rerank", IG_FEATURE_RERANKING},
    [IG_API_SCORE] = {PATH("/v1/score"), "score", IG_FEATURE_RERANKING},
    [IG_API_AUDIO_TRANSCRIPTIONS] = {PATH("/v1/audio/transcriptions"), "audio.transcriptions", IG_FEATURE_SPEECH_TO_TEXT},
    [IG_API_AUDIO_TRANSLATIONS] = {PATH("/v1/audio/translations"), "audio.translations", IG_FEATURE_SPEECH_TO_TEXT},
};

static const struct {
    unsigned bit;
    const char *name;
} features[] = {
    {IG_FEATURE_TEXT_GENERATION, "TextGeneration"},
    {IG_FEATURE_TEXT_EMBEDDING, "TextEmbedding"},
    {IG_FEATURE_RERANKING, "Reranking"},
    {IG_FEATURE_SPEECH_TO_TEXT, "SpeechToText"},
};

static int known(ig_api_t api)
{
    return (unsigned)api < IG_API__COUNT && apis[api].path != NULL;
}

ig_api_t ig_api_from_path(const char *path, size_t len)
{
    for (unsigned i = 0; i < IG_API__COUNT; i++)
        if (apis[i].path != NULL && len == apis[i].path_len && memcmp(path, apis[i].path, len) == 0)
            return (ig_api_t)i;
    if (len == sizeof("/rerank") - 1 && memcmp(path, "/rerank", len) == 0)
        return IG_API_RERANK;
    return IG_API_NONE;
}

const char *ig_api_path(ig_api_t api)
{
    return known(api) ? apis[api].path : NULL;
}

const char *ig_api_name(ig_api_t api)
{
    return known(api) ? apis[api].name : NULL;
}

unsigned ig_api_required_feature(ig_api_t api)
{
    return known(api) ? apis[api].feature : 0;
}

const char *ig_api_feature_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (features[i].bit == bit)
            return features[i].name;
    return NULL;
}

unsigned ig_api_feature_from_name(const char *name)
{
    for (size_t i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        if (strcmp(name, features[i].name) == 0)
            return features[i].bit;
    return 0;
}
