#!/usr/bin/env bash
# lazysnap mount of a layer without an index, served while its blob streams in. The registry on
# 127.0.0.1 sits behind tests/tools/fault_proxy.py, which sends the layer blob at 2 MiB/s (mode
# slow). The one layer holds, in tar order, a-first.txt, m-big.bin (16 MiB, random) and
# z-last.txt:
#   - the mount returns before the blob has arrived; a-first.txt reads at once and equals the
#     source while `lazysnap stat` still says the layer is streaming;
#   - z-last.txt and a listing of the root wait for their bytes, then equal the source;
#   - the stream ends complete, and an umount --lazy leaves a file held open reading; the blob and
#     index stay in the cache and the decoded layer becomes its cached data: a second mount on
#     that cache (--no-background) has it all local at once and fetches no blob;
#   - a blob corrupted on the way fails the layer once its end shows the mismatch: reads answer
#     EIO, `lazysnap stat` says errors, the log says why, and the cache keeps no blob;
#   - an umount in the middle of a stream is prompt and leaves no mount, no process, no blob;
#   - a registry gone in the middle of a stream: a reader waiting for a file gets EIO within the
#     registry deadline (--timeout 3s);
#   - no sanitizer report from any lazysnap process, the detached servers included.
# Usage: mount_stream.sh LAZYSNAP   (root; exit 77 when FUSE or overlayfs is missing)
set -euo pipefail
lz=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/check.sh
source "$here/lib/check.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
[ -c /dev/fuse ] && grep -qw overlay /proc/filesystems || { echo "skip: no fuse/overlay"; exit 77; }
# shellcheck source=lib/rig.sh
source "$here/lib/rig.sh"
rig_init
work=$RIG_TMP
run=$work/run
cd "$work"
# shellcheck source=lib/mount.sh
source "$here/lib/mount.sh"
sanitizer_logs_apart

# stream_state DIR: the layer's "stream" field from `lazysnap stat --json`
stream_state() {
    "$lz" stat "$1" --run-dir "$run" --json 2>/dev/null | jq -r '.layers[0].stream'
}

# wait_state DIR STATE: up to 60 s for the server to report it (stats are written every second)
wait_state() {
    local s=""
    for _ in $(seq 1 300); do
        s=$(stream_state "$1")
        [ "$s" = "$2" ] && return 0
        sleep 0.2
    done
    echo "state of $1: '$s', wanted '$2'" >&2
    return 1
}

# mount_it NAME CACHE [OPTION...]: lazysnap mount of the image through the proxy at $work/mnt-NAME
mount_it() {
    local mnt=$work/mnt-$1 cache=$2
    shift 2
    rig_on_exit mount_unmount "$mnt"
    timeout 120 "$lz" mount "$ref" "$mnt" --cache "$work/$cache" --run-dir "$run" "$@" \
        >"mount-${mnt##*-}.out" 2>"mount-${mnt##*-}.err"
}

# ---- the image: one layer, pushed without an index --------------------------------------------
mkdir -p src
echo "the first file of the layer" >src/a-first.txt
head -c $((16 << 20)) /dev/urandom >src/m-big.bin
echo "the last file of the layer" >src/z-last.txt
(cd src && sha256sum a-first.txt m-big.bin z-last.txt) >src.sums
rig_image_build "$work/img:s" src
rig_registry
rig_image_push "$work/img:s" "$RIG_REG/stream:1"
rig_fault_proxy "$RIG_REG"
ref=$RIG_FAULT/stream:1
layer=$(rig_layers "$ref" | awk '{print $1}')
blob_re="/blobs/$layer"

# ---- served while it streams -------------------------------------------------------------------
rig_fault slow 1 "$blob_re"
t0=$(date +%s.%N)
mount_it slow cache-slow && ok || bad "slow: mount failed: $(cat mount-slow.err)"
grep -qE '^mounted .+ \(1 layer: 0 indexed, 0 fetched whole, 1 streaming\)$' mount-slow.out && ok ||
    bad "slow: mount output: $(cat mount-slow.out)"
