/* readlat: in-process cold read latency, as the FUSE daemon will see it. For each request
 * "PATH OFFSET LENGTH" on stdin: a new file reader (a cold decoder from the nearest checkpoint),
 * one read, timed. Prints one JSON object: {"reads":N,"p50_ms":..,"p99_ms":..,"mean_ms":..}.
 * Usage: readlat LAYER INDEX < requests */
#include "layer/layer.h"

#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int one_read(lzs_index *idx, lzs_blob *blob, const char *path, uint64_t off, size_t len,
                    uint8_t *buf, double *ms, lzs_error **err)
{
    uint32_t id;
    if (lzs_index_lookup(idx, path, &id) < 0)
        return lzs_error_set(err, ENOENT, "%s: not in the index", path);
    double t0 = now_ms();
    lzs_file_reader *r = NULL;
    int rc = lzs_file_reader_new(&r, idx, blob, id, err);
    ssize_t n = rc < 0 ? rc : lzs_file_reader_read(r, off, buf, len, err);
    *ms = now_ms() - t0;
    lzs_file_reader_free(r);
    return n < 0 ? (int)n : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: readlat LAYER INDEX < requests\n");
        return 2;
    }
    lzs_error *err = NULL;
    lzs_index *idx = NULL;
    lzs_blob *blob = NULL;
    static double ms[100000];
    static uint8_t buf[1 << 20];
    size_t n = 0;
    char path[4096];
    uint64_t off, len;
    int rc = lzs_index_open(&idx, argv[2], &err);
    if (rc == 0)
        rc = lzs_blob_open_file(&blob, argv[1], &err);
    while (rc == 0 && n < 100000 && scanf("%4095s %" SCNu64 " %" SCNu64, path, &off, &len) == 3 &&
           len <= sizeof(buf))
        rc = one_read(idx, blob, path, off, (size_t)len, buf, &ms[n++], &err);
    if (rc < 0 || n == 0) {
        fprintf(stderr, "readlat: %s\n", err ? err->msg : "no requests");
        return 1;
    }
    qsort(ms, n, sizeof(ms[0]), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += ms[i];
    printf("{\"reads\":%zu,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f}\n", n, ms[n / 2],
           ms[(size_t)((double)(n - 1) * 0.99)], sum / (double)n);
    lzs_blob_unref(blob);
    lzs_index_unref(idx);
    return 0;
}
