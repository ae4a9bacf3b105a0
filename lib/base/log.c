/* Logging: a level filter and one sink, serialised by a mutex. */
#include "base/base.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

static struct {
    pthread_mutex_t lock;
    _Atomic int level;
    enum lzs_log_format format; /* protected by lock */
    lzs_log_sink sink;          /* protected by lock */
    void *sink_data;            /* protected by lock */
} logger = {.lock = PTHREAD_MUTEX_INITIALIZER, .level = LZS_LOG_INFO, .format = LZS_LOG_TEXT};

void lzs_log_set_level(enum lzs_log_level level)
{
    atomic_store(&logger.level, (int)level);
}

bool lzs_log_is_enabled(enum lzs_log_level level)
{
    return (int)level <= atomic_load_explicit(&logger.level, memory_order_relaxed);
}

void lzs_log_set_format(enum lzs_log_format format)
{
    pthread_mutex_lock(&logger.lock);
    logger.format = format;
    pthread_mutex_unlock(&logger.lock);
}

void lzs_log_set_sink(lzs_log_sink sink, void *data)
{
    pthread_mutex_lock(&logger.lock);
    logger.sink = sink;
    logger.sink_data = data;
    pthread_mutex_unlock(&logger.lock);
}

int lzs_log_level_parse(const char *s, enum lzs_log_level *out)
{
    for (size_t i = 0; i < LZS_ARRAY_SIZE(level_names); i++) {
        if (s && strcmp(s, level_names[i]) == 0) {
            *out = (enum lzs_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

int lzs_log_set_option(const char *name, const char *value)
{
    enum lzs_log_level level;
    if (strcmp(name, "level") == 0 && lzs_log_level_parse(value, &level) == 0)
        lzs_log_set_level(level);
    else if (strcmp(name, "format") == 0 && strcmp(value, "text") == 0)
        lzs_log_set_format(LZS_LOG_TEXT);
    else if (strcmp(name, "format") == 0 && strcmp(value, "json") == 0)
        lzs_log_set_format(LZS_LOG_JSON);
    else
        return -EINVAL;
    return 0;
}

const char *lzs_log_level_name(enum lzs_log_level level)
{
    return (unsigned)level < LZS_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

/* RFC 3339 UTC with milliseconds. */
static void format_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_stderr(enum lzs_log_level level, const char *msg, enum lzs_log_format format)
{
    char now[40];
    format_now(now, sizeof(now));
    if (format == LZS_LOG_TEXT) {
        fprintf(stderr, "%s %s %s\n", now, lzs_log_level_name(level), msg);
        return;
    }
    struct lzs_buf b = LZS_BUF_INIT(64 * 1024);
    lzs_buf_printf(&b, NULL, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", now,
                   lzs_log_level_name(level));
    size_t n = strlen(msg);
    lzs_buf_append_json_str(&b, msg, n < 16384 ? n : 16384, NULL); /* escaped, fits 64 KiB */
    lzs_buf_append_str(&b, "}\n", NULL);
    fputs(lzs_buf_cstr(&b), stderr);
    lzs_buf_dispose(&b);
}

void lzs_log(enum lzs_log_level level, const char *fmt, ...)
{
    if (!lzs_log_is_enabled(level))
        return;
    char stackbuf[1024];
    char *msg = stackbuf, *heap = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stackbuf, sizeof(stackbuf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(stackbuf)) {
        va_start(ap, fmt);
        if (vasprintf(&heap, fmt, ap) >= 0)
            msg = heap;
        va_end(ap);
    }
    pthread_mutex_lock(&logger.lock);
    if (logger.sink)
        logger.sink(level, msg, logger.sink_data);
    else
        write_stderr(level, msg, logger.format);
    pthread_mutex_unlock(&logger.lock);
    free(heap);
}
