#include "sim_log.h"

#include <stdarg.h>
#include <stdio.h>

#include "sim_config.h"

void sim_log(const char *fmt, ...)
{
    if (sim_cfg.quiet)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "ig-sim: %s\n", line);
}
