/* sim_ollama: Ollama's HTTP API, served with --api ollama (see README.md, "Ollama mode").
 *
 * Native API: GET / ("Ollama is running"), GET /api/version, GET /api/tags, GET /api/ps,
 * POST /api/chat, /api/generate (NDJSON streams, streamed by default), /api/embed, /api/embeddings;
 * OpenAI layer: POST /v1/chat/completions, /v1/completions (SSE streams), /v1/embeddings,
 * GET /v1/models; plus the /sim/ control API.  The tags pulled are --served-model-name (":latest"
 * implied, as Ollama does); a model not among them gets Ollama's 404 "try pulling it first". */
#ifndef SIM_OLLAMA_H
#define SIM_OLLAMA_H

#include <h2o.h>

/* Serves req in Ollama mode (its own routing: gin answers an unknown route 404 "404 page not found"). */
void sim_ollama_on_req(h2o_req_t *req);

#endif
