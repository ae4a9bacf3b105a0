#!/usr/bin/env bash
# The CRI rig with containerd's own overlayfs snapshotter, no lazysnap daemon: a registry on
# 127.0.0.1, containerd 1.6 (lib/containerd.sh), a busybox image pulled through CRI by
# `lazysnap pull` (the C client), then a host-network pod running one container whose output
# and exit code are checked, then container, pod and image removed.
# Usage: cri_overlayfs.sh LAZYSNAP    (root; exit 77 when not root)
# shellcheck disable=SC2119  # rig_registry and ctd_pause_image take no arguments here
set -euo pipefail
lz=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: containerd and runc need root"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib/rig.sh
. "$here/lib/rig.sh"
# shellcheck source-path=SCRIPTDIR source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source-path=SCRIPTDIR source=lib/check.sh
. "$here/lib/check.sh"

start=$SECONDS
rig_init
cd "$RIG_TMP"
rig_registry
ctd_pause_image

# the app image: busybox, plus a layer with a file the container prints
ctd_busybox_dir "$RIG_TMP/bb"
mkdir -p "$RIG_TMP/app/data"
echo "hello from a lazysnap CRI test" >"$RIG_TMP/app/data/greeting"
rig_image_build "$RIG_TMP/app-oci:1" "$RIG_TMP/bb" "$RIG_TMP/app"
rig_image_push "$RIG_TMP/app-oci:1" "$RIG_REG/test/app:1"
image="$RIG_REG/test/app:1"

CTD_SNAPSHOTTER=overlayfs ctd_start

# pull through CRI with the C client
id=$("$lz" pull "$image" --address "$CTD_SOCK")
check "lazysnap pull prints an image id" grep -qE '^sha256:[0-9a-f]{64}$' <<<"$id"
check "the image is known to CRI" test "$(ctd_cri inspecti "$image")" = "$id"
check "the image is listed" grep -qF "$image" < <(ctd_cri images)
# an absent image: exit 1, one line naming the method and the status
expect_fail 1 'ImageService/PullImage: [A-Z_]+: .*not found' \
    "$lz" pull "$RIG_REG/test/absent:1" --address "$CTD_SOCK"

# a pod and a container
pod=$(ctd_cri runp cri-overlayfs)
# shellcheck disable=SC2016  # expanded by the container's shell
cid=$(ctd_cri create "$pod" "$image" --name app -- \
    /bin/sh -c 'cat /data/greeting; echo "rootfs: $(ls /bin/busybox)"; exit 7')
ctd_cri start "$cid"
code=$(ctd_cri wait "$cid" --timeout 60)
check "the container exits 7" test "$code" = 7
logs=$(ctd_cri logs "$cid")
check "its output is in the log file" grep -qx "hello from a lazysnap CRI test" <<<"$logs"
check "  with its rootfs from the image" grep -qx "rootfs: /bin/busybox" <<<"$logs"
check "the snapshots are overlayfs's" \
    test -n "$(ls -A "$CTD_DIR/root/io.containerd.snapshotter.v1.overlayfs/snapshots")"

# tear down through CRI
ctd_cri rm "$cid"
ctd_cri stopp "$pod"
ctd_cri rmp "$pod"
ctd_cri rmi "$image"
check "the image is gone" test -z "$(ctd_cri inspecti "$image" 2>/dev/null)"
check "no container is left in runc" test -z "$(runc --root "$CTD_DIR/runc/k8s.io" list -q 2>/dev/null)"

echo "took $((SECONDS - start)) s"
check_done
