/* bad_abi.c — a plugin "built for" ABI version 999: the core must refuse it naming both versions. */
#include "infergate/plugin.h"

IG_PLUGIN_EXPORT const ig_plugin_t infergate_plugin = {
    .abi_version = 999,
    .name = "bad_abi",
    .kind = IG_PLUGIN_ENGINE,
};
