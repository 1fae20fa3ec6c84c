/*
 * test_scheduler.c — the scheduler's pure parts: the autoscaler's arithmetic (average over the
 * window, targetRequests, clamping, scale from zero, scaleDownDelaySeconds), the device pool (never
 * two owners, all-or-nothing takes, shared devices across profiles), and launch specs built from
 * configs/good-scheduler.yaml (command overrides, placeholders, env order, fingerprints).
 *
 * Run from the build directory of tests/unit (ctest does), like test_config.
 */
#include <stdlib.h>
#include <string.h>
#include "sched/autoscaler.h"
#include "config/config.h"
#include "sched/device_pool.h"
#include "ig_test.h"
#include "sched/launch_spec.h"
#include "plugin/plugin_host.h"

static void test_autoscaler_average(void)
{
    ig_autoscaler_t a;
    CHECK(ig_autoscaler_init(&a, 4) == 0);
    CHECK(ig_autoscaler_average(&a) == 0);
    ig_autoscaler_sample(&a, 2);
    ig_autoscaler_sample(&a, 4);
    CHECK(ig_autoscaler_average(&a) == 3);
    ig_autoscaler_sample(&a, 6);
    ig_autoscaler_sample(&a, 8);
    CHECK(ig_autoscaler_average(&a) == 5);
    /* the window holds 4: the 2 and the 4 fall out */
    ig_autoscaler_sample(&a, 10);
    ig_autoscaler_sample(&a, 12);
    CHECKF(ig_autoscaler_average(&a) == 9, "average %f", ig_autoscaler_average(&a));
    for (int i = 0; i < 1000; i++)
        ig_autoscaler_sample(&a, 1);
    CHECK(ig_autoscaler_average(&a) == 1);
    ig_autoscaler_free(&a);
    CHECK(ig_autoscaler_init(&a, 0) == 0 && a.cap == 1); /* a window shorter than the interval: one sample */
    ig_autoscaler_free(&a);
}

static void test_autoscaler_desired(void)
{
    ig_autoscale_params_t p = {.min_replicas = 0, .max_replicas = 5, .target_requests = 10};
    CHECK(ig_autoscaler_desired(&p, 0, 0) == 0);
    CHECK(ig_autoscaler_desired(&p, 0.5, 0) == 1);   /* any load needs a replica */
    CHECK(ig_autoscaler_desired(&p, 10, 0) == 1);    /* exactly the target: one */
    CHECK(ig_autoscaler_desired(&p, 10.5, 0) == 2);
    CHECK(ig_autoscaler_desired(&p, 31, 0) == 4);
    CHECK(ig_autoscaler_desired(&p, 1e9, 0) == 5);   /* clamped to maxReplicas */
    CHECK(ig_autoscaler_desired(&p, 0, 3) == 1);     /* requests waiting for a model at zero */
    p.min_replicas = 2;
    CHECK(ig_autoscaler_desired(&p, 0, 0) == 2);     /* clamped to minReplicas */
    p.min_replicas = 0;
    p.max_replicas = 0;
    CHECK(ig_autoscaler_desired(&p, 100, 5) == 0);   /* maxReplicas 0: never */
}

static void test_autoscaler_decide(void)
{
    ig_autoscaler_t a;
    ig_autoscale_params_t p = {.min_replicas = 0, .max_replicas = 5, .target_requests = 1, .scale_down_delay_ms = 30000};
    CHECK(ig_autoscaler_init(&a, 1) == 0);
    CHECK(ig_autoscaler_decide(&a, &p, 1, 3, 1000) == 3);     /* up: at once */
    CHECK(ig_autoscaler_decide(&a, &p, 3, 1, 2000) == 3);     /* down: not yet */
    CHECK(ig_autoscaler_decide(&a, &p, 3, 2, 20000) == 3);
    CHECK(ig_autoscaler_decide(&a, &p, 3, 1, 31999) == 3);    /* 29.999 s after it went lower */
    CHECK(ig_autoscaler_decide(&a, &p, 3, 1, 32000) == 2);    /* the highest desired during the delay */
    CHECK(ig_autoscaler_decide(&a, &p, 2, 0, 33000) == 2);    /* a new delay starts */
    CHECK(ig_autoscaler_decide(&a, &p, 2, 2, 40000) == 2);    /* demand back: the delay is forgotten */
    CHECK(ig_autoscaler_decide(&a, &p, 2, 0, 41000) == 2);
    CHECK(ig_autoscaler_decide(&a, &p, 2, 0, 70999) == 2);
    CHECK(ig_autoscaler_decide(&a, &p, 2, 0, 71000) == 0);
    p.scale_down_delay_ms = 0;
    CHECK(ig_autoscaler_decide(&a, &p, 4, 1, 80000) == 1);    /* no delay: at once */
    ig_autoscaler_free(&a);
}

