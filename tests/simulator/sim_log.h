/* sim_log: one-line diagnostics on stderr (silenced by --quiet). */
#ifndef SIM_LOG_H
#define SIM_LOG_H

void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
