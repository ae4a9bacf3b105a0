/* The gRPC plumbing: a server on a unix socket, worker threads that each own a completion queue
 * and take one call at a time (request, receive, handle, reply, status). */
#include "rpc_i.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_WORKERS 16
#define BATCH_TIMEOUT_S 120
#define METHOD_PREFIX "/containerd.services.snapshots.v1.Snapshots/"

struct rpc_worker {
    lzs_rpc_server *srv;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool started;
};

struct lzs_rpc_server {
    grpc_server *server;
    grpc_completion_queue *shutdown_cq;
    struct rpc_worker *workers;
    unsigned n;
    char *path;
    lzs_snapshotter *sn;
};

/* One batch on the worker's queue, waited for (the worker has nothing else in flight). A client
 * that stops reading holds a worker at most BATCH_TIMEOUT_S: then its call is cancelled. */
static bool run_batch(struct rpc_worker *w, grpc_call *call, const grpc_op *ops, size_t n)
{
    if (grpc_call_start_batch(call, ops, n, (void *)ops, NULL) != GRPC_CALL_OK)
        return false;
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_seconds(BATCH_TIMEOUT_S, GPR_TIMESPAN));
    grpc_event ev = grpc_completion_queue_next(w->cq, deadline, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        LZS_WARN("rpc: a client stopped reading for %d s: cancelling its call", BATCH_TIMEOUT_S);
        grpc_call_cancel(call, NULL);
        grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        return false;
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

int rpc_reply(struct rpc_call *c, const ProtobufCMessage *m, lzs_error **err)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    lzs_autofree uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return lzs_error_set(err, ENOMEM, "out of memory");
    protobuf_c_message_pack(m, buf);
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)buf, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    grpc_op ops[2] = {0};
    size_t k = 0;
    if (!c->sent_initial)
        ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[k].op = GRPC_OP_SEND_MESSAGE;
    ops[k++].data.send_message.send_message = bb;
    bool ok = run_batch(c->worker, c->grpc_call, ops, k);
    grpc_byte_buffer_destroy(bb);
    c->sent_initial = true;
    return ok ? 0 : lzs_error_set(err, ECANCELED, "the client went away");
}

static grpc_status_code status_of(int rc)
{
    switch (-rc) {
    case 0:
        return GRPC_STATUS_OK;
    case ENOENT:
        return GRPC_STATUS_NOT_FOUND;
    case EEXIST:
        return GRPC_STATUS_ALREADY_EXISTS;
    case EINVAL:
        return GRPC_STATUS_INVALID_ARGUMENT;
    case EBUSY:
        return GRPC_STATUS_FAILED_PRECONDITION;
    case ENOTSUP:
        return GRPC_STATUS_UNIMPLEMENTED;
    case EAGAIN:
        return GRPC_STATUS_UNAVAILABLE;
    case ECANCELED:
        return GRPC_STATUS_CANCELLED;
    default:
        return GRPC_STATUS_UNKNOWN;
    }
}

static void send_status(struct rpc_call *c, int rc, const char *msg)
{
    grpc_slice details = grpc_slice_from_copied_buffer(msg, strlen(msg));
    int close_cancelled = 0;
    grpc_op ops[3] = {0};
    size_t k = 0;
    if (!c->sent_initial)
        ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[k].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[k].data.send_status_from_server.status = status_of(rc);
    ops[k++].data.send_status_from_server.status_details = &details;
    ops[k].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    ops[k++].data.recv_close_on_server.cancelled = &close_cancelled;
    run_batch(c->worker, c->grpc_call, ops, k);
    grpc_slice_unref(details);
}

/* The request's bytes (malloc'd) from its byte buffer. */
static uint8_t *read_all(grpc_byte_buffer *bb, size_t *n)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    *n = GRPC_SLICE_LENGTH(s);
    uint8_t *p = malloc(*n ? *n : 1);
    if (p)
        memcpy(p, GRPC_SLICE_START_PTR(s), *n);
    grpc_slice_unref(s);
    return p;
}

static const char *namespace_of(const grpc_metadata_array *md, char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < md->count; i++) {
        const grpc_slice *k = &md->metadata[i].key, *v = &md->metadata[i].value;
        if (GRPC_SLICE_LENGTH(*k) == strlen("containerd-namespace") &&
            memcmp(GRPC_SLICE_START_PTR(*k), "containerd-namespace", GRPC_SLICE_LENGTH(*k)) == 0)
            snprintf(buf, len, "%.*s", (int)GRPC_SLICE_LENGTH(*v),
                     (const char *)GRPC_SLICE_START_PTR(*v));
    }
    return buf;
}