static void test_device_pool(void)
{
    static ig_device_pool_t pool; /* 16 KB: not on the stack */
    ig_device_pool_init(&pool);
    const int gpu4[] = {0, 1, 2, 3}, gpu2[] = {2, 3};
    int got[4];
    CHECK(ig_device_pool_free_among(&pool, gpu4, 4) == 4);
    CHECK(ig_device_pool_take(&pool, gpu4, 4, 2, 7, got) == 0 && got[0] == 0 && got[1] == 1);
    CHECK(ig_device_pool_owner(&pool, 0) == 7 && ig_device_pool_owner(&pool, 1) == 7);
    /* another profile over the same GPUs sees them as taken */
    CHECK(ig_device_pool_take(&pool, gpu2, 2, 2, 8, got) == 0 && got[0] == 2 && got[1] == 3);
    CHECK(ig_device_pool_free_among(&pool, gpu4, 4) == 0);
    /* all or nothing: no partial take */
    CHECK(ig_device_pool_take(&pool, gpu4, 4, 1, 9, got) == -1);
    CHECK(ig_device_pool_release(&pool, 9) == 0);
    CHECK(ig_device_pool_release(&pool, 7) == 2);
    CHECK(ig_device_pool_take(&pool, gpu4, 4, 3, 10, got) == -1);  /* only 2 free */
    CHECK(ig_device_pool_owner(&pool, 0) == 0);
    CHECK(ig_device_pool_take(&pool, gpu4, 4, 2, 10, got) == 0 && got[0] == 0 && got[1] == 1);
    /* owner 0 means free: it cannot take */
    CHECK(ig_device_pool_take(&pool, gpu4, 4, 0, 0, got) == -1);
    /* a device listed twice is one device */
    const int dup[] = {5, 5};
    CHECK(ig_device_pool_free_among(&pool, dup, 2) == 1);
    CHECK(ig_device_pool_take(&pool, dup, 2, 2, 11, got) == -1);
    /* out-of-range numbers are never handed out */
    const int bad[] = {-1, IG_DEVICE_MAX};
    CHECK(ig_device_pool_free_among(&pool, bad, 2) == 0);
    /* every device has at most one owner after any sequence: check by counting */
    size_t held = 0;
    for (int d = 0; d < IG_DEVICE_MAX; d++)
        held += ig_device_pool_owner(&pool, d) != 0;
    CHECK(held == 4);
}

static const char *env_get(char **envp, const char *name)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (size_t i = 0; envp[i]; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') {
            CHECKF(found == NULL, "%s set twice", name);
            found = envp[i] + n + 1;
        }
    return found;
}

