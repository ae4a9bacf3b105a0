#!/usr/bin/env bash
# lazysnap mount against a reference extraction. A rich 3-layer image (lib/rich_image.sh: file
# sizes up to a 30 MiB sparse file, odd modes and owners, symlinks, hardlinks, fifo, devices,
# user.* xattrs, past and nanosecond mtimes, whiteouts, an opaque directory, type replacements)
# is pushed to a registry on 127.0.0.1 three ways:
#   rich:gzip   gzip layers, indexed (lazysnap index create --push)
#   rich:zstd   the same layers as multi-frame zstd (512 KiB of tar per frame), indexed
#   noindex:1   the gzip image in a repository without any index (pulled whole)
# Each is mounted with `lazysnap mount`, must equal the reference tree (tests/tools/tree_compare.py
# --ignore-dir-mtime: names, types, contents, modes, owners, mtimes, symlinks, devices, xattrs,
# hardlink groups), `lazysnap stat` must answer, and `lazysnap umount` must leave no mount and no
# lazysnap process behind.
# The reference is the image's layers applied in order with GNU tar (tests/tools/oci_apply.py),
# checked here against `umoci unpack` of the gzip image (umoci 0.4.7 cannot read zstd layers).
# Usage: mount_oracle.sh LAZYSNAP   (root; exit 77 when FUSE or overlayfs is missing)
set -euo pipefail
lz=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
source "$here/lib/check.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
[ -c /dev/fuse ] && grep -qw overlay /proc/filesystems || { echo "skip: no fuse/overlay"; exit 77; }
# shellcheck source=lib/rig.sh
source "$here/lib/rig.sh"
# shellcheck source=lib/rich_image.sh
source "$here/lib/rich_image.sh"
rig_init
work=$RIG_TMP
cd "$work"
tree_compare=(python3 "$RIG_TOOLS_DIR/tree_compare.py")
run=$work/run

# shellcheck source=lib/mount.sh
source "$here/lib/mount.sh"

