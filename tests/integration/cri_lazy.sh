#!/usr/bin/env bash
# End to end: containerd 1.6 + runc with lazysnapd as its CRI snapshotter (proxy plugin), images
# pulled through CRI by `lazysnap pull`, on a registry on 127.0.0.1:
#   1. an indexed image: no layer blob enters containerd's content store, its layers are FUSE
#      mounts of lazysnapd, a container reads a file from each and its output is checked
#   2. an image without indexes: containerd pulls and unpacks it through lazysnapd as usual
#   3. an image whose base layer is indexed and upper layer is not: one mounted, one unpacked
#      (containerd 1.6 fetches every layer above the first one it must unpack), the container
#      runs
#   4. lazysnapd restarted between pull and run: it unmounts on SIGTERM, mounts again at start,
#      and the container still runs
#   5. removing the images (and their pods) leaves no layer mounted
# Usage: cri_lazy.sh LAZYSNAP LAZYSNAPD    (root; exit 77 when not root)
set -euo pipefail
lz=$(realpath "$1")
lzd=$(realpath "$2")
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: containerd, runc and FUSE mounts need root"
    exit 77
fi
# shellcheck source-path=SCRIPTDIR source=lib/rig.sh
. "$here/lib/rig.sh"
# shellcheck source-path=SCRIPTDIR source=lib/containerd.sh
. "$here/lib/containerd.sh"
# shellcheck source-path=SCRIPTDIR source=lib/lazysnapd.sh
. "$here/lib/lazysnapd.sh"
# shellcheck source-path=SCRIPTDIR source=lib/check.sh
. "$here/lib/check.sh"

start=$SECONDS
rig_init
cd "$RIG_TMP"
rig_registry
ctd_pause_image

# make_image NAME [base]: a busybox layer (with /etc/image = NAME, so no two images share a
# layer) and a data layer (/data/greeting), /data/big (12 MiB of random bytes, as much
# compressed) in the data layer, or with "base" in the busybox layer; pushed as
# $RIG_REG/test/NAME:1. Sets BIG_SUM (sha256 of /data/big).
make_image() {
    local name=$1 big_in=data-$1
    [ "${2:-}" != base ] || big_in=bb-$1
    rm -rf "bb-$name" "data-$name"
    ctd_busybox_dir "bb-$name"
    echo "$name" >"bb-$name/etc/image"
    mkdir -p "data-$name/data" "$big_in/data"
    echo "hello from $name" >"data-$name/data/greeting"
    head -c $((12 << 20)) /dev/urandom >"$big_in/data/big"
    BIG_SUM=$(sha256sum "$big_in/data/big" | cut -d' ' -f1)
    rig_image_build "oci-$name:1" "bb-$name" "data-$name"
    rig_image_push "oci-$name:1" "$RIG_REG/test/$name:1"
    rm -rf "bb-$name" "data-$name" "oci-$name"
}

# layer_blobs_in_store REF: how many of REF's layer blobs containerd's content store holds
layer_blobs_in_store() {
    local n=0 d
    for d in $(rig_layers "$1" | awk '{print $1}'); do
        if ctr -a "$CTD_SOCK" -n k8s.io content ls -q | grep -qx "$d"; then n=$((n + 1)); fi
    done
    echo "$n"
}

# remote_snapshots: how many of lazysnap's snapshots containerd shows with the remote label
remote_snapshots() {
    local k n=0
    for k in $(ctr -a "$CTD_SOCK" -n k8s.io snapshots --snapshotter lazysnap ls |
        awk 'NR > 1 && $NF == "Committed" {print $1}'); do
        if ctr -a "$CTD_SOCK" -n k8s.io snapshots --snapshotter lazysnap info "$k" |
            grep -q '"containerd.io/snapshot/remote"'; then n=$((n + 1)); fi
    done
    echo "$n"
}

