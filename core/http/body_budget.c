#include "http/body_budget.h"
#include <stdatomic.h>

static atomic_size_t held;

int ig_body_budget_take(size_t n, size_t budget)
{
    size_t cur = atomic_load(&held);
    do {
        if (cur + n > budget || cur + n < cur)
            return -1;
    } while (!atomic_compare_exchange_weak(&held, &cur, cur + n));
    return 0;
}

void ig_body_budget_give(size_t n)
{
    atomic_fetch_sub(&held, n);
}

size_t ig_body_budget_held(void)
{
    return atomic_load(&held);
}
