#!/usr/bin/env bash
# bench/mount: reads through `lazysnap mount` against the same image unpacked on native overlayfs,
# in one run, reported as ratios (lazysnap ÷ native). Never an assertion: targets are printed as
# met / not met and the exit status does not depend on them.
#
#   bench/mount/run.sh [--quick] [--size-mb N] [--files N] [--count N] [--reps N] [--native-only]
#
# Builds a Release `lazysnap` and `bench-randread`, starts a docker-registry on 127.0.0.1 (the
# integration rig), pushes a two-layer gzip image (A: one big file of --size-mb MiB, half random
# bytes and half text; B: --files small files of this machine's /usr), indexes it with
# `lazysnap index create --push`, unpacks the same layer blobs into two directories merged by
# kernel overlayfs (lowerdir=B:A, read-only) = "native", then measures:
#   warm sequential  the big file read once through a mount (--no-background: nothing else
#                    fetched meanwhile) so that it is in the cache, then after
#                    `sync; echo 3 > drop_caches`, `randread --seq` of it, on both; once into a
#                    page-aligned buffer (the target), once 16 bytes past a page boundary
#   cold random      a fresh mount with an empty cache and --no-background, after drop_caches:
#                    `randread --count N --size 4096` over B's files, on both, same seed
#   registry floor   N ranged GETs of 256 KiB at random offsets of B's blob with curl on one
#                    connection: what the registry alone costs a cold read
# Prints a table and writes bench/mount/results/<date>.csv. Root only (mounts, drop_caches).
# Environment: BUILD_DIR (default build-release), LAZYSNAP=path to use a ready lazysnap binary.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

size_mb=1024 files=20000 count=500 reps=3 native_only=0
usage() {
    echo "usage: bench/mount/run.sh [--quick] [--size-mb N] [--files N] [--count N] [--reps N] [--native-only]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) size_mb=256 reps=1; shift ;;
    --size-mb) size_mb=${2:-}; shift 2 || usage ;;
    --files) files=${2:-}; shift 2 || usage ;;
    --count) count=${2:-}; shift 2 || usage ;;
    --reps) reps=${2:-}; shift 2 || usage ;;
    --native-only) native_only=1; shift ;;
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "bench: bad option '$1'" >&2; usage ;;
    esac
done
for v in "$size_mb" "$files" "$count" "$reps"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: '$v' is not a positive number" >&2; usage; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (mounts, drop_caches)" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "bench: no /dev/fuse" >&2; exit 1; }
grep -qw overlay /proc/filesystems || modprobe overlay 2>/dev/null ||
    { echo "bench: no overlayfs in this kernel" >&2; exit 1; }

# ---- build ---------------------------------------------------------------------------------
cd "$root"
scripts/deps.sh test
build=${BUILD_DIR:-build-release}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
if [ -n "${LAZYSNAP:-}" ]; then
    lz=$(realpath "$LAZYSNAP")
    cmake --build "$build" -j "$(nproc)" --target bench-randread >/dev/null
else
    cmake --build "$build" -j "$(nproc)" --target lazysnap bench-randread >/dev/null
    lz=$root/$build/cmd/lazysnap/lazysnap
fi
rr=$root/$build/bench/bench-randread
results=$here/results
mkdir -p "$results"
stamp=$(date -u +%Y-%m-%d-%H%M%S)
csv=$results/$stamp.csv

# Does this lazysnap have `mount`? (Unknown verbs exit 2 with "unknown verb".)
have_mount=1
if ! "$lz" mount --help >/dev/null 2>&1; then have_mount=0; fi
if [ $have_mount -eq 0 ] && [ $native_only -eq 0 ]; then
    echo "bench: NOTE: $lz has no 'mount' verb ('$lz mount --help' fails): the native half" \
        "runs, then the bench stops with an error (--native-only runs just that half)" >&2
fi

