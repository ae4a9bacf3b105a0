#!/usr/bin/env bash
# lazysnapd answers containerd's snapshots API over real gRPC on a unix socket. The client is
# Debian's python3-grpcio (tests/tools/snapclient.py: bytes in, bytes out, namespace metadata);
# requests and replies are encoded and decoded by Google's protobuf text format (protoc-c
# --encode/--decode) from proto/. Checks:
#   1. Prepare (bind rw,rbind of the new fs), Commit, Stat (kind, labels, timestamps), Prepare on
#      the committed parent (overlay index=off/workdir/upperdir/lowerdir), mounted for real:
#      the parent's file shows, writes land in the upper fs; View on one parent (ro bind);
#      Mounts; Usage (committed: recorded; active: measured); Update of one label by field path
#   2. errors with the codes containerd's errdefs reads: ALREADY_EXISTS, NOT_FOUND,
#      FAILED_PRECONDITION (remove with children, commit of a view), INVALID_ARGUMENT (parent
#      not committed, malformed request, bad filter), UNIMPLEMENTED (unknown method)
#   3. List: all, and with containerd's filters (the one containerd sends after ALREADY_EXISTS:
#      labels."containerd.io/snapshot.ref"==X,parent=="P"; kind==active; ~=; alternatives);
#      250 snapshots made by 8 concurrent clients come back in several stream messages
#   4. SIGTERM: the daemon ends, the socket is gone; restarted, it has every snapshot; Remove
#      and Cleanup leave no directory behind
# Usage: snapshotter_rpc.sh LAZYSNAPD PROTOC_C PROTO_DIR   (root for the overlay mount; exit 77
# without python3-grpcio)
set -euo pipefail
lzd=$(realpath "$1")
protoc=$2
proto=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
client=$here/../tools/snapclient.py
# shellcheck source=lib/check.sh
source "$here/lib/check.sh"
/usr/bin/python3 -c 'import grpc' 2>/dev/null || { echo "skip: no python3-grpcio"; exit 77; }
# shellcheck source=lib/rig.sh
source "$here/lib/rig.sh"
rig_init
work=$RIG_TMP
cd "$work"
sock=$work/run/lazysnapd.sock
root=$work/root
T=containerd.services.snapshots.v1

start_daemon() {
    "$lzd" --address "$sock" --root "$root" --log-level debug >>daemon.log 2>&1 &
    dpid=$!
    rig_on_exit "kill $dpid 2>/dev/null; wait $dpid 2>/dev/null || true"
    for ((i = 0; i < 100; i++)); do
        [ -S "$sock" ] && return 0
        sleep 0.05
    done
    echo "lazysnapd did not start: $(tail -5 daemon.log)"
    exit 1
}

enc() { "$protoc" --encode="$T.$1" -I"$proto" -I/usr/include containerd/services/snapshots/v1/snapshots.proto; }
dec() {
    if [ "$1" = Empty ]; then
        "$protoc" --decode=google.protobuf.Empty -I/usr/include google/protobuf/empty.proto
    else
        "$protoc" --decode="$T.$1" -I"$proto" -I/usr/include containerd/services/snapshots/v1/snapshots.proto
    fi
}
# rpc METHOD IN_TYPE OUT_TYPE TEXT: the reply as text format in rpc.out; the status in rpc.err
rpc() {
    local rc=0
    printf '%s' "$4" | enc "$2" >rpc.req
    /usr/bin/python3 "$client" "$sock" "$1" <rpc.req >rpc.bin 2>rpc.err || rc=$?
    [ $rc -eq 0 ] && dec "$3" <rpc.bin >rpc.out
    return $rc
}
# refused METHOD IN_TYPE TEXT CODE PATTERN: the call fails with CODE and a message matching
refused() {
    if rpc "$1" "$2" Empty "$3"; then bad "$1 $3: succeeded, wanted $4"; return 0; fi
    grep -qE "^$4: .*$5" rpc.err && ok || bad "$1 $3: '$(cat rpc.err)', wanted $4 /$5/"
}
# flat: rpc.out on one line, runs of blanks as one space
flat() { tr '\n' ' ' <rpc.out | tr -s ' '; }
# expect_out PATTERN WHAT: the flat reply matches PATTERN (ERE)
expect_out() {
    flat | grep -qE -- "$1" && ok || bad "$2: reply lacks /$1/: $(flat)"
}

start_daemon

# ---- 1. the life of two layers and a container ---------------------------------------------------
rpc Prepare PrepareSnapshotRequest PrepareSnapshotResponse \
    'snapshotter: "lazysnap" key: "default/1/extract-a" labels { key: "containerd.io/snapshot.ref" value: "sha256:A" }' &&
    ok || bad "Prepare a: $(cat rpc.err)"
expect_out "mounts \{ type: \"bind\" source: \"$root/snapshots/1/fs\" options: \"rw\" options: \"rbind\" \}" "Prepare a"
echo "layer A's content" >"$root/snapshots/1/fs/a.txt"
rpc Commit CommitSnapshotRequest Empty \
    'name: "sha256:A" key: "default/1/extract-a" labels { key: "containerd.io/snapshot.ref" value: "sha256:A" }' &&
    ok || bad "Commit A: $(cat rpc.err)"
