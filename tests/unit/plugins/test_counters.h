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

#endif