# ---- helpers -------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib/rig.sh
source "$root/tests/integration/lib/rig.sh"

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# kv KEY LINE: the value of KEY=VALUE in a randread line
kv() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }
# median of the arguments
median() {
    printf '%s\n' "$@" | sort -g |
        awk '{a[NR] = $1} END {if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
step() { printf '== %s\n' "$*"; }

# lz_umount DIR RUN: unmounts a lazysnap mount; falls back to a lazy unmount so that nothing is
# left mounted (the serving process exits when its mount goes away).
lz_umount() {
    local dir=$1 run=$2
    mountpoint -q "$dir" || return 0
    "$lz" umount "$dir" --run-dir "$run" || true
    if mountpoint -q "$dir"; then
        echo "bench: lazysnap umount $dir failed; lazy-unmounting it" >&2
        fusermount3 -u -z "$dir" 2>/dev/null || umount -l "$dir"
    fi
}

# lz_mount DIR CACHE RUN [OPTS...]: `lazysnap mount`; sets MOUNT_S (its reported time, or "")
lz_mount() {
    local dir=$1 cache=$2 run=$3 out
    shift 3
    mkdir -p "$cache" "$run"
    rig_on_exit lz_umount "$dir" "$run"
    # to a file, not $(...): a serving process that kept the pipe open would hang the bench
    if ! timeout 300 "$lz" mount "$ref" "$dir" --cache "$cache" --run-dir "$run" "$@" >"$work/mount.out" 2>&1; then
        echo "bench: lazysnap mount $ref $dir failed: $(cat "$work/mount.out")" >&2
        return 1
    fi
    out=$(cat "$work/mount.out")
    echo "   $out"
    mountpoint -q "$dir" || { echo "bench: lazysnap mount returned but $dir is not a mountpoint" >&2; return 1; }
    MOUNT_S=$(sed -n 's/.* in \([0-9.]*\) s.*/\1/p' <<<"$out")
    if [ -n "$MOUNT_S" ]; then MOUNT_S=$(printf '%.3f' "$MOUNT_S"); fi
}

lz_stat() { "$lz" stat "$1" --run-dir "$2" 2>&1 | sed 's/^/   stat: /' || true; }

rig_init
work=$RIG_TMP
cd "$work"

# ---- the image -----------------------------------------------------------------------------
step "image: layer A = one ${size_mb} MiB file, layer B = $files small files of /usr"
mkdir -p stageA/data stageB
python3 - "$size_mb" stageA/data/big.bin <<'PY'
# Half random bytes, half text, in 64 KiB runs: gzip -6 makes it ~0.6 of its size, like binaries.
import glob, os, sys
mib, out = int(sys.argv[1]), sys.argv[2]
text = b""
for p in sorted(glob.glob("/usr/share/doc/*/copyright")) + sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isfile(p):
        text += open(p, "rb").read()
    if len(text) > 8 << 20:
        break
text = (text or b"lazysnap bench text\n") * (1 + (1 << 20) // max(1, len(text)))
run, pos = 64 << 10, 0
with open(out, "wb") as f:
    for _ in range(mib * (1 << 20) // (2 * run)):
        f.write(os.urandom(run))
        if pos + run > len(text):
            pos = 0
        f.write(text[pos:pos + run])
        pos += 4099 * 16
PY
# B: the first FILES regular, non-empty files up to 1 MiB of a few /usr trees, sorted by path
find /usr/include /usr/lib/python3* /usr/share/doc /usr/share/man /usr/share/perl /usr/share/locale \
    -type f -size +0 -size -1025k 2>/dev/null | LC_ALL=C sort | awk -v n="$files" 'NR <= n' | sed 's:^/::' >b.list
[ "$(wc -l <b.list)" -ge "$files" ] || echo "bench: only $(wc -l <b.list) small files found" >&2
tar -C / -cf - --no-recursion -T b.list | tar -C stageB -xf -
for l in A B; do tar -C "stage$l" --sort=name --numeric-owner -cf "$l.tar" .; done
rm -rf stageA stageB
rig_image_build_tar img:bench A.tar B.tar
rm -f A.tar B.tar

# shellcheck disable=SC2119  # no options: an anonymous registry
rig_registry
ref=$RIG_REG/bench/mount:v1
step "push to $ref (gzip) and index it"
rig_image_push img:bench "$ref"
mapfile -t layers < <(rig_layers "$ref" | awk '{print $1}')
[ ${#layers[@]} -eq 2 ] || { echo "bench: expected 2 layers, got: ${layers[*]}" >&2; exit 1; }
"$lz" index create "$ref" --push --plain-http --min-layer-size 0 | sed 's/^/   /'
gz_a=$(stat -c %s "img/blobs/sha256/${layers[0]#sha256:}")
gz_b=$(stat -c %s "img/blobs/sha256/${layers[1]#sha256:}")
echo "   layer A: $((gz_a >> 20)) MiB gzip, layer B: $((gz_b >> 20)) MiB gzip"

# ---- native: the same blobs unpacked, merged by overlayfs ----------------------------------
step "native: unpack both layers, overlayfs lowerdir=B:A (read-only)"
mkdir -p native/A native/B native/merged
for i in 0 1; do
    d=native/$([ $i -eq 0 ] && echo A || echo B)
    pigz -dc "img/blobs/sha256/${layers[i]#sha256:}" | tar -C "$d" --numeric-owner -xpf -
done
rig_on_exit "mountpoint -q '$work/native/merged' && umount '$work/native/merged'"
mount -t overlay overlay -o "ro,lowerdir=$work/native/B:$work/native/A" native/merged
native=$work/native/merged
big_rel=data/big.bin
big_bytes=$(stat -c %s "$native/$big_rel")
(cd "$native" && find usr -type f -size +0 | LC_ALL=C sort) >small.rel
echo "   $(wc -l <small.rel) small files, big file $((big_bytes >> 20)) MiB"
sed "s:^:$native/:" small.rel >native.list

# ---- measurements --------------------------------------------------------------------------
first_lz="" mount_cold="" cold_lz="" cold_native=""
mnt_warm=$work/mnt-warm mnt_cold=$work/mnt-cold run_dir=$work/run

if [ $have_mount -eq 1 ] && [ $native_only -eq 0 ]; then
    step "lazysnap: warm sequential read (mount --no-background, read the big file once, drop caches)"
    drop_caches
    lz_mount "$mnt_warm" "$work/cache-warm" "$run_dir" --no-background
    first=$("$rr" --seq "$mnt_warm/$big_rel")
    first_lz=$(kv MBps "$first")
    echo "   first read (fetching): $first"
    [ "$(kv bytes "$first")" = "$big_bytes" ] ||
        { echo "bench: read $(kv bytes "$first") bytes of $big_rel through the mount, want $big_bytes" >&2; exit 1; }
    cmp -s "$mnt_warm/$big_rel" "$native/$big_rel" ||
        { echo "bench: $big_rel differs between the mount and native" >&2; exit 1; }
fi

step "warm sequential read of the ${size_mb} MiB file, $reps rep(s), after drop_caches each"
# seq_once SIDE FILE MISALIGN: one read; its MB/s is appended to the array seq_SIDE_MISALIGN
seq_once() {
    local line
    local -n into=seq_$1_$3
    drop_caches
    line=$("$rr" --seq "$2" --misalign "$3")
    printf '   %-8s misalign %-2s %s\n' "$1" "$3" "$line"
    into+=("$(kv MBps "$line")")
}
seq_pair() {
    seq_once native "$native/$big_rel" "$1"
    if [ -n "$first_lz" ]; then seq_once lazysnap "$mnt_warm/$big_rel" "$1"; fi
}
seq_native_0=() seq_lazysnap_0=() seq_native_16=() seq_lazysnap_16=()
# The sides alternate read by read (a read right after one of the same file ran slower on this
# VM's disk), and the order of the buffers changes every repetition: 0 16 16 0 0 16 ...
# 0: a page-aligned buffer, as cat, cp and dd read into; 16: 16 bytes past a page boundary, as a
# large malloc gives.
for ((r = 1; r <= reps; r++)); do
    if [ $((r % 2)) -eq 1 ]; then seq_pair 0; seq_pair 16; else seq_pair 16; seq_pair 0; fi
done
if [ -n "$first_lz" ]; then
    lz_stat "$mnt_warm" "$run_dir"
    lz_umount "$mnt_warm" "$run_dir"
fi

step "cold random 4 KiB reads: $count over $(wc -l <small.rel) small files, same seed on both"
drop_caches
line=$("$rr" --seed 42 --count "$count" --size 4096 --csv "$results/$stamp-native-reads.csv" native.list)
echo "   native   $line"
cold_native=$line
if [ -n "$first_lz" ]; then
    drop_caches
    lz_mount "$mnt_cold" "$work/cache-cold" "$run_dir" --no-background
    mount_cold=$MOUNT_S
    sed "s:^:$mnt_cold/:" small.rel >lz.list
    line=$("$rr" --seed 42 --count "$count" --size 4096 --csv "$results/$stamp-lazysnap-reads.csv" lz.list)
    echo "   lazysnap $line"
    cold_lz=$line
    lz_stat "$mnt_cold" "$run_dir"
    # after the timing: every 100th small file, whole, must equal native's
    awk 'NR % 100 == 1' small.rel | while read -r f; do
        cmp -s "$mnt_cold/$f" "$native/$f" || { echo "bench: /$f differs between the mount and native" >&2; exit 1; }
    done
    lz_umount "$mnt_cold" "$run_dir"
fi

# The floor under a cold read: each miss is one ranged GET of about a span's compressed bytes.
step "registry floor: $count ranged GETs of 256 KiB at random offsets of layer B, one connection"
floor_args=()
for ((i = 0; i < count; i++)); do
    off=$(( (RANDOM * 32768 + RANDOM) % (gz_b - (256 << 10)) ))
    floor_args+=(-r "$off-$((off + (256 << 10) - 1))" "http://$RIG_REG/v2/bench/mount/blobs/${layers[1]}" -o /dev/null)
done
floor_p50=$(curl -s "${floor_args[@]}" -w '%{time_total}\n' | sort -g |
    awk '{a[NR] = $1 * 1000} END {printf "%.3f", a[int((NR + 1) / 2)]}')
echo "   p50 ${floor_p50} ms"

# ---- report --------------------------------------------------------------------------------
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
{
    echo "date,measure,lazysnap,native,ratio,unit,note"
} >"$csv"
printf '\n%-40s %12s %12s %7s  %s\n' measure lazysnap native ratio note
# row NAME LZ NATIVE UNIT NOTE: table line and CSV line; ratio = lazysnap / native
row() {
    local name=$1 a=$2 b=$3 unit=$4 note=$5 ratio="n/a"
    if [ -n "$a" ] && [ -n "$b" ]; then ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'); fi
    printf '%-40s %12s %12s %7s  %s\n' "$name" "${a:-n/a}${a:+ $unit}" "${b:-n/a}${b:+ $unit}" "$ratio" "$note"
    echo "$stamp,\"$name\",${a},${b},${ratio/n\/a/},$unit,\"$note\"" >>"$csv"
}
sl="" sl16=""
if [ ${#seq_lazysnap_0[@]} -gt 0 ]; then sl=$(median "${seq_lazysnap_0[@]}") sl16=$(median "${seq_lazysnap_16[@]}"); fi
sn=$(median "${seq_native_0[@]}") sn16=$(median "${seq_native_16[@]}")
row "warm sequential read, ${size_mb} MiB file" "$sl" "$sn" MB/s "target ratio >= 0.9$([ -n "$sl" ] && awk -v a="$sl" -v b="$sn" 'BEGIN {print (a / b >= 0.9 ? ": met" : ": not met")}')"
row "warm sequential read, misaligned buffer" "$sl16" "$sn16" MB/s "the reader's copy (slow into such a buffer) competes with the daemon for the CPU"
lp50=$(kv p50_ms "$cold_lz") lp99=$(kv p99_ms "$cold_lz")
np50=$(kv p50_ms "$cold_native") np99=$(kv p99_ms "$cold_native")
row "cold random 4 KiB read p50" "$lp50" "$np50" ms "target lazysnap <= 5 ms$([ -n "$lp50" ] && awk -v a="$lp50" 'BEGIN {print (a <= 5 ? ": met" : ": not met")}')"
row "cold random 4 KiB read p99" "$lp99" "$np99" ms ""
row "cold random 4 KiB read mean" "$(kv mean_ms "$cold_lz")" "$(kv mean_ms "$cold_native")" ms ""
row "cold random 4 KiB read max" "$(kv max_ms "$cold_lz")" "$(kv max_ms "$cold_native")" ms ""
row "registry ranged GET of 256 KiB p50" "$floor_p50" "" ms "the registry alone: the floor under a cold read (one GET per miss)"
row "first read of the big file (fetching)" "$first_lz" "" MB/s "lazysnap only: registry on 127.0.0.1"
row "mount time, empty cache" "$mount_cold" "" s "lazysnap only: as 'lazysnap mount' reports it"
echo
echo "image: layer A ${size_mb} MiB file ($((gz_a >> 20)) MiB gzip), layer B $(wc -l <small.rel) files ($((gz_b >> 20)) MiB gzip); $reps rep(s) of the sequential read (median); $count random reads"
echo "cpu: $cpu, $(nproc) cores; results: ${csv#"$root"/} (per-read latencies: $stamp-*-reads.csv)"

if [ $have_mount -eq 0 ] && [ $native_only -eq 0 ]; then
    echo "bench: only the native half ran: '$lz mount' is not supported by this lazysnap" \
        "(rerun when it is, or pass --native-only)" >&2
    exit 1
fi
