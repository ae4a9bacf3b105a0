/* A CRI client on the gRPC C core: one channel and one completion queue per client, unary calls
 * made as one batch (send metadata, message and close; receive metadata, message and status) and
 * plucked from the queue; the call's deadline bounds the wait. */
#include "cri/cri.h"

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <k8s/cri/v1/api.pb-c.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PULL_TIMEOUT_S (30 * 60)
#define MAX_DETAILS 4096

struct lzs_cri {
    grpc_channel *channel;
    grpc_completion_queue *cq;
    char *ns; /* NULL: no containerd-namespace metadata */
    char *target;
};

/* What one unary call sends and receives. */
struct cri_call {
    const char *method; /* "/runtime.v1.ImageService/PullImage" */
    const ProtobufCMessage *req;
    const ProtobufCMessageDescriptor *resp_desc;
    unsigned timeout_s;
};

static int errno_of(grpc_status_code code)
{
    switch (code) {
    case GRPC_STATUS_NOT_FOUND:
        return ENOENT;
    case GRPC_STATUS_ALREADY_EXISTS:
        return EEXIST;
    case GRPC_STATUS_INVALID_ARGUMENT:
        return EINVAL;
    case GRPC_STATUS_UNAVAILABLE:
        return EAGAIN;
    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return ETIMEDOUT;
    case GRPC_STATUS_UNIMPLEMENTED:
        return ENOTSUP;
    case GRPC_STATUS_CANCELLED:
        return ECANCELED;
    default:
        return EIO;
    }
}

static const char *status_name(grpc_status_code code)
{
    static const char *const names[] = {
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    };
    return (unsigned)code < LZS_ARRAY_SIZE(names) ? names[code] : "UNKNOWN";
}

int lzs_cri_connect(lzs_cri **out, const char *path, const char *ns, lzs_error **err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return lzs_error_set_sys(err, errno, "CRI socket %s", path);
    if (!S_ISSOCK(st.st_mode))
        return lzs_error_set(err, EINVAL, "CRI socket %s: not a socket", path);
    lzs_cri *c = calloc(1, sizeof(*c));
    size_t n = strlen(path) + sizeof("unix:");
    if (!c || !(c->target = malloc(n)) || (ns && !(c->ns = strdup(ns)))) {
        lzs_cri_close(c);
        return lzs_error_set(err, ENOMEM, "out of memory");
    }
    snprintf(c->target, n, "unix:%s", path);
    grpc_init();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    c->channel = grpc_channel_create(c->target, creds, NULL);
    grpc_channel_credentials_release(creds);
    c->cq = grpc_completion_queue_create_for_pluck(NULL);
    *out = c;
    return 0;
}

