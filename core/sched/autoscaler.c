#include "sched/autoscaler.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ig_autoscaler_init(ig_autoscaler_t *a, size_t window_samples)
{
    memset(a, 0, sizeof(*a));
    a->cap = window_samples ? window_samples : 1;
    a->samples = calloc(a->cap, sizeof(*a->samples));
    return a->samples ? 0 : -1;
}

void ig_autoscaler_free(ig_autoscaler_t *a)
{
    free(a->samples);
    memset(a, 0, sizeof(*a));
}

void ig_autoscaler_sample(ig_autoscaler_t *a, double active)
{
    if (!a->samples)
        return;
    if (a->n == a->cap)
        a->sum -= a->samples[a->next];
    else
        a->n++;
    a->samples[a->next] = active;
    a->sum += active;
    a->next = (a->next + 1) % a->cap;
    /* recompute now and then: a running sum of doubles drifts */
    if (a->next == 0) {
        a->sum = 0;
        for (size_t i = 0; i < a->n; i++)
            a->sum += a->samples[i];
    }
}

double ig_autoscaler_average(const ig_autoscaler_t *a)
{
    return a->n ? a->sum / (double)a->n : 0;
}

int ig_autoscaler_desired(const ig_autoscale_params_t *p, double average, unsigned waiting)
{
    int target = p->target_requests > 0 ? p->target_requests : 1;
    double want = average > 0 ? ceil(average / target - 1e-9) : 0;
    int d = want > p->max_replicas ? p->max_replicas : (int)want;
    if (waiting > 0 && d < 1)
        d = 1;
    if (d > p->max_replicas)
        d = p->max_replicas;
    if (d < p->min_replicas)
        d = p->min_replicas;
    return d;
}

int ig_autoscaler_decide(ig_autoscaler_t *a, const ig_autoscale_params_t *p, int current, int desired,
                         uint64_t now_ms)
{
    if (desired >= current) {
        a->lower_since_ms = 0;
        return desired;
    }
    if (a->lower_since_ms == 0) {
        a->lower_since_ms = now_ms ? now_ms : 1;
        a->lower_max = desired;
    } else if (desired > a->lower_max) {
        a->lower_max = desired;
    }
    if (now_ms - a->lower_since_ms < p->scale_down_delay_ms)
        return current;
    a->lower_since_ms = 0;
    return a->lower_max;
}
