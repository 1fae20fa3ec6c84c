/*
 * rl_window.c — sliding windows in slots, and GCRA for bursts. See rl_window.h for the exactness.
 */
#include "rl_window.h"

void rl_window_init(rl_window_t *w)
{
    for (int i = 0; i < RL_SLOTS; i++) {
        w->count[i] = 0;
        w->slot[i] = INT64_MIN;
    }
}

/* A slot is live while fewer than RL_SLOTS slots have begun since it. */
static int live(int64_t slot, int64_t now_slot)
{
    return slot > now_slot - RL_SLOTS && slot <= now_slot;
}

int64_t rl_window_used(const rl_window_t *w, int64_t now_ms, int64_t width_ms)
{
    int64_t s = now_ms / width_ms, used = 0;
    for (int i = 0; i < RL_SLOTS; i++)
        if (live(w->slot[i], s))
            used += w->count[i];
    return used;
}

void rl_window_add(rl_window_t *w, int64_t now_ms, int64_t width_ms, int64_t n)
{
    int64_t s = now_ms / width_ms;
    int i = (int)(s % RL_SLOTS);
    if (w->slot[i] != s) {
        w->slot[i] = s;
        w->count[i] = 0;
    }
    w->count[i] += n;
}

void rl_window_observe(const rl_window_t *w, int64_t now_ms, int64_t width_ms, rl_obs_t *o)
{
    int64_t s = now_ms / width_ms;
    int64_t used = rl_window_used(w, now_ms, width_ms);
    o->used = used;
    o->reset_ms = 0;
    o->retry_ms = 0;
    /* walk the live slots oldest first: each one leaves the window at (slot + RL_SLOTS) * width */
    int64_t left = used;
    int retry_found = o->limit < 0 || used < o->limit;
    for (int64_t k = s - RL_SLOTS + 1; k <= s; k++) {
        int i = (int)(k % RL_SLOTS);
        if (w->slot[i] != k || w->count[i] == 0)
            continue;
        int64_t leaves = (k + RL_SLOTS) * width_ms - now_ms;
        left -= w->count[i];
        if (!retry_found && left < o->limit) {
            o->retry_ms = leaves;
            retry_found = 1;
        }
        o->reset_ms = leaves; /* the newest non-empty slot decides when the window is empty */
    }
}

int64_t rl_gcra_interval_us(int64_t requests_per_minute)
{
    if (requests_per_minute <= 0)
        return INT64_C(60000000);
    return (INT64_C(60000000) + requests_per_minute - 1) / requests_per_minute;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

void rl_gcra_observe(int64_t tat_us, int64_t now_us, int64_t interval_us, rl_obs_t *o)
{
    int64_t ahead = tat_us > now_us ? tat_us - now_us : 0; /* how far the bucket is drained, in time */
    o->used = ceil_div(ahead, interval_us);
    o->reset_ms = ceil_div(ahead, 1000);
    /* one more fits when ahead + interval <= burst * interval */
    int64_t over = ahead + interval_us - (o->limit < 0 ? 0 : o->limit) * interval_us;
    o->retry_ms = o->limit < 0 ? 0 : ceil_div(over, 1000);
}

int64_t rl_gcra_take(int64_t tat_us, int64_t now_us, int64_t interval_us)
{
    return (tat_us > now_us ? tat_us : now_us) + interval_us;
}