m=$work/mnt-slow
first=$(sha256sum <"$m/a-first.txt" | cut -d' ' -f1)
t1=$(date +%s.%N)
[ "$first" = "$(awk '$2 == "a-first.txt" {print $1}' src.sums)" ] && ok || bad "slow: a-first.txt differs"
state=$(stream_state "$m")
[ "$state" = streaming ] && ok || bad "slow: state '$state' after the first file, wanted streaming"
echo "slow: mounted and read the first file in $(echo "$t1 - $t0" | bc) s (the blob takes 8 s at 2 MiB/s)"
(cd "$m" && sha256sum z-last.txt a-first.txt m-big.bin) | sort -k2 >got.sums
sort -k2 src.sums | diff - got.sums >/dev/null && ok || bad "slow: checksums differ: $(cat got.sums)"
[ "$(ls "$m" | tr '\n' ' ')" = "a-first.txt m-big.bin z-last.txt " ] && ok || bad "slow: listing: $(ls "$m")"
wait_state "$m" complete && ok || bad "slow: the stream did not complete"
[ "$(rig_fault_count)" -eq 1 ] && ok || bad "slow: the proxy slowed $(rig_fault_count) requests, wanted 1"
# umount --lazy with a file open: the complete layer keeps serving it until it is closed
(exec 9<"$m/m-big.bin" && exec sleep 600) &
holder=$!
sleep 0.3
timeout 60 "$lz" umount "$m" --lazy --run-dir "$run" >umount-slow.out 2>&1 && ok ||
    bad "slow: umount --lazy failed: $(cat umount-slow.out)"
! mountpoint -q "$m" && ok || bad "slow: still mounted after umount --lazy"
timeout 30 cmp "/proc/$holder/fd/9" src/m-big.bin && ok ||
    bad "slow: the file held open does not read after umount --lazy"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null || true
lz_gone || true
[ -z "$(lz_pids)" ] && ok || bad "slow: the server did not end after the close: $(lz_pids)"

# ---- again: from the cache (blob and index kept), no blob fetched -------------------------------
gets=$(grep -c "^GET $blob_re" "$RIG_FAULT_LOG" || true)
mount_it again cache-slow --no-background && ok || bad "again: mount failed: $(cat mount-again.err)"
grep -qE '\(1 layer: 0 indexed, 1 fetched whole\)$' mount-again.out && ok ||
    bad "again: mount output: $(cat mount-again.out)"
# the decoded layer was adopted by the cache: all local at once, with no background fetch
"$lz" stat "$work/mnt-again" --run-dir "$run" --json | jq -e '.layers[0] | .complete and .present == .size' >/dev/null &&
    ok || bad "again: not all local at once: $("$lz" stat "$work/mnt-again" --run-dir "$run" --json)"
(cd "$work/mnt-again" && sha256sum a-first.txt m-big.bin z-last.txt) | diff src.sums - >/dev/null && ok ||
    bad "again: checksums differ"
[ "$(grep -c "^GET $blob_re" "$RIG_FAULT_LOG" || true)" -eq "$gets" ] && ok ||
    bad "again: the blob was fetched again: $(grep "$blob_re" "$RIG_FAULT_LOG")"
timeout 60 "$lz" umount "$work/mnt-again" --run-dir "$run" >/dev/null 2>&1 && ok || bad "again: umount failed"

# ---- a corrupted blob fails the layer at the end ------------------------------------------------
rig_fault corrupt 1 "$blob_re"
mount_it corrupt cache-corrupt && ok || bad "corrupt: mount failed: $(cat mount-corrupt.err)"
m=$work/mnt-corrupt
if cat "$m/z-last.txt" >/dev/null 2>cat.err; then
    bad "corrupt: z-last.txt read after the blob's end showed a mismatch"
else
    grep -q 'Input/output error' cat.err && ok || bad "corrupt: cat: $(cat cat.err)"
fi
ls "$m" >/dev/null 2>&1 && bad "corrupt: the listing worked" || ok
wait_state "$m" failed && ok || bad "corrupt: state is not failed"
"$lz" stat "$m" --run-dir "$run" 2>&1 | grep -qE ' stream .* errors$' && ok ||
    bad "corrupt: stat: $("$lz" stat "$m" --run-dir "$run" 2>&1)"
