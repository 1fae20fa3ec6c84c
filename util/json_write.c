/* json_write.c — see util/json_write.h. */
#include "util/json_write.h"
#include "util/json.h"
#include <time.h>

int ig_json_write_str(ig_buf_t *b, const char *s, size_t n)
{
    if (b->failed)
        return -1;
    /* straight into the room there is (one pass when it can hold any escaping of s); else
     * ig_json_escape has measured, and the second call writes into a buffer grown to fit */
    size_t room = b->cap - b->len;
    size_t need = ig_json_escape(s, n, room ? b->p + b->len : NULL, room ? room - 1 : 0);
    if (need >= room) {
        if (ig_buf_grow(b, need) != 0)
            return -1;
        ig_json_escape(s, n, b->p + b->len, need);
    }
    b->len += need;
    b->p[b->len] = '\0';
    return 0;
}

int ig_json_write_cstr(ig_buf_t *b, const char *s)
{
    return s != NULL ? ig_json_write_str(b, s, strlen(s)) : ig_buf_lit(b, "null");
}

int ig_json_write_error(ig_buf_t *b, const char *message, const char *type, const char *param, const char *code)
{
    ig_buf_lit(b, "{\"error\":{\"message\":");
    ig_json_write_cstr(b, message);
    ig_buf_lit(b, ",\"type\":");
    ig_json_write_cstr(b, type);
    ig_buf_lit(b, ",\"param\":");
    ig_json_write_cstr(b, param && *param ? param : NULL);
    ig_buf_lit(b, ",\"code\":");
    ig_json_write_cstr(b, code && *code ? code : NULL);
    ig_buf_lit(b, "}}");
    return b->failed ? -1 : 0;
}

void ig_json_write_time_ms(ig_buf_t *b, int64_t ms)
{
    if (ms <= 0) {
        ig_buf_lit(b, "null");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    ig_buf_printf(b, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\"", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
