/*
 * log.h — the process's diagnostic log (stderr). The access log is separate
 * (access_log.h). The level is set from the active generation's
 * server.logLevel; it is an atomic so a reload can change it while workers log.
 */
#ifndef IG_LOG_H
#define IG_LOG_H

#include "infergate/plugin.h"

void ig_log_set_level(ig_log_level_t level);
ig_log_level_t ig_log_get_level(void);
/* Parses "error|warn|info|debug"; returns -1 when unknown. */
int ig_log_level_parse(const char *s, ig_log_level_t *out);

void ig_log(ig_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The form plugins use through ig_host_t: prefixes the plugin's name. */
void ig_log_plugin(ig_log_level_t level, const char *plugin, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define ig_log_error(...) ig_log(IG_LOG_ERROR, __VA_ARGS__)
#define ig_log_warn(...) ig_log(IG_LOG_WARN, __VA_ARGS__)
#define ig_log_info(...) ig_log(IG_LOG_INFO, __VA_ARGS__)
#define ig_log_debug(...)                                                                                              \
    do {                                                                                                               \
        if (ig_log_get_level() >= IG_LOG_DEBUG)                                                                        \
            ig_log(IG_LOG_DEBUG, __VA_ARGS__);                                                                         \
    } while (0)

#endif
