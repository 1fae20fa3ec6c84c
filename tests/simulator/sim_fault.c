#include "sim_fault.h"

#include <stdatomic.h>
#include <string.h>

#include "sim_stats.h"

/* bits 0..7 mode, 8..39 every, 40..63 generation */
static atomic_uint_fast64_t state = 1u << 8;
static atomic_uint_fast64_t counter;
static void (*change_hook)(void);

static const char *const names[] = {"none", "refuse", "500", "hang", "close", "die-mid-stream", "error-mid-stream",
                                    "stall-mid-stream"};

static sim_fault_state_t unpack(uint64_t w)
{
    sim_fault_state_t s = {(sim_fault_mode_t)(w & 0xFF), (uint32_t)((w >> 8) & 0xFFFFFFFFu), (uint32_t)(w >> 40)};
    if (s.every == 0)
        s.every = 1;
    return s;
}

int sim_fault_from_name(const char *s, size_t n, sim_fault_mode_t *out)
{
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0) {
            *out = (sim_fault_mode_t)i;
            return 0;
        }
    }
    return -1;
}

const char *sim_fault_name(sim_fault_mode_t mode)
{
    return (unsigned)mode < sizeof(names) / sizeof(names[0]) ? names[mode] : "none";
}

sim_fault_state_t sim_fault_get(void) { return unpack(atomic_load(&state)); }

static uint32_t replace(sim_fault_mode_t mode, uint32_t every, const uint32_t *only_if_generation)
{
    if (every == 0)
        every = 1;
    uint64_t old = atomic_load(&state), next;
    uint32_t gen;
    do {
        sim_fault_state_t cur = unpack(old);
        if (only_if_generation != NULL && cur.generation != *only_if_generation)
            return cur.generation;
        gen = (cur.generation + 1) & 0xFFFFFFu;
        next = (uint64_t)mode | (uint64_t)every << 8 | (uint64_t)gen << 40;
    } while (!atomic_compare_exchange_weak(&state, &old, next));
    atomic_store(&counter, 0);
    if (change_hook != NULL)
        change_hook();
    return gen;
}

uint32_t sim_fault_set(sim_fault_mode_t mode, uint32_t every) { return replace(mode, every, NULL); }

void sim_fault_clear_if(uint32_t generation) { replace(SIM_FAULT_NONE, 1, &generation); }

int sim_fault_refusing_all(void)
{
    sim_fault_state_t s = sim_fault_get();
    return s.mode == SIM_FAULT_REFUSE && s.every <= 1;
}

static int take_turn(uint32_t every)
{
    uint64_t n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed) + 1;
    if (every > 1 && n % every != 0)
        return 0;
    SIM_STAT_ADD(faults, 1);
    return 1;
}

sim_fault_mode_t sim_fault_draw_request(void)
{
    sim_fault_state_t s = sim_fault_get();
    switch (s.mode) {
    case SIM_FAULT_NONE:
        return SIM_FAULT_NONE;
    case SIM_FAULT_REFUSE:
        if (s.every > 1)
            return SIM_FAULT_NONE; /* partial refuse works on connections, see draw_connection */
        SIM_STAT_ADD(faults, 1);
        return SIM_FAULT_CLOSE;
    default:
        return take_turn(s.every) ? s.mode : SIM_FAULT_NONE;
    }
}

int sim_fault_draw_connection(void)
{
    sim_fault_state_t s = sim_fault_get();
    if (s.mode != SIM_FAULT_REFUSE || s.every <= 1)
        return 0;
    return take_turn(s.every);
}

void sim_fault_on_change(void (*hook)(void)) { change_hook = hook; }
