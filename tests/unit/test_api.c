/*
 * test_api.c — util/api.c: every proxied path maps to its API and back (the "/rerank" alias one
 * way), names and required features per API, out-of-range values answered without a read past the
 * table, and feature names both ways.
 */
#include <string.h>

#include "ig_test.h"
#include "util/api.h"

static int from(const char *path)
{
    return ig_api_from_path(path, strlen(path));
}

static void test_paths(void)
{
    static const struct {
        const char *path;
        ig_api_t api;
        const char *name;
        unsigned feature;
    } want[] = {
        {"/v1/chat/completions", IG_API_CHAT_COMPLETIONS, "chat.completions", IG_FEATURE_TEXT_GENERATION},
        {"/v1/completions", IG_API_COMPLETIONS, "completions", IG_FEATURE_TEXT_GENERATION},
        {"/v1/embeddings", IG_API_EMBEDDINGS, "embeddings", IG_FEATURE_TEXT_EMBEDDING},
        {"/v1/rerank", IG_API_RERANK, "rerank", IG_FEATURE_RERANKING},
        {"/v1/score", IG_API_SCORE, "score", IG_FEATURE_RERANKING},
        {"/v1/audio/transcriptions", IG_API_AUDIO_TRANSCRIPTIONS, "audio.transcriptions", IG_FEATURE_SPEECH_TO_TEXT},
        {"/v1/audio/translations", IG_API_AUDIO_TRANSLATIONS, "audio.translations", IG_FEATURE_SPEECH_TO_TEXT},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        CHECKF(from(want[i].path) == (int)want[i].api, "%s", want[i].path);
        CHECKF(ig_api_path(want[i].api) && strcmp(ig_api_path(want[i].api), want[i].path) == 0, "%s", want[i].path);
        CHECKF(ig_api_name(want[i].api) && strcmp(ig_api_name(want[i].api), want[i].name) == 0, "%s", want[i].name);
        CHECK(ig_api_required_feature(want[i].api) == want[i].feature);
    }
    CHECK(sizeof(want) / sizeof(want[0]) == IG_API__COUNT - 1); /* a new API gets a row here and in util/api.c */
    CHECK(from("/rerank") == IG_API_RERANK);
    CHECK(from("/v1/models") == IG_API_NONE && from("") == IG_API_NONE && from("/v1/chat/completions/") == IG_API_NONE);
    CHECK(ig_api_from_path("/v1/completionsXYZ", 15) == IG_API_COMPLETIONS); /* only len bytes count */
    CHECK(from("/V1/completions") == IG_API_NONE);
    CHECK(ig_api_path(IG_API_NONE) == NULL && ig_api_name(IG_API_NONE) == NULL && ig_api_required_feature(IG_API_NONE) == 0);
    CHECK(ig_api_path(IG_API__COUNT) == NULL && ig_api_path((ig_api_t)1000) == NULL && ig_api_path((ig_api_t)-1) == NULL);
}

static void test_features(void)
{
    CHECK(ig_api_feature_from_name("TextGeneration") == IG_FEATURE_TEXT_GENERATION);
    CHECK(ig_api_feature_from_name("TextEmbedding") == IG_FEATURE_TEXT_EMBEDDING);
    CHECK(ig_api_feature_from_name("Reranking") == IG_FEATURE_RERANKING);
    CHECK(ig_api_feature_from_name("SpeechToText") == IG_FEATURE_SPEECH_TO_TEXT);
    CHECK(ig_api_feature_from_name("textgeneration") == 0 && ig_api_feature_from_name("") == 0);
    for (unsigned bit = 1; bit <= IG_FEATURE_SPEECH_TO_TEXT; bit <<= 1)
        CHECK(ig_api_feature_name(bit) && ig_api_feature_from_name(ig_api_feature_name(bit)) == bit);
    CHECK(ig_api_feature_name(0) == NULL && ig_api_feature_name(IG_FEATURE_TEXT_GENERATION | IG_FEATURE_RERANKING) == NULL);
}

int main(void)
{
    test_paths();
    test_features();
    return ig_test_summary();
}
