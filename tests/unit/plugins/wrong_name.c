/* wrong_name.c — a valid descriptor whose name does not match its file (wrong_name.so). */
#include "infergate/plugin.h"

static int pick(void *state, const ig_model_t *model, const ig_lb_request_t *req, ig_endpoint_t *const *c, size_t n)
{
    return 0;
}

static const ig_lb_vtable_t vtable = {.size = sizeof(ig_lb_vtable_t), .pick = pick};

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = IG_PLUGIN_ABI_VERSION,
    .size = sizeof(ig_plugin_t),
    .name = "something_else",
    .kind = IG_PLUGIN_LB,
    .vtable = &vtable,
};
