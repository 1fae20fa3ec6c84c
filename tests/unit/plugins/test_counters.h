/*
 * test_counters.h — call counters the test plugins export, so unit tests can
 * check (through dlsym on the loaded handle) that the core called init/fini
 * and model_init/model_free exactly as often as it should.
 */
#ifndef IG_TEST_COUNTERS_H
#define IG_TEST_COUNTERS_H

typedef struct {
    int init, fini, model_init, model_free;
    int live_instances, live_models; /* init - fini, model_init - model_free */
} ig_test_counters_t;

#include <stdint.h>
#include "infergate/plugin.h"

/* test_engine's options (plugins.options.test_engine), one of every type */
typedef struct {
    const char *greeting;
    int64_t retries;
    int verbose;
    int64_t timeout_ms;
    ig_str_list_t tags;
} test_engine_options_t;

/* test_lb's options and per-model options (loadBalancing.testLb) */
typedef struct {
    int64_t seed;
} test_lb_options_t;

typedef struct {
    int64_t mean_load_factor, prefix_char_length, window_ms;
} test_lb_model_options_t;

#endif
