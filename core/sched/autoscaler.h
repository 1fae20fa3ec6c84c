/*
 * autoscaler.h — how many replicas a model should run, from its load (KubeAI's rule).
 *
 * Every scheduler.interval the scheduler samples the model's active requests (in flight on its
 * replicas plus waiting in the queue). The desired count is the samples' average over
 * scheduler.timeWindow divided by targetRequests, rounded up and clamped to [minReplicas,
 * maxReplicas]. A request waiting for a model with no replica asks for one at once (scale from
 * zero), without waiting for the average to move. Scaling up applies at once; scaling down only
 * after the desired count has stayed below the current one for scaleDownDelaySeconds, and then to
 * the highest count desired during that delay. Pure arithmetic: no clock, no I/O.
 */
#ifndef IG_AUTOSCALER_H
#define IG_AUTOSCALER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int min_replicas, max_replicas;
    int target_requests;          /* active requests one replica should carry (>= 1) */
    uint64_t scale_down_delay_ms;
} ig_autoscale_params_t;

typedef struct {
    double *samples;              /* ring of the last cap samples */
    size_t cap, n, next;
    double sum;
    uint64_t lower_since_ms;      /* when the desired count first went below the current one; 0 = it is not */
    int lower_max;                /* the highest desired count since then */
} ig_autoscaler_t;

/* window_samples = timeWindow / interval (at least 1). 0, or -1 when out of memory. */
int ig_autoscaler_init(ig_autoscaler_t *a, size_t window_samples);
void ig_autoscaler_free(ig_autoscaler_t *a);
/* Adds one sample (active requests now), dropping the oldest once the window is full. */
void ig_autoscaler_sample(ig_autoscaler_t *a, double active);
/* Average of the samples in the window; 0 before the first. */
double ig_autoscaler_average(const ig_autoscaler_t *a);

/* ceil(average / target) clamped to [min, max]; at least 1 (if max allows) while requests wait. */
int ig_autoscaler_desired(const ig_autoscale_params_t *p, double average, unsigned waiting);

/*
 * The count to run now, given the current and the desired count at now_ms: desired when it is
 * not lower; otherwise current until the delay has passed, then the highest desired meanwhile.
 */
int ig_autoscaler_decide(ig_autoscaler_t *a, const ig_autoscale_params_t *p, int current, int desired,
                         uint64_t now_ms);

#endif
