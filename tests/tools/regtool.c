/* regtool: a small driver over the registry client (lib/registry) for the integration tests.
 *
 *   regtool [OPTIONS] manifest REF                       body to stdout; digest and type to stderr
 *   regtool [OPTIONS] read REF DIGEST OFF LEN [OFF LEN]... the ranges, concatenated, to stdout
 *   regtool [OPTIONS] stream REF DIGEST                  the whole blob to stdout
 *   regtool [OPTIONS] stat REF DIGEST                    the blob's size to stdout
 *   regtool [OPTIONS] push-blob REF FILE                 uploads FILE; its digest to stdout
 *   regtool [OPTIONS] put-manifest REF MEDIATYPE FILE    PUT to REF's digest or tag; digest out
 *   regtool [OPTIONS] referrers REF DIGEST [TYPE]        the referrers index to stdout
 *
 * Options: --plain-http, --hosts-dir D, --docker-config D, --timeout-ms N, --retries N (0: none),
 * --stall-ms N, --stats ({"requests":N,"bytes_fetched":N,"retries":N} to stderr at exit),
 * --log-level L (default error), --pause-ms N (between ranges of read), --threads N (read: every
 * thread reads every range; all must agree).
 * Exit: 0, 1 with "regtool: MESSAGE" on stderr, 2 for usage errors. */
#include "base/base.h"
#include "oci/oci.h"
#include "registry/registry.h"

#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define BLOB_MAX (1ull << 32)

struct tool {
    struct lzs_registry_opts opts;
    bool stats;
    uint64_t pause_ms;
    unsigned threads;
    lzs_registry *reg;
    lzs_repo *repo;
    struct lzs_oci_ref ref;
};

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "regtool: %s%s%s (see the comment at the top of tests/tools/regtool.c)\n", what,
            arg ? " " : "", arg ? arg : "");
    return 2;
}

static int fail(lzs_error **err)
{
    fprintf(stderr, "regtool: %s\n", lzs_error_msg(*err));
    lzs_error_free(err);
    return 1;
}

static int write_out(const void *p, size_t n, lzs_error **err)
{
    if (n && fwrite(p, 1, n, stdout) != n)
        return lzs_error_set_sys(err, errno, "stdout");
    return 0;
}

static int parse_u64(const char *s, uint64_t *v, const char *what, lzs_error **err)
{
    int rc = lzs_parse_u64(s, v, err);
    return rc < 0 ? lzs_error_wrap(err, "%s", what) : 0;
}

/* ---- commands -------------------------------------------------------------------------------- */

static int cmd_manifest(struct tool *t, char **argv, lzs_error **err)
{
    (void)argv;
    char dg[LZS_DIGEST_STR_MAX];
    const char *reference = t->ref.has_digest ? lzs_digest_format(&t->ref.digest, dg) : t->ref.tag;
    struct lzs_repo_manifest m = {0};
    int rc = lzs_repo_get_manifest(t->repo, reference, NULL, &m, err);
    if (rc < 0)
        return rc;
    rc = write_out(m.body.data, m.body.len, err);
    fprintf(stderr, "%s %s\n", lzs_digest_format(&m.digest, dg), m.content_type);
    lzs_repo_manifest_dispose(&m);
    return rc;
}

struct reader {
    struct tool *t;
    struct lzs_digest d;
    uint64_t *offs, *lens;
    size_t nranges;
    char *out; /* every range, concatenated */
    size_t total;
    int rc;
    lzs_error *err;
};

static void pause_ms(uint64_t ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    size_t at = 0;
    for (size_t i = 0; i < rd->nranges && rd->rc == 0; i++) {
        if (i > 0 && rd->t->pause_ms)
            pause_ms(rd->t->pause_ms);
        rd->rc = lzs_repo_blob_read(rd->t->repo, &rd->d, rd->out + at, (size_t)rd->lens[i],
                                    rd->offs[i], &rd->err);
        at += (size_t)rd->lens[i];
    }
    return NULL;
}

