/*
 * util/api.h — the OpenAI APIs the gateway serves, in one table: each one's path, the name usage
 * records carry, and the model feature (KubeAI's) it needs; and the features' names. The core routes
 * and checks features with it, engine plugins take their upstream paths from it, billing its names.
 */
#ifndef IG_UTIL_API_H
#define IG_UTIL_API_H

#include <stddef.h>
#include "infergate/plugin.h" /* ig_api_t, IG_FEATURE_* */

/* "/v1/chat/completions" → IG_API_CHAT_COMPLETIONS etc. ("/rerank" too, Cohere's and Jina's); IG_API_NONE if not a proxied route. */
ig_api_t ig_api_from_path(const char *path, size_t len);

/* The OpenAI path ("/v1/chat/completions"; "/v1/rerank" for reranking), or NULL for IG_API_NONE and unknown values. */
const char *ig_api_path(ig_api_t api);

/* The name in usage records ("chat.completions", "audio.transcriptions"), or NULL like ig_api_path. */
const char *ig_api_name(ig_api_t api);

/* The feature a model needs to serve api (IG_FEATURE_*), 0 for IG_API_NONE and unknown values. */
unsigned ig_api_required_feature(ig_api_t api);

/* A feature's name as configured ("TextGeneration"), or NULL when bit is not one feature. */
const char *ig_api_feature_name(unsigned bit);

/* The feature (IG_FEATURE_*) named so, or 0. */
unsigned ig_api_feature_from_name(const char *name);

#endif