rpc Stat StatSnapshotRequest StatSnapshotResponse 'key: "sha256:A"' && ok || bad "Stat A: $(cat rpc.err)"
expect_out 'info \{ name: "sha256:A" kind: COMMITTED created_at \{ seconds: [0-9]+ nanos: [0-9]+ \} updated_at \{ seconds: [0-9]+ .*labels \{ key: "containerd.io/snapshot.ref" value: "sha256:A" \} \}' "Stat A"
rpc Prepare PrepareSnapshotRequest PrepareSnapshotResponse 'key: "default/2/rootfs" parent: "sha256:A"' &&
    ok || bad "Prepare rootfs: $(cat rpc.err)"
idx=""
[ -e /sys/module/overlay/parameters/index ] && idx='options: "index=off" '
expect_out "mounts \{ type: \"overlay\" source: \"overlay\" ${idx}options: \"workdir=$root/snapshots/2/work\" options: \"upperdir=$root/snapshots/2/fs\" options: \"lowerdir=$root/snapshots/1/fs\" \}" "Prepare rootfs"
if [ "$(id -u)" -eq 0 ] && grep -qw overlay /proc/filesystems; then
    opts=$(grep -oE 'options: "[^"]*"' rpc.out | sed 's/options: "\(.*\)"/\1/' | paste -sd,)
    mkdir -p mnt
    rig_on_exit "mountpoint -q '$work/mnt' && umount '$work/mnt'"
    mount -t overlay overlay -o "$opts" mnt
    seen=$(cat mnt/a.txt)
    echo "from the container" >mnt/c.txt
    umount mnt
    [ "$seen" = "layer A's content" ] && [ -f "$root/snapshots/2/fs/c.txt" ] && ok ||
        bad "the overlay of rootfs: read '$seen', upper has: $(ls "$root/snapshots/2/fs")"
fi
rpc View ViewSnapshotRequest ViewSnapshotResponse 'key: "default/3/view" parent: "sha256:A"' && ok || bad "View: $(cat rpc.err)"
expect_out "mounts \{ type: \"bind\" source: \"$root/snapshots/1/fs\" options: \"ro\" options: \"rbind\" \}" "View"
rpc Mounts MountsRequest MountsResponse 'key: "default/2/rootfs"' && ok || bad "Mounts: $(cat rpc.err)"
expect_out 'upperdir=' "Mounts rootfs"
rpc Usage UsageRequest UsageResponse 'key: "sha256:A"' && ok || bad "Usage A: $(cat rpc.err)"
expect_out 'size: [1-9][0-9]* inodes: 2' "Usage A (fs/ and a.txt, recorded at commit)"
rpc Usage UsageRequest UsageResponse 'key: "default/2/rootfs"' && ok || bad "Usage rootfs: $(cat rpc.err)"
expect_out 'size: [1-9][0-9]* inodes: 2' "Usage rootfs (measured)"
rpc Update UpdateSnapshotRequest UpdateSnapshotResponse \
    'info { name: "sha256:A" labels { key: "gc" value: "keep" } } update_mask { paths: "labels.gc" }' &&
    ok || bad "Update: $(cat rpc.err)"
expect_out 'labels \{ key: "containerd.io/snapshot.ref" value: "sha256:A" \} labels \{ key: "gc" value: "keep" \}' "Update A"

# ---- 2. errors as containerd's errdefs reads them -------------------------------------------------
refused Prepare PrepareSnapshotRequest 'key: "default/2/rootfs"' ALREADY_EXISTS 'snapshot default/2/rootfs already exists'
refused Stat StatSnapshotRequest 'key: "nope"' NOT_FOUND 'snapshot nope does not exist'
refused Remove RemoveSnapshotRequest 'key: "sha256:A"' FAILED_PRECONDITION 'has children'
refused Commit CommitSnapshotRequest 'name: "x" key: "default/3/view"' FAILED_PRECONDITION 'not active'
refused Prepare PrepareSnapshotRequest 'key: "k2" parent: "default/2/rootfs"' INVALID_ARGUMENT 'not a committed snapshot'
refused Update UpdateSnapshotRequest 'info { name: "sha256:A" } update_mask { paths: "parent" }' INVALID_ARGUMENT "cannot update field 'parent'"
refused List ListSnapshotsRequest 'filters: "name~=("' INVALID_ARGUMENT 'bad regular expression'
refused List ListSnapshotsRequest 'filters: "name~=a++++++++++"' INVALID_ARGUMENT 'too many repetitions'
rc=0
printf '\x12\x7f\x01' | /usr/bin/python3 "$client" "$sock" Prepare >/dev/null 2>rpc.err || rc=$?
[ $rc -eq 3 ] && grep -q '^INVALID_ARGUMENT: malformed' rpc.err && ok || bad "a malformed request: exit $rc $(cat rpc.err)"
rc=0
/usr/bin/python3 "$client" "$sock" Frobnicate </dev/null >/dev/null 2>rpc.err || rc=$?
[ $rc -eq 3 ] && grep -q '^UNIMPLEMENTED: unknown method' rpc.err && ok || bad "an unknown method: exit $rc $(cat rpc.err)"

