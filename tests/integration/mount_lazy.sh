#!/usr/bin/env bash
# lazysnap mount is lazy, concurrent, persistent and robust. A 3-layer image of ~66 MB compressed
# (incompressible random files of 1-4 MB plus hundreds of small text files per layer) is indexed
# and pushed to a registry on 127.0.0.1, and mounted through rig's fault proxy, whose request log
# (METHOD TARGET RANGE STATUS BYTES_SENT FAULT) counts the bytes the registry served.
#   1. lazy: fresh cache, --no-background, one small file read: < 2% of the compressed image is
#      fetched for layer blobs, by `lazysnap stat --json` and by the proxy's log (index blobs
#      counted apart); the bytes equal the source
#   2. 64 parallel readers of distinct cold files (big and small, every layer): all correct, none
#      hangs (each bounded by timeout 120)
#   3. restart: umount, mount again on the same cache: the files read before fetch 0 layer bytes,
#      and the indexes come from the cache but for one damaged there (1 index blob GET)
#   4. the registry stops answering (SIGSTOP; then a proxy that stalls blob bodies): a cached file
#      reads, a cold one fails with EIO within 30 s (--timeout 3s --retries 1), read_errors >= 1;
#      once the registry answers again the cold file reads (the failure is not sticky)
#   6. umount while a file is open: exit 1 and "busy", the mount and its server stay; after the
#      close umount works; --lazy detaches at once while the file is open, the file keeps
#      reading, and the server ends once it is closed. After every umount: DIR is not a
#      mountpoint, the server is gone, no FUSE mount of its layers remains, no state dir remains
#   7. errors: mount of a missing tag (one line, exit 1, nothing left), umount of a plain directory
#      and of a foreign tmpfs ("not mounted by lazysnap"; the tmpfs stays mounted); relative
#      --cache/--run-dir (the server works in /); a second mount of a mounted DIR is refused;
#      SIGINT/SIGTERM while the mount command waits leaves nothing mounted or running
#   5. background fetch (last: it stops the registry): default mount, every layer complete within
#      60 s, the registry killed, every file of the image reads correctly
# The detached servers' sanitizer reports go to files (ASAN/UBSAN log_path): there must be none.
# Usage: mount_lazy.sh LAZYSNAP   (root; exit 77 when FUSE or overlayfs is missing)
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
cd "$work"
run=$work/run
mkdir -p "$run"
t_start=$SECONDS

# server_pid DIR: the server's pid from its state dir (empty when none)
server_pid() {
    local f
    f="$(state_dir "$1")/pid"
    [ -f "$f" ] && awk '{print $1}' "$f" || true
}

# server_log DIR: the end of the server's log, for failure messages
server_log() {
    local f
    f="$(state_dir "$1")/log"
    [ -f "$f" ] && tail -n 8 "$f" | sed 's/^/    log: /' || true
}

# shellcheck source=lib/mount.sh
source "$here/lib/mount.sh"
sanitizer_logs_apart

# ---- the image ----------------------------------------------------------------------------------
# src/l1/a, src/l2/b, src/l3/c: each layer its own top directory (the merged view is their union):
#   X/bin/rNN.bin   random, 1-4 MB each (~25 + 25 + 16 MB)
#   X/txt/fNNNN.txt 400 compressible text files of 0.5-12 KB, distinct contents
python3 - "$work/src" <<'PY'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(os.urandom(16))
words = ("lazy snapshot layer fuse registry blob index checkpoint overlay cache fetch verify "
         "container image digest manifest range gzip zstd tar mount reader").split()
spec = {"l1/a": [1.0, 2.5, 4.0, 3.2, 1.3, 2.2, 3.7, 1.8, 2.9, 2.4],
        "l2/b": [3.9, 1.1, 2.6, 3.3, 1.7, 4.0, 2.0, 1.4, 2.8, 2.2],
        "l3/c": [2.1, 3.6, 1.2, 4.0, 2.7, 1.5, 1.9]}