# index_blob_gets REPO FROM: the blobs of REPO, other than its image's layers, that lazysnapd
# GET from the registry after line FROM of its log (its indexes), one digest per request
index_blob_gets() {
    local layers
    layers=$(rig_layers "$RIG_REG/$1:1" | awk '{print $1}')
    tail -n +"$2" "$RIG_REG_LOG" | grep 'msg="response completed"' | grep 'useragent="lazysnap/' |
        grep -o "uri=\"/v2/$1/blobs/sha256:[0-9a-f]*" | sed 's/.*blobs\///' |
        grep -vxF "$layers" || true
}

# run_in IMAGE CMD: a pod and a container of IMAGE running `sh -c CMD` (the pod retried while
# containerd reconnects to a restarted lazysnapd). Sets POD, CID and OUT (its output); its exit
# code goes to run.code.
run_in() {
    local image=$1 cmd=$2 i
    POD=""
    for ((i = 0; i < 20; i++)); do
        if POD=$(ctd_cri runp "pod-$RANDOM" 2>run.err); then break; fi
        sleep 0.5
    done
    [ -n "$POD" ] || { echo "runp: $(cat run.err)" >&2; return 1; }
    CID=$(ctd_cri create "$POD" "$image" --name app -- /bin/sh -c "$cmd")
    ctd_cri start "$CID"
    ctd_cri wait "$CID" --timeout 120 >run.code
    OUT=$(ctd_cri logs "$CID")
}

# remove_pod: the container and pod of the last run_in
remove_pod() {
    ctd_cri rm "$CID"
    ctd_cri stopp "$POD"
    ctd_cri rmp "$POD"
}

read_all='cat /etc/image /data/greeting; sha256sum /data/big | cut -c1-64'

make_image lazy
lazy_sum=$BIG_SUM
make_image plain
plain_sum=$BIG_SUM
make_image mixed base
mixed_sum=$BIG_SUM
make_image again
again_sum=$BIG_SUM
"$lz" index create "$RIG_REG/test/lazy:1" --min-layer-size 0 >index.out 2>&1
"$lz" index create "$RIG_REG/test/again:1" --min-layer-size 0 >>index.out 2>&1
"$lz" index create "$RIG_REG/test/mixed:1" --min-layer-size 4M >>index.out 2>&1
check "index create: 5 layers indexed" test "$(grep -c ' indexed: ' index.out)" -eq 5

lzd_start "$lzd" $'[index]\nmin_layer_size = "0"\n[fetch]\nbackground = false'
CTD_LAZYSNAP_SOCK=$LZD_SOCK CTD_SNAPSHOTTER=lazysnap ctd_start
echo "rig up in $((SECONDS - start)) s"

# ---- 1. an indexed image -------------------------------------------------------------------
reg_from=$(($(wc -l <"$RIG_REG_LOG") + 1))
"$lz" pull "$RIG_REG/test/lazy:1" --address "$CTD_SOCK" >/dev/null
check "1: no layer blob of the indexed image is in the content store" \
    test "$(layer_blobs_in_store "$RIG_REG/test/lazy:1")" -eq 0
check "1: its two layers are FUSE mounts of lazysnapd" test "$(lzd_fuse_mounts | wc -l)" -eq 2
check "1: containerd sees two remote snapshots (label containerd.io/snapshot/remote)" \
    test "$(remote_snapshots)" -eq 2
run_in "$RIG_REG/test/lazy:1" "$read_all"
check "1: the container ran (exit 0)" test "$(cat run.code)" = 0
check "1: it read /etc/image from the lazy busybox layer" grep -qx lazy <<<"$OUT"
check "1: it read /data/greeting" grep -qx "hello from lazy" <<<"$OUT"
check "1: /data/big came through intact (12 MiB)" grep -qx "$lazy_sum" <<<"$OUT"
check "1: each of its two indexes was fetched once (ahead, at the image's open; kept after)" \
    test "$(index_blob_gets test/lazy "$reg_from" | sort | uniq -c | awk '{printf "%s ", $1}')" = "1 1 "