# layout_layers LAYOUT TAG: "DIGEST MEDIATYPE" per layer of the layout's image
layout_layers() {
    local m
    m=$(jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' "$1/index.json")
    jq -r '.layers[] | "\(.digest) \(.mediaType)"' "$1/blobs/sha256/${m#sha256:}"
}

# ---- the image, its multi-frame zstd twin, the reference ------------------------------------------
rig_registry
reg=$RIG_REG
rich_image_build "$work/img:rich"
rich_image_zstd_multiframe "$work/img:rich" "$work/zimg:rich"
rich_image_unpack "$work/img:rich" ref
rich_image_unpack "$work/zimg:rich" ref-zstd
rich_image_umoci_unpack "$work/img:rich" ref-umoci
# the reference is right: umoci agrees (directory mtimes too), and so does the zstd twin
"${tree_compare[@]}" ref ref-umoci >cmp.out 2>&1 && ok ||
    bad "reference: GNU tar layer by layer and umoci unpack differ: $(head -20 cmp.out)"
"${tree_compare[@]}" ref ref-zstd >cmp.out 2>&1 && ok ||
    bad "reference: the gzip and the zstd layouts differ: $(head -20 cmp.out)"
# the comparison is not blind: a changed mode is one line, exit 1
cp -a ref mutated && chmod 0600 mutated/files/one
rc=0
"${tree_compare[@]}" --ignore-dir-mtime ref mutated >cmp.out 2>&1 || rc=$?
[ $rc -eq 1 ] && [ "$(grep -c ': ' cmp.out)" -eq 1 ] && grep -qx 'files/one: mode: 0644 vs 0600' cmp.out &&
    ok || bad "tree_compare missed a chmod (exit $rc): $(cat cmp.out)"
rm -rf ref-zstd ref-umoci mutated

# ---- push: gzip, zstd (frames kept: --preserve-digests), gzip again without an index --------------
rig_image_push "$work/img:rich" "$reg/rich:gzip"
rig_image_push "$work/zimg:rich" "$reg/rich:zstd"
rig_image_push "$work/img:rich" "$reg/noindex:1"
[ "$(rig_layers "$reg/rich:zstd" | awk '{print $1, $3}')" = "$(layout_layers zimg rich)" ] && ok ||
    bad "rich:zstd: the registry's layers are not the layout's: $(rig_layers "$reg/rich:zstd")"
first=$(rig_layers "$reg/rich:zstd" | awk 'NR == 1 {print $1}')
curl -fsS -o blob.zst "http://$reg/v2/rich/blobs/$first"
frames=$(zstd -lv blob.zst 2>&1 | sed -n 's/^# Zstandard Frames: *//p')
[ "${frames:-0}" -gt 10 ] && ok || bad "rich:zstd: the pushed first layer has '$frames' zstd frames"
rm -f blob.zst
[ "$(rig_layers "$reg/rich:gzip" | awk '{print $1, $3}')" = "$(layout_layers img rich)" ] &&
    [ "$(rig_layers "$reg/noindex:1" | awk '{print $1, $3}')" = "$(layout_layers img rich)" ] && ok ||
    bad "gzip pushes: the registry's layers are not the layout's"

# ---- indexes for rich:gzip and rich:zstd (every layer: the small ones too), none for noindex -------
for v in gzip zstd; do
    if "$lz" index create "$reg/rich:$v" --push --min-layer-size 0 >index-$v.out 2>&1; then
        [ "$(grep -c ' indexed: ' index-$v.out)" -eq 3 ] && ok || bad "rich:$v: 3 layers indexed: $(cat index-$v.out)"
    else
        bad "rich:$v: index create: $(cat index-$v.out)"
    fi
done
"$lz" index list "$reg/noindex:1" >list.out 2>&1 || true
[ "$(grep -c 'none (pulled whole)' list.out)" -eq 3 ] && ok || bad "noindex:1 has an index: $(cat list.out)"

# ---- mount, compare, stat, umount -----------------------------------------------------------------
mkdir -p run
# noindex streams its layers in (served as they arrive); noindex-again, on the same cache, finds
# them whole there (blob and index kept by the first mount) and serves them from the cache.
for v in gzip zstd noindex noindex-again; do
    case $v in noindex*) ref=$reg/noindex:1 ;; *) ref=$reg/rich:$v ;; esac
    mnt=$work/mnt-$v
    rig_on_exit mount_unmount "$mnt"
    rc=0
    timeout 300 "$lz" mount "$ref" "$mnt" --cache "$work/cache-${v%-again}" --run-dir "$run" \
        >mount-$v.out 2>mount-$v.err || rc=$?
    if [ $rc -ne 0 ] || ! mountpoint -q "$mnt"; then
        bad "$v: mount exit $rc, mounted: $(mountpoint "$mnt" 2>&1); stderr: $(tail -5 mount-$v.err)"
        continue
    fi
    ok
    case $v in
    noindex) how='0 indexed, 0 fetched whole, 3 streaming' ;;
    noindex-again) how='0 indexed, 3 fetched whole' ;;
    *) how='3 indexed, 0 fetched whole' ;;
    esac
    [ "$(wc -l <mount-$v.out)" -eq 1 ] &&
        grep -qE "^mounted .+ at .+ in [0-9]+\.[0-9]{3} s \(3 layers: $how\)\$" mount-$v.out &&
        ok || bad "$v: mount output: $(cat mount-$v.out)"

    rc=0
    timeout 600 "${tree_compare[@]}" --ignore-dir-mtime ref "$mnt" >cmp-$v.out 2>&1 || rc=$?
    [ $rc -eq 0 ] && ok || bad "$v: the mount differs from the reference (exit $rc):
$(head -40 cmp-$v.out)"
    echo "$v: $(tail -1 cmp-$v.out)"
    if touch "$mnt/new-file" 2>/dev/null; then bad "$v: the mount is writable"; else ok; fi

    rc=0
    timeout 60 "$lz" stat "$mnt" --run-dir "$run" >stat-$v.out 2>stat-$v.err || rc=$?
    [ $rc -eq 0 ] && [ -s stat-$v.out ] && ok || bad "$v: stat exit $rc: $(cat stat-$v.out stat-$v.err)"
    timeout 60 "$lz" stat "$mnt" --run-dir "$run" --json 2>stat-$v.err | python3 -m json.tool >/dev/null &&
        ok || bad "$v: stat --json is not JSON: $(cat stat-$v.err)"
    if [ $v = noindex ]; then # the compare listed every directory: the streams have ended
        streams=""
        for _ in $(seq 1 30); do
            streams=$("$lz" stat "$mnt" --run-dir "$run" --json 2>/dev/null | jq -r '[.layers[].stream] | join(" ")')
            [ "$streams" = "complete complete complete" ] && break
            sleep 0.2
        done
        [ "$streams" = "complete complete complete" ] && ok || bad "$v: streams after the compare: '$streams'"
    fi

    rc=0
    timeout 120 "$lz" umount "$mnt" --run-dir "$run" >umount-$v.out 2>umount-$v.err || rc=$?
    [ $rc -eq 0 ] && ok || bad "$v: umount exit $rc: $(cat umount-$v.err)"
    ! mountpoint -q "$mnt" && ! is_mounted "$mnt" && ok || bad "$v: $mnt is still mounted after umount"
    lz_gone || true
    left=$(lz_pids)
    [ -z "$left" ] && ok || bad "$v: lazysnap processes left 5 s after umount: $(ps -o pid=,args= -p "${left//$'\n'/,}")"
done

check_done