/* Receive the request, run the method's handler, send the status. */
static void handle(struct rpc_worker *w, grpc_call *call, const grpc_call_details *d,
                   const grpc_metadata_array *md)
{
    char ns[256];
    struct rpc_call c = {.worker = w, .grpc_call = call, .ns = namespace_of(md, ns, sizeof(ns))};
    grpc_byte_buffer *req = NULL;
    grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
    op.data.recv_message.recv_message = &req;
    lzs_autoerr lzs_error *err = NULL;
    int rc = 0;
    size_t mlen = GRPC_SLICE_LENGTH(d->method), plen = strlen(METHOD_PREFIX);
    const char *method = (const char *)GRPC_SLICE_START_PTR(d->method);
    rpc_handler h = mlen > plen && memcmp(method, METHOD_PREFIX, plen) == 0
                        ? rpc_snapshots_handler(method + plen, mlen - plen)
                        : NULL;
    if (!h)
        rc = lzs_error_set(&err, ENOTSUP, "unknown method %.*s", (int)mlen, method);
    if (rc == 0 && (!run_batch(w, call, &op, 1) || !req))
        rc = lzs_error_set(&err, EINVAL, "%.*s: no request message", (int)mlen, method);
    size_t n = 0;
    lzs_autofree uint8_t *bytes = rc == 0 ? read_all(req, &n) : NULL;
    if (rc == 0 && !bytes)
        rc = lzs_error_set(&err, ENOMEM, "out of memory");
    if (rc == 0)
        rc = h(w->srv->sn, &c, bytes, n, &err);
    if (rc < 0)
        LZS_DEBUG("%.*s (namespace '%s'): %s", (int)mlen, method, c.ns, lzs_error_msg(err));
    send_status(&c, rc, rc < 0 ? lzs_error_msg(err) : "");
    if (req)
        grpc_byte_buffer_destroy(req);
}

static void *worker_main(void *arg)
{
    struct rpc_worker *w = arg;
    for (;;) {
        grpc_call *call = NULL;
        grpc_call_details d;
        grpc_metadata_array md;
        grpc_call_details_init(&d);
        grpc_metadata_array_init(&md);
        bool ok = grpc_server_request_call(w->srv->server, &call, &d, &md, w->cq, w->cq, w) ==
                  GRPC_CALL_OK;
        if (ok) {
            grpc_event ev =
                grpc_completion_queue_next(w->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
            ok = ev.type == GRPC_OP_COMPLETE && ev.success; /* false: the server shuts down */
        }
        if (ok)
            handle(w, call, &d, &md);
        if (call)
            grpc_call_unref(call);
        grpc_call_details_destroy(&d);
        grpc_metadata_array_destroy(&md);
        if (!ok)
            return NULL;
    }
}

static void drain_and_destroy(grpc_completion_queue *cq)
{
    if (!cq)
        return;
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* Create the server, its queues and its listening socket (not started). */
static int listen_on(lzs_rpc_server *s, lzs_error **err)
{
    s->server = grpc_server_create(NULL, NULL);
    s->shutdown_cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(s->server, s->shutdown_cq, NULL);
    for (unsigned i = 0; i < s->n; i++) {
        s->workers[i] = (struct rpc_worker){.srv = s};
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq, NULL);
    }
    if (unlink(s->path) < 0 && errno != ENOENT)
        return lzs_error_set_sys(err, errno, "remove the stale socket %s", s->path);
    char addr[4200];
    snprintf(addr, sizeof(addr), "unix:%s", s->path);
    grpc_server_credentials *creds = grpc_insecure_server_credentials_create();
    int port = grpc_server_add_http2_port(s->server, addr, creds);
    grpc_server_credentials_release(creds);
    if (port == 0)
        return lzs_error_set(err, EADDRNOTAVAIL, "cannot listen on %s", addr);
    if (chmod(s->path, 0660) < 0)
        return lzs_error_set_sys(err, errno, "chmod %s", s->path);
    return 0;
}

int lzs_rpc_server_start(lzs_rpc_server **out, const char *path, lzs_snapshotter *sn,
                         const struct lzs_rpc_opts *opts, lzs_error **err)
{
    lzs_rpc_server *s = calloc(1, sizeof(*s));
    if (!s)
        return lzs_error_set(err, ENOMEM, "out of memory");
    grpc_init();
    s->sn = sn;
    s->n = opts && opts->workers ? opts->workers : DEFAULT_WORKERS;
    s->path = strdup(path);
    s->workers = lzs_calloc_array(s->n, sizeof(*s->workers));
    int rc =
        !s->path || !s->workers ? lzs_error_set(err, ENOMEM, "out of memory") : listen_on(s, err);
    if (rc == 0)
        grpc_server_start(s->server);
    for (unsigned i = 0; rc == 0 && i < s->n; i++) {
        int e = pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]);
        if (e != 0)
            rc = lzs_error_set_sys(err, e, "start an rpc worker");
        s->workers[i].started = e == 0;
    }
    if (rc < 0) {
        lzs_rpc_server_stop(s);
        return rc;
    }
    *out = s;
    return 0;
}

void lzs_rpc_server_stop(lzs_rpc_server *s)
{
    if (!s)
        return;
    if (s->server) {
        grpc_server_shutdown_and_notify(s->server, s->shutdown_cq, s);
        grpc_server_cancel_all_calls(s->server);
        grpc_completion_queue_next(s->shutdown_cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    for (unsigned i = 0; s->workers && i < s->n; i++)
        if (s->workers[i].started)
            pthread_join(s->workers[i].thread, NULL);
    if (s->server)
        grpc_server_destroy(s->server);
    for (unsigned i = 0; s->workers && i < s->n; i++)
        drain_and_destroy(s->workers[i].cq);
    drain_and_destroy(s->shutdown_cq);
    if (s->path)
        unlink(s->path);
    free(s->workers);
    free(s->path);
    free(s);
    grpc_shutdown();
}
