/* rpc: containerd's snapshots service (containerd.services.snapshots.v1.Snapshots) on the gRPC C
 * core, over a unix socket, serving a lib/snapshot snapshotter. Each of its worker threads owns a
 * completion queue and takes one call at a time, so a slow call (a remote layer being mounted)
 * holds up only its worker. Errors go out as the gRPC codes containerd's errdefs reads: ENOENT
 * NOT_FOUND, EEXIST ALREADY_EXISTS, EINVAL INVALID_ARGUMENT, EBUSY FAILED_PRECONDITION, ENOTSUP
 * UNIMPLEMENTED, EAGAIN UNAVAILABLE, anything else UNKNOWN. */
#ifndef LZS_RPC_H
#define LZS_RPC_H

#include "base/base.h"
#include "snapshot/snapshot.h"

struct lzs_rpc_opts {
    unsigned workers; /* concurrent calls; 0: 16 */
};

typedef struct lzs_rpc_server lzs_rpc_server;

/* Listen on the unix socket at path (replacing a stale one; mode 0660) and serve sn, which must
 * outlive the server. */
int lzs_rpc_server_start(lzs_rpc_server **out, const char *path, lzs_snapshotter *sn,
                         const struct lzs_rpc_opts *opts, lzs_error **err);
/* Stop taking calls, cancel those in flight, join the workers, remove the socket. NULL-safe. */
void lzs_rpc_server_stop(lzs_rpc_server *s);

#endif