static void test_launch_spec(ig_plugin_host_t *host)
{
    ig_errors_t errs = {0};
    ig_config_t *cfg = ig_config_load("configs/good-scheduler.yaml", host, &errs);
    for (size_t i = 0; i < errs.count; i++)
        fprintf(stderr, "%s\n", errs.items[i]);
    if (!CHECKF(cfg != NULL, "configs/good-scheduler.yaml does not load"))
        return;
    const ig_scheduler_config_t *sc = &cfg->scheduler;
    CHECK(sc->interval_ms == 250 && sc->time_window_ms == 30000 && sc->stop_grace_ms == 5000 &&
          sc->drain_timeout_ms == 60000 && sc->start_timeout_ms == 600000);
    CHECK(sc->log_dir && strcmp(sc->log_dir, "/tmp/ig-replica-logs") == 0);
    CHECK(sc->npriority_classes == 2 && sc->priority_classes[0].value == -5 && sc->priority_classes[1].value == 1000);
    const ig_model_config_t *big = ig_config_find_model(cfg, "big", 3), *small = ig_config_find_model(cfg, "small", 5);
    if (!CHECK(big && small))
        return;
    CHECK(big->priority == 1000 && strcmp(big->priority_class, "high") == 0 && small->priority == 0);
    CHECK(big->profile && strcmp(big->profile->name, "gpu") == 0 && big->resource_count == 2);
    CHECK(big->profile->ncommand == 3 && strcmp(big->profile->device_env, "ROCR_VISIBLE_DEVICES") == 0);

    /* the recipe an engine plugin would give; the profile's command replaces its argv */
    static const char *const argv[] = {"engine-serve", "{model_ref}", "--port", "{port}", NULL};
    static const char *const env[] = {"A=0", "C={served_name}", NULL};
    ig_launch_recipe_t recipe = {.argv = argv, .env = env, .device_env = "CUDA_VISIBLE_DEVICES"};
    ig_launch_spec_t s;
    char msg[256];
    if (!CHECK(ig_launch_spec_build(&s, big, &recipe, msg, sizeof(msg)) == 0))
        return;
    CHECK(s.device_count == 2 && s.ndevices == 2 && s.devices[0] == 2);
    ig_launch_vars_t v = {.port = "4242", .host = "127.0.0.1", .devices = "2,3"};
    char **av = ig_launch_argv(&s, &v);
    CHECK(av && strcmp(av[0], "/opt/engine") == 0 && strcmp(av[2], "4242") == 0 &&
          strcmp(av[3], "--max-model-len=4096") == 0 && av[4] == NULL);
    char *base[] = {"PATH=/usr/bin", "A=base", "ROCR_VISIBLE_DEVICES=9", NULL};
    char **ev = ig_launch_envp(&s, &v, base);
    /* order: infergate's env, the recipe's, the profile's, the model's, the devices: the last wins */
    CHECK(ev && strcmp(env_get(ev, "PATH"), "/usr/bin") == 0);
    CHECK(ev && strcmp(env_get(ev, "A"), "2") == 0);
    CHECK(ev && strcmp(env_get(ev, "B"), "x4242y") == 0);
    CHECK(ev && strcmp(env_get(ev, "C"), "big") == 0);
    CHECK(ev && strcmp(env_get(ev, "ROCR_VISIBLE_DEVICES"), "2,3") == 0);
    CHECK(ev && env_get(ev, "CUDA_VISIBLE_DEVICES") == NULL);
    ig_launch_strv_free(av);
    ig_launch_strv_free(ev);

    /* the model's own command wins over everything; unknown names and {{ }} stay as written */
    ig_launch_spec_t t;
    if (CHECK(ig_launch_spec_build(&t, small, &recipe, msg, sizeof(msg)) == 0)) {
        CHECK(t.device_count == 0); /* cpu has no devices to hand out */
        av = ig_launch_argv(&t, &v);
        CHECK(av && strcmp(av[0], "/bin/echo") == 0 && strcmp(av[1], "small") == 0 && strcmp(av[2], "{literal}") == 0 &&
              strcmp(av[3], "{unknown}") == 0 && strcmp(av[4], "small@127.0.0.1:4242") == 0);
        ig_launch_strv_free(av);
        CHECK(strcmp(t.fingerprint, s.fingerprint) != 0);
        ig_launch_spec_free(&t);
    }
    /* the same inputs give the same fingerprint (a reload that changes nothing rolls nothing) */
    if (CHECK(ig_launch_spec_build(&t, big, &recipe, msg, sizeof(msg)) == 0)) {
        CHECK(strcmp(t.fingerprint, s.fingerprint) == 0);
        ig_launch_spec_free(&t);
    }
    /* a changed arg gives another */
    ig_model_config_t changed = *big;
    const char *args2[] = {"--max-model-len=8192"};
    changed.model.args = args2;
    if (CHECK(ig_launch_spec_build(&t, &changed, &recipe, msg, sizeof(msg)) == 0)) {
        CHECK(strcmp(t.fingerprint, s.fingerprint) != 0);
        ig_launch_spec_free(&t);
    }
    /* no recipe and no command: an error naming the model */
    CHECK(ig_launch_spec_build(&t, small, NULL, msg, sizeof(msg)) == 0);
    ig_launch_spec_free(&t);
    ig_model_config_t bare = *small;
    bare.command = NULL;
    CHECK(ig_launch_spec_build(&t, &bare, NULL, msg, sizeof(msg)) == -1 && strstr(msg, "model small") != NULL);
    ig_launch_spec_free(&s);
    ig_config_free(cfg);
    ig_errors_clear(&errs);
}

int main(void)
{
    test_autoscaler_average();
    test_autoscaler_desired();
    test_autoscaler_decide();
    test_device_pool();
    ig_plugin_host_t *host = ig_plugin_host_create(NULL);
    test_launch_spec(host);
    ig_plugin_host_free(host);
    return ig_test_summary();
}