for top, sizes in spec.items():
    for d in ("bin", "txt"):
        os.makedirs(os.path.join(root, top, d))
    for i, mb in enumerate(sizes):
        n = int(mb * 1000000) + rnd.randrange(4096)
        with open(os.path.join(root, top, "bin", "r%02d.bin" % i), "wb") as f:
            f.write(os.urandom(n))
    for i in range(400):
        target = rnd.randrange(500, 12000)
        lines = ["%s/txt/f%04d.txt" % (top, i)]
        size = len(lines[0])
        while size < target:
            line = " ".join(rnd.choice(words) for _ in range(10)) + " %d" % rnd.randrange(10**9)
            lines.append(line)
            size += len(line) + 1
        with open(os.path.join(root, top, "txt", "f%04d.txt" % i), "w") as f:
            f.write("\n".join(lines) + "\n")
PY
for l in l1 l2 l3; do
    tar -C "src/$l" --sort=name --numeric-owner -cf "$l.tar" .
done
rig_image_build_tar "$work/img:v1" l1.tar l2.tar l3.tar
rm -f l1.tar l2.tar l3.tar
# the source's checksums, paths relative to the image root
for l in l1 l2 l3; do (cd "src/$l" && find . -type f -print0 | sort -z | xargs -0 sha256sum); done |
    sort -k2 >src.sums
[ "$(wc -l <src.sums)" -eq 1227 ] && ok || bad "source: $(wc -l <src.sums) files, wanted 1227"

rig_registry
reg=$RIG_REG
reg_pid=$RIG_REG_PID
rig_image_push "$work/img:v1" "$reg/lazy:v1"
rig_layers "$reg/lazy:v1" >layers.txt
mapfile -t layer_digests < <(awk '{print $1}' layers.txt)
image_size=$(awk '{s += $2} END {print s}' layers.txt)
config_digest=$(rig_manifest "$reg/lazy:v1" | jq -r .config.digest)
[ "${#layer_digests[@]}" -eq 3 ] && [ "$image_size" -ge 62914560 ] && ok ||
    bad "image: ${#layer_digests[@]} layers, $image_size compressed bytes (wanted 3 and >= 60 MiB)"
if "$lz" index create "$reg/lazy:v1" --push --min-layer-size 0 >index.out 2>&1; then
    [ "$(grep -c ' indexed: ' index.out)" -eq 3 ] && ok || bad "index create: 3 layers indexed: $(cat index.out)"
else
    bad "index create: $(cat index.out)"
fi
# every mount goes through the fault proxy: its log counts what the registry served
rig_fault_proxy "$reg"
proxy=$RIG_FAULT
plog=$RIG_FAULT_LOG
ref=$proxy/lazy:v1
echo "image: 3 layers, $image_size bytes compressed, $(wc -l <src.sums) files; built, indexed, pushed in $((SECONDS - t_start)) s"

# plog_mark: the proxy log's current length (lines)
plog_mark() { wc -l <"$plog"; }
# plog_blobs FROM KIND: "BYTES GETS": body bytes and count of the blob GETs logged after line
# FROM, for KIND layer (the image's layer blobs), config (its config blob) or index (any other
# blob: the layer indexes)
plog_blobs() {
    tail -n +"$(($1 + 1))" "$plog" |
        awk -v kind="$2" -v layers="${layer_digests[*]}" -v config="$config_digest" '
            BEGIN { n = split(layers, a, " "); for (i = 1; i <= n; i++) is_layer[a[i]] = 1 }
            $1 == "GET" && match($2, /\/blobs\/sha256:[0-9a-f]+/) {
                d = substr($2, RSTART + 7, RLENGTH - 7)
                k = (d in is_layer) ? "layer" : (d == config) ? "config" : "index"
                if (k == kind) { s += $5; c++ }
            }
            END { print s + 0, c + 0 }'
}
plog_bytes() { plog_blobs "$@" | cut -d' ' -f1; }
plog_gets() { plog_blobs "$@" | cut -d' ' -f2; }

# stat_json DIR OUT: `lazysnap stat --json` after the server's next stats write (every second)
stat_json() {
    sleep 2.2
    timeout 30 "$lz" stat "$1" --json --run-dir "$run" >"$2" 2>"$2.err" && jq -e .layers "$2" >/dev/null
}

# do_mount NAME CACHE [OPTIONS...]: mounts $ref at $work/mnt-NAME; ok/bad; 0 when mounted
do_mount() {
    local name=$1 cache=$2 mnt=$work/mnt-$1 rc=0
    shift 2
    rig_on_exit mount_unmount "$mnt"
    timeout 120 "$lz" mount "$ref" "$mnt" --cache "$cache" --run-dir "$run" "$@" \
        >"mount-$name.out" 2>"mount-$name.err" || rc=$?
    if [ $rc -ne 0 ] || ! mountpoint -q "$mnt"; then
        bad "$name: mount exit $rc, mounted: $(mountpoint "$mnt" 2>&1); stderr: $(tail -5 "mount-$name.err")"
        return 1
    fi
    ok
}

