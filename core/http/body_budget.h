/*
 * body_budget.h — the one budget of request bodies held in memory, every worker and both protocols
 * (server.clientLimits.bodyBudgetBytes): HTTP/1 bodies read by h1_body.c, HTTP/2 DATA counted by
 * conn_guard.c as h2o receives it.
 */
#ifndef IG_HTTP_BODY_BUDGET_H
#define IG_HTTP_BODY_BUDGET_H

#include <stddef.h>

/* Takes n bytes: 0, or -1 (nothing taken) when that would pass budget. */
int ig_body_budget_take(size_t n, size_t budget);
void ig_body_budget_give(size_t n);
/* Bytes taken now. */
size_t ig_body_budget_held(void);

#endif