grep -qE 'layer being streamed: .*(digest mismatch|incorrect data check)' "$(state_dir "$m")/log" && ok ||
    bad "corrupt: the log does not say why: $(tail -5 "$(state_dir "$m")/log")"
[ -z "$(find "$work/cache-corrupt" -name '*.blob*')" ] && ok ||
    bad "corrupt: a blob was kept: $(find "$work/cache-corrupt" -name '*.blob*')"
timeout 60 "$lz" umount "$m" --run-dir "$run" >/dev/null 2>&1 && ok || bad "corrupt: umount failed"

# ---- umount in the middle of a stream --------------------------------------------------------------
rig_fault slow 1 "$blob_re"
mount_it cut cache-cut && ok || bad "cut: mount failed: $(cat mount-cut.err)"
m=$work/mnt-cut
[ "$(stream_state "$m")" = streaming ] && ok || bad "cut: state $(stream_state "$m"), wanted streaming"
t0=$(date +%s)
timeout 60 "$lz" umount "$m" --run-dir "$run" >/dev/null 2>umount-cut.err && ok ||
    bad "cut: umount failed: $(cat umount-cut.err)"
t1=$(date +%s)
[ $((t1 - t0)) -le 5 ] && ok || bad "cut: umount took $((t1 - t0)) s"
! is_mounted "$m" && ok || bad "cut: still mounted"
lz_gone || true
[ -z "$(lz_pids)" ] && ok || bad "cut: lazysnap processes left: $(lz_pids)"
[ -z "$(find "$work/cache-cut" -name '*.blob*')" ] && ok ||
    bad "cut: a partial blob was left: $(find "$work/cache-cut" -name '*.blob*')"

# ---- a registry that stops sending: the mount fails within the deadline, with why -------------
rig_fault stall 50 "$blob_re"
t0=$(date +%s)
rc=0
mount_it stall cache-stall --timeout 3s || rc=$?
t1=$(date +%s)
echo "stall: the mount gave up after $((t1 - t0)) s: $(tail -1 mount-stall.err)"
[ $rc -ne 0 ] && tail -1 mount-stall.err | grep -qE "^lazysnap: .*mnt-stall: layer 0: .*too slow" && ok ||
    bad "stall: mount exit $rc: $(cat mount-stall.err)"
[ $((t1 - t0)) -le 60 ] && ok || bad "stall: the mount took $((t1 - t0)) s to fail"
! is_mounted "$work/mnt-stall" && ok || bad "stall: mounted"
rig_fault clear

# ---- the registry goes away in the middle of a stream (last: the proxy is gone after it) ---------
rig_fault slow 1 "$blob_re"
mount_it gone cache-gone --timeout 3s && ok || bad "gone: mount failed: $(cat mount-gone.err)"
m=$work/mnt-gone
cat "$m/a-first.txt" >/dev/null && ok || bad "gone: a-first.txt did not read"
kill "$RIG_FAULT_PID"
wait "$RIG_FAULT_PID" 2>/dev/null || true
t0=$(date +%s)
if cat "$m/z-last.txt" >/dev/null 2>cat.err; then
    bad "gone: z-last.txt read with the registry gone"
else
    grep -q 'Input/output error' cat.err && ok || bad "gone: cat: $(cat cat.err)"
fi
t1=$(date +%s)
echo "gone: the waiting reader got EIO after $((t1 - t0)) s"
[ $((t1 - t0)) -le 30 ] && ok || bad "gone: EIO came after $((t1 - t0)) s"
[ "$(stream_state "$m")" = failed ] || wait_state "$m" failed && ok || bad "gone: state is not failed"
timeout 60 "$lz" umount "$m" --run-dir "$run" >/dev/null 2>&1 && ok || bad "gone: umount failed"

# ---- sanitizer reports of every lazysnap process, detached servers included ----------------------
lz_gone || true
no_sanitizer_reports

check_done