# ---- 3. List and containerd's filters ------------------------------------------------------------
# list FILTERS... (text of filters fields): the names listed, sorted, on one line
list() {
    local text="" f
    for f in "$@"; do text+="filters: \"${f//\"/\\\"}\" "; done
    rpc List ListSnapshotsRequest ListSnapshotsResponse "$text" || { echo "ERROR $(cat rpc.err)"; return; }
    grep -oE '^  name: "[^"]*"' rpc.out | sed 's/.*name: "\(.*\)"/\1/' | sort | paste -sd' '
}
got=$(list)
[ "$got" = "default/2/rootfs default/3/view sha256:A" ] && ok || bad "List: '$got'"
got=$(list 'labels."containerd.io/snapshot.ref"==sha256:A,parent==""')
[ "$got" = "sha256:A" ] && ok || bad "List by snapshot.ref and parent: '$got'"
got=$(list 'kind == active')
[ "$got" = "default/2/rootfs" ] && ok || bad "List kind == active: '$got'"
got=$(list 'name~=^default/', 'labels.gc==keep')
[ "$got" = "default/2/rootfs default/3/view sha256:A" ] && ok || bad "List alternatives: '$got'"
got=$(list 'labels.gc!=keep')
[ "$got" = "default/2/rootfs default/3/view" ] && ok || bad "List !=: '$got'"
rc=0
/usr/bin/python3 "$client" "$sock" prepare-many many/ 250 8 2>many.err || rc=$?
[ $rc -eq 0 ] && ok || bad "250 Prepares from 8 clients: $(cat many.err)"
got=$(list 'name~=^many/' | wc -w)
[ "$got" -eq 250 ] && ok || bad "List of the 250: $got"
msgs=$(/usr/bin/python3 - "$sock" <<'PY'
import grpc, sys
with grpc.insecure_channel("unix:" + sys.argv[1]) as ch:
    print(len(list(ch.unary_stream("/containerd.services.snapshots.v1.Snapshots/List")(b"", timeout=60))))
PY
)
[ "$msgs" -ge 3 ] && ok || bad "List of 253 snapshots came in $msgs stream messages (want batches of 100)"

# ---- 4. restart, Remove, Cleanup ------------------------------------------------------------------
kill -TERM "$dpid"
rc=0
wait "$dpid" || rc=$?
[ $rc -eq 0 ] && [ ! -e "$sock" ] && ok || bad "SIGTERM: exit $rc, socket left: $(ls -l "$sock" 2>&1)"
start_daemon
rpc Stat StatSnapshotRequest StatSnapshotResponse 'key: "default/2/rootfs"' && ok || bad "after the restart: $(cat rpc.err)"
expect_out 'parent: "sha256:A" kind: ACTIVE' "Stat rootfs after the restart"
for k in default/2/rootfs default/3/view sha256:A; do
    rpc Remove RemoveSnapshotRequest Empty "key: \"$k\"" && ok || bad "Remove $k: $(cat rpc.err)"
done
mkdir -p "$root/snapshots/4242/fs"
rpc Cleanup CleanupRequest Empty '' && ok || bad "Cleanup: $(cat rpc.err)"
left=$(find "$root/snapshots" -mindepth 1 -maxdepth 1 | wc -l)
[ "$left" -eq 250 ] && ok || bad "after Remove and Cleanup: $left directories, want the 250 of many/"
kill -TERM "$dpid"
wait "$dpid" || true

# ---- 5. the config file: socket, root and log format from it, an unknown key refused -----------
printf 'address = "%s"\nroot = "%s"\nlog_format = "json"\n[index]\nmin_layer_size = "1MiB"\n' \
    "$work/run2/lazysnapd.sock" "$work/root2" >lazysnapd.toml
"$lzd" --config lazysnapd.toml >>daemon2.log 2>&1 &
cpid=$!
rig_on_exit "kill $cpid 2>/dev/null; wait $cpid 2>/dev/null || true"
for ((i = 0; i < 100; i++)); do [ -S "$work/run2/lazysnapd.sock" ] && break; sleep 0.05; done
[ -S "$work/run2/lazysnapd.sock" ] && [ -f "$work/root2/metadata.db" ] && ok ||
    bad "--config: no socket or root where the file says: $(tail -3 daemon2.log)"
kill -TERM "$cpid"
rc=0
wait "$cpid" || rc=$?
[ $rc -eq 0 ] && ok || bad "--config: exit $rc after SIGTERM: $(tail -3 daemon2.log)"
grep -q '^{.*serving snapshots of' daemon2.log && ok || bad "log_format json: $(head -2 daemon2.log)"
printf 'adress = "/x"\n' >typo.toml
expect_fail 1 'typo.toml:1:1: key adress: unknown key' "$lzd" --config typo.toml
cat daemon2.log >>daemon.log
grep -q 'ERROR\|runtime error\|AddressSanitizer' daemon.log && bad "daemon log: $(grep -m3 'ERROR\|runtime error' daemon.log)" || ok
check_done
