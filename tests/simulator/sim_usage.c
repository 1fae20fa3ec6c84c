#include "sim_usage.h"

#include <pthread.h>
#include <string.h>

#include "sim_buf.h"
#include "sim_http.h"
#include "sim_server.h"

#define SIM_USAGE_ROWS 256
#define SIM_USAGE_NAME 64

typedef struct {
    char name[SIM_USAGE_NAME];
    size_t len;
    uint64_t requests, prompt, completion;
} sim_usage_row_t;

/* One table per process, behind a mutex taken once per request and once per batch of tokens. */
static pthread_mutex_t usage_mu = PTHREAD_MUTEX_INITIALIZER;
static sim_usage_row_t usage_rows[SIM_USAGE_ROWS];
static size_t usage_nrows;

static sim_usage_row_t *row_for(const char *user, size_t len)
{
    if (len >= SIM_USAGE_NAME) {
        user = "*";
        len = 1;
    }
    for (size_t i = 0; i < usage_nrows; i++)
        if (usage_rows[i].len == len && memcmp(usage_rows[i].name, user, len) == 0)
            return &usage_rows[i];
    if (usage_nrows == SIM_USAGE_ROWS - 1 && !(len == 1 && user[0] == '*'))
        return row_for("*", 1);
    sim_usage_row_t *r = &usage_rows[usage_nrows++];
    memcpy(r->name, user, len);
    r->len = len;
    return r;
}

void sim_usage_add(const char *user, size_t len, uint64_t requests, uint64_t prompt, uint64_t completion)
{
    pthread_mutex_lock(&usage_mu);
    sim_usage_row_t *r = row_for(user ? user : "", user ? len : 0);
    r->requests += requests;
    r->prompt += prompt;
    r->completion += completion;
    pthread_mutex_unlock(&usage_mu);
}

void sim_usage_get(h2o_req_t *req)
{
    ig_buf_t *b = &sim_worker_of(req)->scratch;
    ig_buf_reset(b);
    ig_buf_lit(b, "{\"users\":{");
    pthread_mutex_lock(&usage_mu);
    for (size_t i = 0; i < usage_nrows; i++) {
        if (i)
            ig_buf_putc(b, ',');
        ig_json_write_str(b, usage_rows[i].name, usage_rows[i].len);
        ig_buf_lit(b, ":{\"requests\":");
        ig_buf_put_u64(b, usage_rows[i].requests);
        ig_buf_lit(b, ",\"prompt_tokens\":");
        ig_buf_put_u64(b, usage_rows[i].prompt);
        ig_buf_lit(b, ",\"completion_tokens\":");
        ig_buf_put_u64(b, usage_rows[i].completion);
        ig_buf_putc(b, '}');
    }
    pthread_mutex_unlock(&usage_mu);
    ig_buf_lit(b, "}}");
    sim_http_send_buf(req, 200, b);
}

void sim_usage_reset(h2o_req_t *req)
{
    pthread_mutex_lock(&usage_mu);
    usage_nrows = 0;
    memset(usage_rows, 0, sizeof(usage_rows));
    pthread_mutex_unlock(&usage_mu);
    sim_usage_get(req);
}