static int parse_ranges(struct reader *rd, int argc, char **argv, lzs_error **err)
{
    rd->nranges = (size_t)argc / 2;
    rd->offs = lzs_calloc_array(rd->nranges, sizeof(uint64_t));
    rd->lens = lzs_calloc_array(rd->nranges, sizeof(uint64_t));
    if (!rd->offs || !rd->lens)
        return lzs_error_set(err, ENOMEM, "out of memory");
    for (size_t i = 0; i < rd->nranges; i++) {
        int rc = parse_u64(argv[2 * i], &rd->offs[i], "offset", err);
        if (rc == 0)
            rc = parse_u64(argv[2 * i + 1], &rd->lens[i], "length", err);
        if (rc == 0 && (rd->total += rd->lens[i]) > BLOB_MAX)
            rc = lzs_error_set(err, EINVAL, "ranges of more than %llu bytes", BLOB_MAX);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int run_readers(struct reader *rds, unsigned n, lzs_error **err)
{
    pthread_t th[64];
    for (unsigned i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, reader_main, &rds[i]) != 0)
            return lzs_error_set(err, EAGAIN, "pthread_create failed");
    for (unsigned i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    for (unsigned i = 0; i < n; i++) {
        if (rds[i].rc < 0) {
            *err = lzs_steal_ptr(&rds[i].err);
            return rds[i].rc;
        }
        if (i > 0 && memcmp(rds[i].out, rds[0].out, rds[0].total) != 0)
            return lzs_error_set(err, EIO, "threads 0 and %u read different bytes", i);
    }
    return write_out(rds[0].out, rds[0].total, err);
}

static int cmd_read(struct tool *t, int argc, char **argv, lzs_error **err)
{
    if (argc < 4 || argc % 2 != 0)
        return lzs_error_set(err, EINVAL, "read REF DIGEST OFF LEN [OFF LEN]...");
    struct reader rds[64] = {0};
    int rc = 0;
    for (unsigned i = 0; i < t->threads && rc == 0; i++) {
        rds[i].t = t;
        rc = lzs_digest_parse(&rds[i].d, argv[1], err);
        if (rc == 0)
            rc = parse_ranges(&rds[i], argc - 2, argv + 2, err);
        if (rc == 0 && !(rds[i].out = malloc(rds[i].total ? rds[i].total : 1)))
            rc = lzs_error_set(err, ENOMEM, "out of memory");
    }
    if (rc == 0)
        rc = run_readers(rds, t->threads, err);
    for (unsigned i = 0; i < t->threads; i++) {
        free(rds[i].offs), free(rds[i].lens), free(rds[i].out);
        lzs_error_free(&rds[i].err);
    }
    return rc;
}

/* The whole blob, its digest verified as the stream's callers do; bytes are written out as they
 * come (a mismatch is reported at the end). */
static int cmd_stream(struct tool *t, char **argv, lzs_error **err)
{
    struct lzs_digest d, got;
    int rc = lzs_digest_parse(&d, argv[1], err);
    lzs_cleanup(lzs_repo_stream_closep) lzs_repo_stream *s = NULL;
    lzs_cleanup(lzs_hasher_freep) lzs_hasher *h = NULL;
    if (rc == 0)
        rc = lzs_hasher_new(&h, d.algo, err);
    if (rc == 0)
        rc = lzs_repo_stream_open(&s, t->repo, &d, err);
    static char buf[256 * 1024];
    uint64_t total = 0;
    for (ssize_t n = 1; rc == 0 && n > 0;) {
        n = lzs_repo_stream_read(s, buf, sizeof(buf), err);
        rc = n < 0 ? (int)n : write_out(buf, (size_t)n, err);
        if (n > 0)
            lzs_hasher_update(h, buf, (size_t)n), total += (uint64_t)n;
    }
    if (rc == 0 && lzs_repo_stream_size(s) != total)
        rc = lzs_error_set(err, EPROTO, "stream size %" PRIu64 " but %" PRIu64 " bytes read",
                           lzs_repo_stream_size(s), total);
    if (rc == 0)
        lzs_hasher_final(h, &got);
    if (rc == 0 && !lzs_digest_is_equal(&d, &got)) {
        char a[LZS_DIGEST_STR_MAX], b[LZS_DIGEST_STR_MAX];
        rc = lzs_error_set(err, EBADMSG, "stream of %s: digest mismatch: got %s",
                           lzs_digest_format(&d, a), lzs_digest_format(&got, b));
    }
    return rc;
}

static int cmd_stat(struct tool *t, char **argv, lzs_error **err)
{
    struct lzs_digest d;
    uint64_t size = 0;
    int rc = lzs_digest_parse(&d, argv[1], err);
    if (rc == 0)
        rc = lzs_repo_blob_stat(t->repo, &d, &size, err);
    if (rc == 0)
        printf("%" PRIu64 "\n", size);
    return rc;
}

static int read_file(const char *path, struct lzs_buf *b, struct lzs_digest *d, lzs_error **err)
{
    lzs_buf_init(b, BLOB_MAX);
    int rc = lzs_file_read_all(path, b, err);
    if (rc == 0)
        rc = lzs_digest_buf(LZS_DIGEST_SHA256, lzs_buf_cstr(b), b->len, d, err);
    return rc;
}

static int cmd_push_blob(struct tool *t, char **argv, lzs_error **err)
{
    struct lzs_buf b;
    struct lzs_digest d;
    char dg[LZS_DIGEST_STR_MAX];
    int rc = read_file(argv[1], &b, &d, err);
    if (rc == 0)
        rc = lzs_repo_blob_push(t->repo, &d, lzs_buf_cstr(&b), b.len, err);
    if (rc == 0)
        printf("%s\n", lzs_digest_format(&d, dg));
    lzs_buf_dispose(&b);
    return rc;
}

static int cmd_put_manifest(struct tool *t, char **argv, lzs_error **err)
{
    struct lzs_buf b;
    struct lzs_digest d;
    char dg[LZS_DIGEST_STR_MAX];
    int rc = read_file(argv[2], &b, &d, err);
    const char *reference = t->ref.has_digest ? lzs_digest_format(&t->ref.digest, dg) : t->ref.tag;
    if (rc == 0)
        rc = lzs_repo_put_manifest(t->repo, reference, argv[1], lzs_buf_cstr(&b), b.len, err);
    if (rc == 0)
        printf("%s\n", lzs_digest_format(&d, dg));
    lzs_buf_dispose(&b);
    return rc;
}

static int cmd_referrers(struct tool *t, int argc, char **argv, lzs_error **err)
{
    struct lzs_digest d;
    struct lzs_repo_manifest m = {0};
    int rc = lzs_digest_parse(&d, argv[1], err);
    if (rc == 0)
        rc = lzs_repo_get_referrers(t->repo, &d, argc > 2 ? argv[2] : NULL, &m, err);
    if (rc == 0)
        rc = write_out(m.body.data, m.body.len, err);
    lzs_repo_manifest_dispose(&m);
    return rc;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int run(struct tool *t, int argc, char **argv, lzs_error **err)
{
    const char *cmd = argv[0];
    argc--, argv++;
    if (strcmp(cmd, "manifest") == 0 && argc == 1)
        return cmd_manifest(t, argv, err);
    if (strcmp(cmd, "read") == 0)
        return cmd_read(t, argc, argv, err);
    if (strcmp(cmd, "stream") == 0 && argc == 2)
        return cmd_stream(t, argv, err);
    if (strcmp(cmd, "stat") == 0 && argc == 2)
        return cmd_stat(t, argv, err);
    if (strcmp(cmd, "push-blob") == 0 && argc == 2)
        return cmd_push_blob(t, argv, err);
    if (strcmp(cmd, "put-manifest") == 0 && argc == 3)
        return cmd_put_manifest(t, argv, err);
    if (strcmp(cmd, "referrers") == 0 && (argc == 2 || argc == 3))
        return cmd_referrers(t, argc, argv, err);
    return lzs_error_set(err, EINVAL, "unknown command or wrong arguments: %s", cmd);
}

static int parse_opts(struct tool *t, int argc, char **argv)
{
    static const struct option longs[] = {
        {"plain-http", no_argument, NULL, 'p'},
        {"hosts-dir", required_argument, NULL, 'H'},
        {"docker-config", required_argument, NULL, 'D'},
        {"timeout-ms", required_argument, NULL, 't'},
        {"retries", required_argument, NULL, 'r'},
        {"stall-ms", required_argument, NULL, 's'},
        {"stats", no_argument, NULL, 'S'},
        {"log-level", required_argument, NULL, 'l'},
        {"pause-ms", required_argument, NULL, 'P'},
        {"threads", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v = 0;
    enum lzs_log_level level;
    for (int c; (c = getopt_long(argc, argv, "+", longs, NULL)) != -1;) {
        if (strchr("trsPT", c) && lzs_parse_u64(optarg, &v, NULL) < 0)
            return usage("bad number:", optarg);
        switch (c) {
        case 'p':
            t->opts.plain_http = true;
            break;
        case 'H':
            t->opts.hosts_dir = optarg;
            break;
        case 'D':
            t->opts.docker_config = optarg;
            break;
        case 't':
            t->opts.timeout_ms = v;
            break;
        case 'r':
            t->opts.retries = (unsigned)v, t->opts.no_retries = v == 0;
            break;
        case 's':
            t->opts.stall_ms = v;
            break;
        case 'S':
            t->stats = true;
            break;
        case 'l':
            if (lzs_log_level_parse(optarg, &level) < 0)
                return usage("bad log level:", optarg);
            lzs_log_set_level(level);
            break;
        case 'P':
            t->pause_ms = v;
            break;
        case 'T':
            if (v < 1 || v > 64)
                return usage("--threads takes 1 to 64, not", optarg);
            t->threads = (unsigned)v;
            break;
        default:
            return usage("bad option", NULL);
        }
    }
    return optind < argc - 1 ? 0 : usage("missing command or reference", NULL);
}

static void print_stats(const struct tool *t)
{
    struct lzs_registry_stats s;
    lzs_registry_stats(t->reg, &s);
    fprintf(stderr,
            "{\"requests\":%" PRIu64 ",\"bytes_fetched\":%" PRIu64 ",\"retries\":%" PRIu64 "}\n",
            s.requests, s.bytes_fetched, s.retries);
}

int main(int argc, char **argv)
{
    struct tool t = {.threads = 1};
    lzs_log_set_level(LZS_LOG_ERROR);
    int rc = parse_opts(&t, argc, argv);
    if (rc != 0)
        return rc;
    lzs_error *err = NULL;
    argc -= optind, argv += optind;
    rc = lzs_oci_ref_parse(&t.ref, argv[1], &err);
    if (rc == 0)
        rc = lzs_registry_new(&t.reg, &t.opts, &err);
    if (rc == 0)
        rc = lzs_repo_open(&t.repo, t.reg, &t.ref, &err);
    if (rc == 0)
        rc = run(&t, argc, argv, &err);
    if (rc == 0 && (fflush(stdout) != 0 || ferror(stdout)))
        rc = lzs_error_set_sys(&err, errno ? errno : EIO, "stdout");
    int status = rc < 0 ? fail(&err) : 0;
    if (t.stats && t.reg)
        print_stats(&t);
    lzs_repo_unref(t.repo);
    lzs_registry_free(t.reg);
    return status;
}