remove_pod

# ---- 2. an image without indexes -------------------------------------------------------------
mounts_before=$(lzd_fuse_mounts | wc -l)
"$lz" pull "$RIG_REG/test/plain:1" --address "$CTD_SOCK" >/dev/null
check "2: containerd fetched both layer blobs of the unindexed image" \
    test "$(layer_blobs_in_store "$RIG_REG/test/plain:1")" -eq 2
check "2: nothing was mounted for it" test "$(lzd_fuse_mounts | wc -l)" -eq "$mounts_before"
run_in "$RIG_REG/test/plain:1" "$read_all"
check "2: the container ran (exit 0)" test "$(cat run.code)" = 0
check "2: its files are the image's" grep -qx "$plain_sum" <<<"$OUT"
remove_pod

# ---- 3. one layer indexed, one not -----------------------------------------------------------
"$lz" pull "$RIG_REG/test/mixed:1" --address "$CTD_SOCK" >/dev/null
check "3: only the unindexed upper layer's blob was fetched by containerd" \
    test "$(layer_blobs_in_store "$RIG_REG/test/mixed:1")" -eq 1
check "3: the indexed base layer is mounted" test "$(lzd_fuse_mounts | wc -l)" -eq $((mounts_before + 1))
run_in "$RIG_REG/test/mixed:1" "$read_all"
check "3: the container ran (exit 0)" test "$(cat run.code)" = 0
check "3: it read both layers" test "$(grep -cx -e mixed -e "hello from mixed" -e "$mixed_sum" <<<"$OUT")" -eq 3
remove_pod

# ---- 4. lazysnapd restarted between pull and run ---------------------------------------------
"$lz" pull "$RIG_REG/test/again:1" --address "$CTD_SOCK" >/dev/null
mounted=$(lzd_fuse_mounts | wc -l)
lzd_stop
check "4: lazysnapd unmounted its layers on SIGTERM" test "$(lzd_fuse_mounts | wc -l)" -eq 0
lzd_restart
check "4: and mounted them again when it started" test "$(lzd_fuse_mounts | wc -l)" -eq "$mounted"
check "4: saying so in its log" grep -q "remote snapshots mounted again: $mounted" "$LZD_LOG"
run_in "$RIG_REG/test/again:1" "$read_all"
check "4: the container ran after the restart (exit 0)" test "$(cat run.code)" = 0
check "4: and read its lazy layers" grep -qx "$again_sum" <<<"$OUT"
remove_pod

# ---- 5. removing the images frees the mounts -------------------------------------------------
for name in lazy plain mixed again; do ctd_cri rmi "$RIG_REG/test/$name:1"; done
for ((i = 0; i < 300; i++)); do # containerd's garbage collection removes the snapshots
    [ "$(lzd_fuse_mounts | wc -l)" -eq 0 ] && break
    sleep 0.2
done
check "5: no layer is mounted once the images are removed" test "$(lzd_fuse_mounts | wc -l)" -eq 0
left=$(ls "$LZD_ROOT/snapshots" | grep -cv '^[0-9]*$' || true)
check "5: no temporary snapshot directory is left" test "$left" -eq 0
ctd_stop
lzd_stop
check "5: lazysnapd logged no error" test "$(grep -c ' error ' "$LZD_LOG" || true)" -eq 0
check "5: and no sanitizer report (ASan/UBSan builds)" \
    test "$(grep -cE 'Sanitizer|runtime error' "$LZD_LOG" || true)" -eq 0

echo "took $((SECONDS - start)) s"
if [ "$failures" -ne 0 ]; then
    echo "--- lazysnapd's log ends with:"
    tail -n 40 "$LZD_LOG"
    echo "--- containerd's errors:"
    grep -E 'level=(error|warning)' "$CTD_LOG" | tail -n 20
fi
check_done
