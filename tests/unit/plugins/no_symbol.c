/* no_symbol.c — a shared object without the infergate_plugin symbol. */
#include "infergate/plugin.h"

IG_PLUGIN_EXPORT int not_a_plugin(void)
{
    return 42;
}
