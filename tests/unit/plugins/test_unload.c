/*
 * test_unload.c — a billing plugin for the unload unit test. Its code and data go away with
 * dlclose, so it reports load()/init()/fini()/unload() by appending a line to the file named by
 * $IG_TEST_UNLOAD_LOG, which the test reads back.
 */
#include <stdio.h>
#include <stdlib.h>
#include "infergate/plugin.h"

static void note(const char *what)
{
    const char *path = getenv("IG_TEST_UNLOAD_LOG");
    FILE *f = path ? fopen(path, "a") : NULL;
    if (f) {
        fprintf(f, "%s\n", what);
        fclose(f);
    }
}

static int load(const ig_host_t *host, void **process_state, ig_error_t *err)
{
    *process_state = malloc(16); /* freed by unload: LSan tells if it is not called */
    note("load");
    return *process_state ? 0 : -1;
}

static void unload(void *process_state)
{
    free(process_state);
    note("unload");
}

static int init(const ig_host_t *host, const ig_plugin_init_t *ctx, void **state, ig_error_t *err)
{
    *state = ctx->process_state;
    note("init");
    return 0;
}

static void fini(void *state)
{
    note("fini");
}

static void record(void *state, const ig_usage_record_t *rec)
{
}

static const ig_billing_vtable_t vtable = {.size = sizeof(ig_billing_vtable_t), .record = record};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "test_unload",
    .kind = IG_PLUGIN_BILLING,
    .load = load,
    .unload = unload,
    .init = init,
    .fini = fini,
    .vtable = &vtable,
};
