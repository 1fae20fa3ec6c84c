/*
 * test_plugin_unload.c — a plugin no configuration lists any more is unloaded (unload(), dlclose)
 * once the last generation using it is released, and not before; a generation released on another
 * thread (as workers do) is seen by the next collection; a failed config that loaded a plugin
 * leaves nothing loaded; a plugin listed again is loaded afresh; the host's free unloads the rest.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config/generation.h"
#include "ig_test.h"

static char log_path[] = "/tmp/ig-test-unload-XXXXXX";

static const char with[] = "plugins:\n  dir: ./test-plugins\n  load: [test_engine, test_lb, test_unload]\n"
                           "models:\n  - name: m\n    engine: test_engine\n    endpoints: [\"http://127.0.0.1:9001\"]\n";
static const char without[] = "plugins:\n  dir: ./test-plugins\n  load: [test_engine, test_lb]\n"
                              "models:\n  - name: m\n    engine: test_engine\n    endpoints: [\"http://127.0.0.1:9001\"]\n";
static const char broken[] = "plugins:\n  dir: ./test-plugins\n  load: [test_engine, test_lb, test_unload]\n"
                             "models:\n  - name: m\n    engine: no_such_engine\n";

/* What the plugin reported since the last call, as "load,init,..." */
static void events(char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen(log_path, "r");
    char line[64];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (out[0])
            strncat(out, ",", cap - strlen(out) - 1);
        strncat(out, line, cap - strlen(out) - 1);
    }
    if (f)
        fclose(f);
    FILE *t = fopen(log_path, "w");
    if (t)
        fclose(t);
}

static ig_generation_t *build(ig_plugin_host_t *host, const char *text, uint64_t id)
{
    ig_errors_t errs = {0};
    ig_generation_t *gen = NULL;
    ig_config_t *cfg = ig_config_load_buffer("unload.yaml", text, strlen(text), host, &errs);
    if (cfg)
        gen = ig_generation_build(cfg, id, NULL, &errs);
    ig_errors_clear(&errs);
    return gen;
}

static void *release_on_thread(void *gen)
{
    ig_generation_release(gen);
    return NULL;
}

int main(void)
{
    int fd = mkstemp(log_path);
    if (fd >= 0)
        close(fd);
    setenv("IG_TEST_UNLOAD_LOG", log_path, 1);
    char ev[256];
    ig_plugin_host_t *host = ig_plugin_host_create(ig_plugin_host_api());

    ig_generation_t *a = build(host, with, 1);
    CHECK(a != NULL);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "load,init") == 0, "events: %s", ev);
    CHECK(ig_plugin_host_count(host) == 3);

    /* a reload to a config without it: still used by generation 1, so it stays */
    ig_generation_t *b = build(host, without, 2);
    CHECK(b != NULL);
    CHECK(ig_plugin_host_collect(host) == 0);
    CHECK(ig_plugin_host_count(host) == 3);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "") == 0, "nothing happens while generation 1 lives: %s", ev);

    /* the last request on generation 1 ends on a worker thread; the main thread collects it */
    pthread_t t;
    pthread_create(&t, NULL, release_on_thread, a);
    pthread_join(t, NULL);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "fini") == 0, "fini on release: %s", ev);
    CHECK(ig_plugin_host_collect(host) == 1);
    CHECK(ig_plugin_host_count(host) == 2);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "unload") == 0, "unloaded once unused: %s", ev);
    CHECK(ig_plugin_host_collect(host) == 0); /* the engine and strategy, used by generation 2, stay */

    /* listed again: loaded afresh, with a new process state */
    ig_generation_t *c = build(host, with, 3);
    CHECK(c != NULL);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "load,init") == 0, "loaded again: %s", ev);
    ig_generation_release(c);
    CHECK(ig_plugin_host_collect(host) == 1);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "fini,unload") == 0, "%s", ev);

    /* an invalid config that named it: loaded while parsing, unloaded by the next collection */
    CHECK(build(host, broken, 4) == NULL);
    CHECK(ig_plugin_host_collect(host) == 1);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "load,unload") == 0, "failed config: %s", ev);

    /* at exit: generations first, then the host unloads what is left */
    ig_generation_t *d = build(host, with, 5);
    ig_generation_release(b);
    ig_generation_release(d);
    ig_plugin_host_free(host);
    events(ev, sizeof(ev));
    CHECKF(strcmp(ev, "load,init,fini,unload") == 0, "exit: %s", ev);
    unlink(log_path);
    return ig_test_summary();
}
