/* rpc internals: server.c (gRPC plumbing) calls the handlers of snapshots.c, which answer through
 * rpc_reply; filter.c parses containerd's List filters. */
#ifndef LZS_RPC_I_H
#define LZS_RPC_I_H

#include "rpc/rpc.h"

#include <protobuf-c/protobuf-c.h>

/* One call being handled. */
struct rpc_call {
    struct rpc_worker *worker;
    void *grpc_call;
    const char *ns; /* containerd-namespace metadata, "" when absent */
    bool sent_initial;
};

/* Send one response message (pack m); a unary method replies once, List once per batch. */
int rpc_reply(struct rpc_call *c, const ProtobufCMessage *m, lzs_error **err);

typedef int (*rpc_handler)(lzs_snapshotter *sn, struct rpc_call *c, const uint8_t *req, size_t n,
                           lzs_error **err);
/* The handler of "/containerd.services.snapshots.v1.Snapshots/NAME", or NULL. */
rpc_handler rpc_snapshots_handler(const char *method, size_t len);

/* containerd's filters: a list of alternatives, each "a,b,c" (all must hold), each of field
 * (name, parent, kind, labels."KEY" or labels.KEY) then ==, != or ~= (regular expression), then
 * a value (bare or "quoted"); a bare field: it is present. */
typedef struct rpc_filter rpc_filter;
int rpc_filter_parse(rpc_filter **out, char *const *filters, size_t n, lzs_error **err);
bool rpc_filter_match(const rpc_filter *f, const struct lzs_snap_info *i);
void rpc_filter_free(rpc_filter *f);

#endif