void lzs_cri_close(lzs_cri *c)
{
    if (!c)
        return;
    if (c->channel) {
        grpc_channel_destroy(c->channel);
        grpc_completion_queue_shutdown(c->cq);
        /* every call was waited for: the queue is empty and reports its shutdown at once */
        grpc_completion_queue_pluck(c->cq, c, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        grpc_completion_queue_destroy(c->cq);
        grpc_shutdown();
    }
    free(c->ns);
    free(c->target);
    free(c);
}

static grpc_byte_buffer *pack(const ProtobufCMessage *m)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    lzs_autofree uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NULL;
    protobuf_c_message_pack(m, buf);
    grpc_slice slice = grpc_slice_from_copied_buffer((const char *)buf, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

static ProtobufCMessage *unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader r;
    if (!grpc_byte_buffer_reader_init(&r, bb))
        return NULL;
    grpc_slice s = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

/* The received part of a call, released by call_result_dispose. */
struct call_result {
    grpc_metadata_array initial, trailing;
    grpc_byte_buffer *resp;
    grpc_status_code status;
    grpc_slice details;
    const char *error_string;
};

static void call_result_dispose(struct call_result *r)
{
    grpc_metadata_array_destroy(&r->initial);
    grpc_metadata_array_destroy(&r->trailing);
    if (r->resp)
        grpc_byte_buffer_destroy(r->resp);
    grpc_slice_unref(r->details);
    gpr_free((void *)r->error_string);
}

/* Run the call's one batch and wait for it; false if the batch could not run at all. */
static bool run_batch(lzs_cri *c, grpc_call *call, grpc_byte_buffer *req, struct call_result *r)
{
    grpc_metadata md = {.key = grpc_slice_from_static_string("containerd-namespace"),
                        .value = grpc_slice_from_static_string(c->ns ? c->ns : "")};
    grpc_op ops[6] = {0};
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = c->ns ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &r->initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &r->resp;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &r->trailing;
    ops[5].data.recv_status_on_client.status = &r->status;
    ops[5].data.recv_status_on_client.status_details = &r->details;
    ops[5].data.recv_status_on_client.error_string = &r->error_string;
    if (grpc_call_start_batch(call, ops, LZS_ARRAY_SIZE(ops), r, NULL) != GRPC_CALL_OK)
        return false;
    grpc_event ev = grpc_completion_queue_pluck(c->cq, r, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    return ev.type == GRPC_OP_COMPLETE;
}

/* "METHOD: STATUS: details", on one line. */
static int status_error(const char *method, const struct call_result *r, lzs_error **err)
{
    size_t n = GRPC_SLICE_LENGTH(r->details);
    char details[MAX_DETAILS];
    n = n < sizeof(details) - 1 ? n : sizeof(details) - 1;
    memcpy(details, GRPC_SLICE_START_PTR(r->details), n);
    details[n] = '\0';
    for (char *p = details; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return lzs_error_set(err, errno_of(r->status), "%s: %s: %s", method + 1, status_name(r->status),
                         n ? details : "(no details)");
}

/* One unary call; *out is the unpacked response (free with protobuf_c_message_free_unpacked). */
static int unary(lzs_cri *c, const struct cri_call *k, ProtobufCMessage **out, lzs_error **err)
{
    grpc_byte_buffer *req = pack(k->req);
    if (!req)
        return lzs_error_set(err, ENOMEM, "out of memory");
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                         gpr_time_from_seconds(k->timeout_s, GPR_TIMESPAN));
    grpc_call *call =
        grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, c->cq,
                                 grpc_slice_from_static_string(k->method), NULL, deadline, NULL);
    struct call_result r = {.details = grpc_empty_slice()};
    grpc_metadata_array_init(&r.initial);
    grpc_metadata_array_init(&r.trailing);
    int rc = 0;
    if (!run_batch(c, call, req, &r))
        rc = lzs_error_set(err, EIO, "%s: the call could not be made", k->method + 1);
    else if (r.status != GRPC_STATUS_OK)
        rc = status_error(k->method, &r, err);
    else if (!r.resp || !(*out = unpack(r.resp, k->resp_desc)))
        rc = lzs_error_set(err, EPROTO, "%s: a response that does not decode", k->method + 1);
    call_result_dispose(&r);
    grpc_byte_buffer_destroy(req);
    grpc_call_unref(call);
    return rc;
}

int lzs_cri_pull_image(lzs_cri *c, const char *ref, unsigned timeout_s, char **image_ref,
                       lzs_error **err)
{
    Runtime__V1__ImageSpec spec = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__PullImageRequest req = RUNTIME__V1__PULL_IMAGE_REQUEST__INIT;
    spec.image = (char *)ref;
    req.image = &spec;
    const struct cri_call k = {
        .method = "/runtime.v1.ImageService/PullImage",
        .req = &req.base,
        .resp_desc = &runtime__v1__pull_image_response__descriptor,
        .timeout_s = timeout_s ? timeout_s : PULL_TIMEOUT_S,
    };
    ProtobufCMessage *m = NULL;
    int rc = unary(c, &k, &m, err);
    if (rc < 0)
        return lzs_error_wrap(err, "pull %s", ref);
    const Runtime__V1__PullImageResponse *resp = (const Runtime__V1__PullImageResponse *)m;
    *image_ref = strdup(resp->image_ref);
    protobuf_c_message_free_unpacked(m, NULL);
    return *image_ref ? 0 : lzs_error_set(err, ENOMEM, "out of memory");
}