# umount_gone DIR WHAT PID: after an umount: DIR is not a mountpoint, the server PID is gone
# (within 5 s), no FUSE mount of the state dir's layers in /proc/mounts, no state dir
umount_gone() {
    local mnt=$1 what=$2 pid=$3 st i
    st=$(state_dir "$mnt")
    ! mountpoint -q "$mnt" && ! is_mounted "$mnt" && ok || bad "$what: $mnt is still mounted"
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        bad "$what: the server (pid $pid) is still running: $(ps -o pid=,stat=,args= -p "$pid")
$(server_log "$mnt")"
    else
        ok
    fi
    if grep -F " $st/" /proc/mounts >left-mounts.txt || grep -E '^lazysnap:[^ ]* '"$mnt " /proc/mounts >>left-mounts.txt; then
        bad "$what: mounts left: $(cat left-mounts.txt)"
    else
        ok
    fi
    [ ! -e "$st" ] && ok || bad "$what: the state dir $st is left: $(ls -la "$st" 2>&1)"
    [ ! -e "$st.lock" ] && ok || bad "$what: the state's lock file $st.lock is left"
}

# src_path F: the source file of image path F (a/... is in layer 1, b/... in 2, c/... in 3)
src_path() {
    case $1 in a/*) echo "src/l1/$1" ;; b/*) echo "src/l2/$1" ;; c/*) echo "src/l3/$1" ;; esac
}

# secs_between T0 T1: T1 - T0 (date +%s.%N values), 3 decimals
secs_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# pct BYTES: BYTES as a percentage of the compressed image, 3 decimals
pct() { awk -v b="$1" -v t="$image_size" 'BEGIN { printf "%.3f", 100 * b / t }'; }

# sum_field JSON FIELD: the sum over the layers
sum_field() { jq "[.layers[].$2] | add" "$1"; }

# ---- 1. lazy: one small file fetches < 2% of the image ---------------------------------------------
m1=$work/mnt-m1
small=a/txt/f0300.txt
mark=$(plog_mark)
if do_mount m1 "$work/cache1" --no-background; then
    index_bytes=$(plog_bytes "$mark" index)
    index_gets=$(plog_gets "$mark" index)
    config_gets=$(plog_gets "$mark" config)
    mount_layer_bytes=$(plog_bytes "$mark" layer)
    grep -qE "^mounted $ref at $m1 in [0-9]+\.[0-9]{3} s \(3 layers: 3 indexed, 0 fetched whole\)$" mount-m1.out &&
        ok || bad "m1: mount output: $(cat mount-m1.out)"
    [ "$mount_layer_bytes" -eq 0 ] && ok || bad "m1: the mount alone fetched $mount_layer_bytes layer bytes"
    if cmp -s "$m1/$small" "src/l1/$small"; then ok; else bad "m1: $small differs from the source"; fi
    if stat_json "$m1" s1.json; then
        ok
        st_fetched=$(sum_field s1.json fetched)
        px_fetched=$(plog_bytes "$mark" layer)
        echo "check 1: read $small ($(stat -c %s "src/l1/$small") B): layer bytes fetched: stat --json $st_fetched ($(pct "$st_fetched")%), registry $px_fetched ($(pct "$px_fetched")%) of $image_size; index blobs (at mount): $index_bytes B in $index_gets GETs ($(pct "$index_bytes")%); config GETs: $config_gets"
        [ "$st_fetched" -gt 0 ] && [ $((st_fetched * 50)) -lt "$image_size" ] && ok ||
            bad "m1: stat --json: $st_fetched layer bytes fetched for one small file (2% of $image_size: $((image_size / 50)))"
        [ "$px_fetched" -gt 0 ] && [ $((px_fetched * 50)) -lt "$image_size" ] && ok ||
            bad "m1: registry: $px_fetched layer bytes served for one small file (2% of $image_size: $((image_size / 50)))"
        # only the first layer was touched, and the two counts agree
        [ "$(jq '[.layers[1:][] | .fetched] | add' s1.json)" -eq 0 ] && ok ||
            bad "m1: layers 1 and 2 fetched bytes: $(jq -c '[.layers[].fetched]' s1.json)"
        [ "$st_fetched" -eq "$px_fetched" ] && ok ||
            bad "m1: stat --json says $st_fetched layer bytes fetched, the registry served $px_fetched"
        [ "$(jq -r '[.layers[].indexed] | all' s1.json)" = true ] && ok || bad "m1: not every layer indexed: $(cat s1.json)"
        [ "$(jq '[.layers[] | .compressed_size] | add' s1.json)" -eq "$image_size" ] && ok ||
            bad "m1: compressed sizes $(jq -c '[.layers[].compressed_size]' s1.json) do not add up to $image_size"
    else
        bad "m1: stat --json: $(cat s1.json.err s1.json)"
    fi

    # ---- 2. 64 parallel readers of distinct cold files ------------------------------------------
    # per layer: 7 big random files and 14 small ones away from the file of check 1 (a, b, c:
    # 21 + 21 + 21), plus one more small file of b: 64
    par=()
    for top in a b c; do
        for i in 0 1 2 3 4 5 6; do par+=("$top/bin/r0$i.bin"); done
        for i in 0000 0007 0020 0033 0047 0059 0071 0350 0361 0372 0380 0388 0395 0399; do
            par+=("$top/txt/f$i.txt")
        done
    done
    par+=(b/txt/f0150.txt)
    [ "${#par[@]}" -eq 64 ] && [ "$(printf '%s\n' "${par[@]}" | sort -u | wc -l)" -eq 64 ] || bad "check 2: not 64 distinct files"
    grep -F -f <(printf ' ./%s\n' "${par[@]}") src.sums | sort -k2 >par.sums
    rm -rf par && mkdir par
    t0=$(date +%s.%N)
    pids=()
    for i in "${!par[@]}"; do
        (cd "$m1" && timeout 120 sha256sum "./${par[i]}") >"par/$i.out" 2>"par/$i.err" &
        pids+=($!)
    done
    fails=0
    for i in "${!pids[@]}"; do
        rc=0
        wait "${pids[i]}" || rc=$?
        if [ $rc -ne 0 ]; then
            fails=$((fails + 1))
            bad "check 2: reader of ${par[i]}: exit $rc$([ $rc -eq 124 ] && echo ' (hung: timeout)') $(cat "par/$i.err")"
        fi
    done
    t1=$(date +%s.%N)
    cat par/*.out | sort -k2 >par.got
    if [ $fails -eq 0 ] && cmp -s par.got par.sums; then ok; else
        bad "check 2: parallel reads differ from the source: $(diff par.sums par.got | head -10)$(server_log "$m1")"
    fi
    par_bytes=0
    for f in "${par[@]}"; do par_bytes=$((par_bytes + $(stat -c %s "$(src_path "$f")"))); done
    echo "check 2: 64 parallel readers of $par_bytes bytes in $(secs_between "$t0" "$t1") s"
    if stat_json "$m1" s2.json; then
        [ "$(sum_field s2.json read_errors)" -eq 0 ] && [ "$(sum_field s2.json verify_failures)" -eq 0 ] && ok ||
            bad "check 2: errors: $(jq -c '[.layers[] | {read_errors, verify_failures}]' s2.json)"
    else
        bad "check 2: stat --json: $(cat s2.json.err)"
    fi

    # ---- 3. restart: the same cache, 0 layer bytes for what was read --------------------------
    pid1=$(server_pid "$m1")
    rc=0
    timeout 120 "$lz" umount "$m1" --run-dir "$run" >umount-m1.out 2>umount-m1.err || rc=$?
    [ $rc -eq 0 ] && ok || bad "m1: umount exit $rc: $(cat umount-m1.err)"
    umount_gone "$m1" "m1 umount" "$pid1"
    # one of the indexes kept in the cache is damaged: that one is fetched again
    kept=("$work"/cache1/indexes/sha256/*.index)
    [ ${#kept[@]} -eq 3 ] && [ -f "${kept[0]}" ] && ok || bad "check 3: kept indexes: ${kept[*]}"
    # (one byte in the middle of the file table or checkpoints: only the recorded sha256 tells)
    printf '\x5a' | dd of="${kept[0]}" bs=1 seek=$(($(stat -c %s "${kept[0]}") / 2)) conv=notrunc status=none
    mark=$(plog_mark)
    if do_mount m1 "$work/cache1" --no-background; then
        index_bytes3=$(plog_bytes "$mark" index)
        fails=0
        (cd "$m1" && timeout 120 sha256sum "./$small" "${par[@]/#/./}") >again.got 2>again.err || fails=1
        sort -k2 again.got >again.sorted
        (grep -F " ./$small" src.sums; cat par.sums) | sort -k2 >again.sums
        [ $fails -eq 0 ] && cmp -s again.sorted again.sums && ok ||
            bad "check 3: rereading after the restart: $(cat again.err; diff again.sums again.sorted | head -5)"
        if stat_json "$m1" s3.json; then
            [ "$(sum_field s3.json fetched)" -eq 0 ] && [ "$(sum_field s3.json requests)" -eq 0 ] && ok ||
                bad "check 3: after the restart: fetched $(jq -c '[.layers[].fetched]' s3.json), requests $(jq -c '[.layers[].requests]' s3.json)"
        else
            bad "check 3: stat --json: $(cat s3.json.err)"
        fi
        px3=$(plog_bytes "$mark" layer)
        [ "$px3" -eq 0 ] && [ "$(plog_gets "$mark" layer)" -eq 0 ] && ok ||
            bad "check 3: the registry served $px3 layer bytes after the restart"
        # the indexes were kept in the cache by the first mount, but for the damaged one
        [ "$(plog_gets "$mark" index)" -eq 1 ] && ok ||
            bad "check 3: $(plog_gets "$mark" index) index blob GETs after the restart, want 1 (the damaged one)"
        echo "check 3: restart on the same cache: $(sum_field s3.json fetched) layer bytes by stat --json, $px3 by the registry (index blobs: $index_bytes3 B)"
        pid1=$(server_pid "$m1")
        rc=0
        timeout 120 "$lz" umount "$m1" --run-dir "$run" >umount-m1.out 2>umount-m1.err || rc=$?
        [ $rc -eq 0 ] && ok || bad "m1: second umount exit $rc: $(cat umount-m1.err)"
        umount_gone "$m1" "m1 second umount" "$pid1"
    fi
fi

# ---- 4. the registry stops answering --------------------------------------------------------------
m4=$work/mnt-m4
cached=a/txt/f0100.txt
cold=b/bin/r03.bin      # layer 1, untouched
cold2=c/txt/f0200.txt   # layer 2, untouched
# read_cold LABEL FILE: cat of a cold file while the registry does not answer: EIO within 30 s
read_cold() {
    local label=$1 f=$2 rc=0 t0 t1 secs
    t0=$(date +%s.%N)
    timeout 60 cat "$m4/$f" >cold.out 2>cold.err || rc=$?
    t1=$(date +%s.%N)
    secs=$(secs_between "$t0" "$t1")
    echo "check 4 ($label): cat of cold $f failed after $secs s: exit $rc, $(cat cold.err)"
    [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q 'Input/output error' cold.err && ok ||
        bad "check 4 ($label): cat $f: exit $rc$([ $rc -eq 124 ] && echo ' (hung)'), '$(cat cold.err)', wanted an I/O error"
    awk -v s="$secs" 'BEGIN { exit !(s < 30) }' && ok || bad "check 4 ($label): the I/O error took $secs s"
}
if do_mount m4 "$work/cache4" --no-background --timeout 3s --retries 1; then
    cmp -s "$m4/$cached" "src/l1/$cached" && ok || bad "check 4: $cached differs before the outage"
    # the registry freezes: connections are accepted, nothing is answered
    rig_on_exit "kill -CONT $reg_pid 2>/dev/null"
    kill -STOP "$reg_pid"
    cmp -s "$m4/$cached" "src/l1/$cached" && ok || bad "check 4: the cached $cached does not read while the registry is stopped"
    # from lazysnap's cache, not the kernel's page cache
    echo 1 >/proc/sys/vm/drop_caches
    cmp -s "$m4/$cached" "src/l1/$cached" && ok || bad "check 4: the cached $cached does not read (page cache dropped)"
    read_cold "registry stopped" "$cold"
    cmp -s "$m4/$cached" "src/l1/$cached" && ok || bad "check 4: the cached $cached does not read after the EIO"
    if stat_json "$m4" s4.json; then
        [ "$(jq '.layers[1].read_errors' s4.json)" -ge 1 ] && ok ||
            bad "check 4: read_errors after the EIO: $(jq -c '[.layers[].read_errors]' s4.json)"
    else
        bad "check 4: stat --json while the registry is stopped: $(cat s4.json.err)"
    fi
    kill -CONT "$reg_pid"
    rc=0
    timeout 60 cmp "$m4/$cold" "$(src_path "$cold")" >cmp4.out 2>&1 || rc=$?
    [ $rc -eq 0 ] && ok || bad "check 4: $cold after the registry is back: exit $rc $(cat cmp4.out)$(server_log "$m4")"

    # the same with a registry that sends the headers of blob GETs, then nothing
    rig_fault stall 1000 '/blobs/sha256:'
    read_cold "blob bodies stalled" "$cold2"
    cmp -s "$m4/$cached" "src/l1/$cached" && ok || bad "check 4: the cached $cached does not read after the stall"
    rig_fault clear
    rc=0
    timeout 60 cmp "$m4/$cold2" "$(src_path "$cold2")" >cmp4.out 2>&1 || rc=$?
    [ $rc -eq 0 ] && ok || bad "check 4: $cold2 after the stall ended: exit $rc $(cat cmp4.out)$(server_log "$m4")"
    if stat_json "$m4" s4b.json; then
        [ "$(jq '.layers[2].read_errors' s4b.json)" -ge 1 ] && ok ||
            bad "check 4: read_errors after the stalled EIO: $(jq -c '[.layers[].read_errors]' s4b.json)"
        [ "$(sum_field s4b.json verify_failures)" -eq 0 ] && ok ||
            bad "check 4: verify failures: $(jq -c '[.layers[].verify_failures]' s4b.json)"
    else
        bad "check 4: stat --json: $(cat s4b.json.err)"
    fi
    pid4=$(server_pid "$m4")
    rc=0
    timeout 120 "$lz" umount "$m4" --run-dir "$run" >umount-m4.out 2>umount-m4.err || rc=$?
    [ $rc -eq 0 ] && ok || bad "m4: umount exit $rc: $(cat umount-m4.err)"
    umount_gone "$m4" "m4 umount" "$pid4"
fi

# ---- 6. umount while a file is open -------------------------------------------------------------
m6=$work/mnt-m6
held=a/txt/f0001.txt
for variant in plain lazy; do
    do_mount m6 "$work/cache1" --no-background || continue
    pid6=$(server_pid "$m6")
    (exec 9<"$m6/$held" && exec sleep 600) &
    holder=$!
    rig_on_exit "kill $holder 2>/dev/null"
    for _ in $(seq 1 50); do
        [ "$(readlink "/proc/$holder/fd/9")" = "$m6/$held" ] && break
        sleep 0.1
    done
    [ "$(readlink "/proc/$holder/fd/9")" = "$m6/$held" ] || bad "check 6: the holder did not open $held"
    if [ $variant = plain ]; then
        expect_fail 1 'busy' "$lz" umount "$m6" --run-dir "$run"
        mountpoint -q "$m6" && kill -0 "$pid6" 2>/dev/null && cmp -s "$m6/$held" "src/l1/$held" && ok ||
            bad "check 6: after the refused umount the mount or its server (pid $pid6) is gone"
        kill "$holder"
        wait "$holder" 2>/dev/null || true
        rc=0
        timeout 120 "$lz" umount "$m6" --run-dir "$run" >umount-m6.out 2>umount-m6.err || rc=$?
        [ $rc -eq 0 ] && ok || bad "check 6: umount after the close: exit $rc: $(cat umount-m6.err)"
        umount_gone "$m6" "check 6 (plain)" "$pid6"
    else
        # detached at once; the open file keeps working; the server ends when it is closed
        rc=0
        t0=$(date +%s.%N)
        timeout 20 "$lz" umount "$m6" --lazy --run-dir "$run" >umount-m6.out 2>umount-m6.err || rc=$?
        secs=$(secs_between "$t0" "$(date +%s.%N)")
        echo "check 6: umount --lazy with a file open: exit $rc after $secs s: $(cat umount-m6.out umount-m6.err)"
        [ $rc -eq 0 ] && grep -q detached umount-m6.out && ok ||
            bad "check 6: umount --lazy with a file open: exit $rc$([ $rc -eq 124 ] && echo ' (hung: timeout 20)') after $secs s: $(cat umount-m6.err)"
        awk -v s="$secs" 'BEGIN { exit !(s < 15) }' && ok || bad "check 6: umount --lazy took $secs s"
        ! mountpoint -q "$m6" && ok || bad "check 6: $m6 is still mounted after umount --lazy"
        timeout 30 cmp "/proc/$holder/fd/9" "src/l1/$held" && ok ||
            bad "check 6: the file held open does not read correctly after umount --lazy"
        kill -0 "$pid6" 2>/dev/null && ok || bad "check 6: the server ended while a file was open"
        kill "$holder" 2>/dev/null
        wait "$holder" 2>/dev/null || true
        umount_gone "$m6" "check 6 (--lazy, after the close)" "$pid6"
    fi
done

# ---- 7. errors ----------------------------------------------------------------------------------
m7=$work/mnt-m7
rig_on_exit mount_unmount "$m7"
expect_fail 1 'lazy:v1-nope: .*404' "$lz" mount "$ref-nope" "$m7" --cache "$work/cache7" --run-dir "$run"
echo "check 7: mount of a missing tag: $(cat expect.err)"
! is_mounted "$m7" && ok || bad "check 7: $m7 is mounted after a failed mount"
[ ! -e "$(state_dir "$m7")" ] && ok || bad "check 7: state dir left: $(ls -la "$(state_dir "$m7")")"
left=$(lz_pids)
[ -z "$left" ] && ok || bad "check 7: lazysnap processes left: $(ps -o pid=,args= -p "${left//$'\n'/,}")"
mkdir -p plain
expect_fail 1 'not mounted by lazysnap' "$lz" umount "$work/plain" --run-dir "$run"
mkdir -p foreign
mount -t tmpfs -o size=1m lazysnap-test "$work/foreign"
rig_on_exit "umount -l '$work/foreign' 2>/dev/null"
expect_fail 1 'not mounted by lazysnap' "$lz" umount "$work/foreign" --run-dir "$run"
mountpoint -q foreign && ok || bad "check 7: lazysnap umount unmounted a foreign tmpfs"
umount "$work/foreign"
# relative --cache and --run-dir: the detached server leaves the working directory and still
# finds them
mkdir -p rel/mnt
rig_on_exit "timeout 60 '$lz' umount '$work/rel/mnt' --run-dir '$work/rel/run' >/dev/null 2>&1 || umount -l '$work/rel/mnt' 2>/dev/null || true"
rc=0
(cd rel && timeout 120 "$lz" mount "$ref" mnt --cache cache --run-dir run --no-background) \
    >mount-rel.out 2>mount-rel.err || rc=$?
[ $rc -eq 0 ] && mountpoint -q rel/mnt && ok || bad "check 7: mount with relative paths: exit $rc $(cat mount-rel.err)"
relpid=$(awk '{print $1}' "rel/run/m-$(printf %s "$work/rel/mnt" | sha256sum | cut -c1-16)/pid" 2>/dev/null || true)
[ -n "$relpid" ] && [ "$(readlink "/proc/$relpid/cwd")" = / ] && ok ||
    bad "check 7: the server (pid '$relpid') works in $(readlink "/proc/$relpid/cwd" 2>&1), not /"
cmp -s rel/mnt/$small "$(src_path $small)" && [ -d rel/cache/layers ] && ok ||
    bad "check 7: reading through the mount with a relative cache: $(ls rel 2>&1)"
# a second mount of the same directory is refused, the first stays
expect_fail 1 'already mounted by lazysnap \(pid [0-9]+\)' "$lz" mount "$ref" "$work/rel/mnt" --cache "$work/cache7" --run-dir "$work/rel/run"
mountpoint -q rel/mnt && ok || bad "check 7: a refused second mount unmounted the first"
rc=0
(cd rel && timeout 120 "$lz" umount mnt --run-dir run) >umount-rel.out 2>umount-rel.err || rc=$?
[ $rc -eq 0 ] && ! is_mounted "$work/rel/mnt" && ok || bad "check 7: umount with relative paths: exit $rc $(cat umount-rel.err)"
# Ctrl-C while the mount command waits (for a registry that does not answer yet): nothing is
# left mounted or running once the server got its answer. (SIGTERM stands in for SIGINT, which
# a script's background jobs ignore.)
m9=$work/mnt-m9
mkdir -p "$m9"
rig_on_exit mount_unmount "$m9"
kill -STOP "$reg_pid"
"$lz" mount "$ref" "$m9" --cache "$work/cache9" --run-dir "$run" >mount-m9.out 2>mount-m9.err &
p9=$!
sleep 0.5
kill -TERM "$p9"
rc=0
wait "$p9" || rc=$?
kill -CONT "$reg_pid"
for ((i = 0; i < 200; i++)); do
    [ -z "$(lz_pids)" ] && ! is_mounted "$m9" && break
    sleep 0.1
done
echo "check 7: SIGTERM 0.5 s into a mount: exit $rc, $(cat mount-m9.out mount-m9.err | head -2)"
[ $rc -eq 143 ] && ok || bad "check 7: the interrupted mount command exited $rc, not 143"
[ -z "$(lz_pids)" ] && ! is_mounted "$m9" && [ ! -e "$(state_dir "$m9")" ] && ok ||
    bad "check 7: after Ctrl-C: processes $(lz_pids | tr '\n' ' '), mounted: $(is_mounted "$m9" && echo yes || echo no), state: $(ls "$(state_dir "$m9")" 2>&1)"

# ---- 5. background fetch, then the registry gone ------------------------------------------------
m5=$work/mnt-m5
mark=$(plog_mark)
if do_mount m5 "$work/cache5"; then
    t0=$SECONDS
    complete=false
    while [ $((SECONDS - t0)) -lt 60 ]; do
        if timeout 30 "$lz" stat "$m5" --json --run-dir "$run" >s5.json 2>s5.err &&
            [ "$(jq -r '[.layers[].complete] | all' s5.json)" = true ]; then
            complete=true
            break
        fi
        sleep 0.5
    done
    echo "check 5: background fetch: complete=$complete after $((SECONDS - t0)) s; layer bytes fetched: stat --json $(sum_field s5.json fetched) ($(jq -c '[.layers[].fetched]' s5.json)), registry $(plog_bytes "$mark" layer) in $(plog_gets "$mark" layer) GETs, of $image_size ($(jq -c '[.layers[].compressed_size]' s5.json))"
    $complete && ok || bad "check 5: not complete after 60 s: $(jq -c '[.layers[] | {present, size, fetched}]' s5.json)"
    # adjoining pieces: the whole layers cost little more than their compressed size
    fetched5=$(sum_field s5.json fetched)
    awk -v f="$fetched5" -v t="$image_size" 'BEGIN { exit !(f <= 1.05 * t) }' && ok ||
        bad "check 5: the background fetch read $fetched5 bytes for $image_size compressed (> 1.05x)"
    [ "$(jq '[.layers[] | select(.present != .size)] | length' s5.json)" -eq 0 ] && ok ||
        bad "check 5: complete layers that are not all present: $(cat s5.json)"
    # the registry dies (and stays dead: the fault proxy answers 502 or nothing)
    rig__stop "$reg_pid" || true # (its last kill fails when TERM sufficed: not under set -e)
    ! curl -s -o /dev/null --max-time 2 "http://$reg/v2/" && ok || bad "check 5: the registry still answers"
    rc=0
    (cd "$m5" && find . -type f | sort) >m5.list
    awk '{print $2}' src.sums | sort | cmp -s - m5.list && ok ||
        bad "check 5: the mount's files differ from the source's: $(awk '{print $2}' src.sums | sort | diff - m5.list | head -5)"
    (cd "$m5" && timeout 120 sha256sum -c --quiet "$work/src.sums") >c5.out 2>&1 || rc=$?
    [ $rc -eq 0 ] && ok || bad "check 5: reading every file with the registry gone: exit $rc $(head -5 c5.out)$(server_log "$m5")"
    pid5=$(server_pid "$m5")
    rc=0
    timeout 120 "$lz" umount "$m5" --run-dir "$run" >umount-m5.out 2>umount-m5.err || rc=$?
    [ $rc -eq 0 ] && ok || bad "m5: umount exit $rc: $(cat umount-m5.err)"
    umount_gone "$m5" "m5 umount" "$pid5"
fi

# ---- sanitizer reports of every lazysnap process, detached servers included ----------------------
sleep 0.5
no_sanitizer_reports
echo "total: $((SECONDS - t_start)) s"
check_done
