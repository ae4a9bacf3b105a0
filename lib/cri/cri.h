/* cri: a client of the Kubernetes Container Runtime Interface (runtime.v1) on the gRPC C core,
 * over a unix socket: what the CLI needs to have containerd's CRI plugin pull an image, which is
 * the pull that passes the CRI labels (cri.image-ref, cri.layer-digest, ...) to the snapshotter.
 * gRPC statuses become errors naming the method and the status: NOT_FOUND ENOENT, ALREADY_EXISTS
 * EEXIST, INVALID_ARGUMENT EINVAL, UNAVAILABLE EAGAIN, DEADLINE_EXCEEDED ETIMEDOUT, UNIMPLEMENTED
 * ENOTSUP, anything else EIO. */
#ifndef LZS_CRI_H
#define LZS_CRI_H

#include "base/base.h"

typedef struct lzs_cri lzs_cri;

/* A client of the CRI server listening on the unix socket at path (containerd's own socket). ns,
 * if not NULL, goes out as containerd-namespace metadata (containerd 1.6's CRI plugin works in
 * "k8s.io" whatever it is told). Fails only if path is not a socket: the connection is made by
 * the first call. */
int lzs_cri_connect(lzs_cri **out, const char *path, const char *ns, lzs_error **err);
/* ImageService/PullImage of ref, waiting up to timeout_s seconds (0: 30 minutes). *image_ref
 * (malloc'd) is what the runtime answers: containerd gives the image id (sha256:...). */
int lzs_cri_pull_image(lzs_cri *c, const char *ref, unsigned timeout_s, char **image_ref,
                       lzs_error **err);
/* NULL-safe. */
void lzs_cri_close(lzs_cri *c);

#endif
