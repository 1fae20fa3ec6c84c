/* sim_whisper: OpenAI's audio API as speech-to-text engines serve it.  --api fasterwhisper speaks
 * faster-whisper-server (speaches): POST /v1/audio/transcriptions and /v1/audio/translations
 * (multipart), every response_format, SSE streams of one event per segment, GET /health and
 * /v1/models.  vLLM mode gets vLLM's own /v1/audio/transcriptions and /v1/audio/translations.
 * The transcript is deterministic: two words a second of audio, the duration read from the WAV
 * header.  GET /sim/audio reports what the last upload looked like (its SHA-256 among it). */
#ifndef SIM_WHISPER_H
#define SIM_WHISPER_H

#include <stddef.h>

#include "sim_router.h"

/* The route table of --api fasterwhisper. */
const sim_route_t *sim_whisper_routes(size_t *n);

/* vLLM mode's audio endpoints. */
void sim_whisper_vllm_transcriptions(h2o_req_t *req);
void sim_whisper_vllm_translations(h2o_req_t *req);
/* GET /sim/audio (every mode). */
void sim_whisper_audio_stats(h2o_req_t *req);

#endif
