/* The error contract: set once where detected, wrap with context while propagating. */
#include "base/base.h"

#include <stdio.h>
#include <string.h>

/* Handed out when even the message cannot be allocated; never freed. */
static lzs_error oom_error = {.code = ENOMEM, .http = 0, .msg = (char *)"out of memory"};

static int error_vset(lzs_error **err, int code, int http, const char *suffix, const char *fmt,
                      va_list ap) LZS_PRINTF(5, 0);

static int error_vset(lzs_error **err, int code, int http, const char *suffix, const char *fmt,
                      va_list ap)
{
    if (code <= 0)
        code = EIO;
    if (!err)
        return -code;
    if (*err) /* set exactly once: a second set is a bug; keep the first, it is closer to the cause
               */
        return -code;
    lzs_error *e = calloc(1, sizeof(*e));
    char *msg = NULL;
    if (e && vasprintf(&msg, fmt, ap) >= 0 && suffix) {
        char *joined = NULL;
        if (asprintf(&joined, "%s: %s", msg, suffix) < 0)
            joined = NULL;
        free(msg);
        msg = joined;
    }
    if (!e || !msg) {
        free(e);
        *err = &oom_error;
        return -code;
    }
    e->code = code;
    e->http = http;
    e->msg = msg;
    *err = e;
    return -code;
}

int lzs_error_set(lzs_error **err, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = error_vset(err, code, 0, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int lzs_error_set_http(lzs_error **err, int code, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = error_vset(err, code, http, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int lzs_error_set_sys(lzs_error **err, int code, const char *fmt, ...)
{
    char buf[128];
    va_list ap;
    va_start(ap, fmt);
    int rc = error_vset(err, code, 0, lzs_strerror(code, buf, sizeof(buf)), fmt, ap);
    va_end(ap);
    return rc;
}

int lzs_error_wrap(lzs_error **err, const char *fmt, ...)
{
    if (!err || !*err)
        return -EIO;
    lzs_error *e = *err;
    if (e == &oom_error)
        return -e->code;
    char *ctx = NULL, *joined = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&ctx, fmt, ap);
    va_end(ap);
    if (n >= 0 && asprintf(&joined, "%s: %s", ctx, e->msg) >= 0) {
        free(e->msg);
        e->msg = joined;
    }
    if (n >= 0)
        free(ctx);
    return -e->code;
}

void lzs_error_free(lzs_error **err)
{
    if (!err || !*err)
        return;
    if (*err != &oom_error) {
        free((*err)->msg);
        free(*err);
    }
    *err = NULL;
}

const char *lzs_error_msg(const lzs_error *e)
{
    return e && e->msg ? e->msg : "unknown error";
}

const char *lzs_strerror(int code, char *buf, size_t len)
{
    if (code < 0)
        code = -code;
    /* GNU strerror_r may return a static string instead of filling buf. */
    const char *s = strerror_r(code, buf, len);
    if (s != buf)
        snprintf(buf, len, "%s", s);
    return buf;
}
