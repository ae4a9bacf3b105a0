#!/usr/bin/env bash
# bench/stream: `lazysnap mount` of an image whose layer has no index, over an emulated network:
# the layer served while its blob streams in (default) against mounting once the whole blob is
# there and verified (--no-stream: what SOCI and stargz do with a layer they have no index or
# TOC for: a full pull first). Every repetition cold (a new cache). Reported as ratios
# (stream ÷ whole of the medians). Never an assertion: the exit status does not depend on the
# numbers.
#
#   bench/stream/run.sh [--quick] [--reps N] [--out DIR]
#
# Builds a Release `lazysnap` (BUILD_DIR, default build-bench), then a one-layer gzip image of
# this machine's files, in tar order (names sorted): 0first/hello.txt, 3a/ (/usr/bin),
# 5mid/mid.txt, 7b/ (/usr/lib/python3*, /usr/share/perl*), 9last/bye.txt; pushed without an
# index. The registry
# serves it from a network namespace behind an emulated link (bench/lib/net.sh). Profiles:
# 1gbit-10ms and 100mbit-30ms. Per profile x mode x repetition, from t0 = `lazysnap mount`:
#   mount   the mount command returned
#   first   0first/hello.txt read (the start of the layer)
#   mid     5mid/mid.txt read (/usr/bin's bytes before it)
#   last    9last/bye.txt read (the end: everything has arrived)
# --quick: 1 repetition, 1gbit-10ms only. Writes DIR (default bench/stream/results/<date>/):
# runs.csv, summary.csv, logs/. Root only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

reps=3 quick=0 out=""
usage() {
    echo "usage: bench/stream/run.sh [--quick] [--reps N] [--out DIR]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 reps=1; shift ;;
    --reps) reps=${2:-}; shift 2 || usage ;;
    --out) out=${2:-}; shift 2 || usage ;;
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "bench: bad option '$1'" >&2; usage ;;
    esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || { echo "bench: '$reps' is not a positive number" >&2; usage; }
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (mounts, network namespaces)" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "bench: no /dev/fuse" >&2; exit 1; }
if [ $quick -eq 1 ]; then profiles=(1gbit-10ms); else profiles=(1gbit-10ms 100mbit-30ms); fi
started=$SECONDS

# ---- build ---------------------------------------------------------------------------------
cd "$root"
scripts/deps.sh test
build=${BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target lazysnap >/dev/null
lz=$root/$build/cmd/lazysnap/lazysnap
stamp=$(date -u +%Y-%m-%d-%H%M%S)
out=${out:-$here/results/$stamp}
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)

# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib/rig.sh
source "$root/tests/integration/lib/rig.sh"
# shellcheck source-path=SCRIPTDIR source=../lib/net.sh
source "$here/../lib/net.sh"
step() { printf '== %s  (+%ds)\n' "$*" $((SECONDS - started)); }
now() { date +%s.%N; }
rig_init
set -E
trap '[[ $- != *e* ]] || echo "bench: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
work=$RIG_TMP
cd "$work"

# ---- the image -----------------------------------------------------------------------------
step "image: one layer of this machine's files, pushed without an index"
mkdir -p stage/0first stage/5mid stage/9last stage/7b
echo hello >stage/0first/hello.txt
echo middle >stage/5mid/mid.txt
echo bye >stage/9last/bye.txt
cp -al /usr/bin stage/3a 2>/dev/null || cp -a /usr/bin stage/3a
for d in /usr/lib/python3* /usr/share/perl*; do
    [ -d "$d" ] || continue
    cp -al "$d" "stage/7b/${d##*/}" 2>/dev/null || cp -a "$d" "stage/7b/${d##*/}"
done
rig_registry
rig_image_build "$work/img:s" stage
rig_image_push "$work/img:s" "$RIG_REG/bench/stream:1"
rm -rf stage img
layer=$(rig_layers "$RIG_REG/bench/stream:1" | awk '{print $1}')
blob_mb=$(rig_layers "$RIG_REG/bench/stream:1" | awk '{printf "%.0f", $2 / 1048576}')
echo "   layer $layer: $blob_mb MiB of gzip"

NET_LOG_DIR=$out/logs
net_init lzst
csv=$out/runs.csv
echo "profile,mode,rep,mount_s,first_s,mid_s,last_s" >"$csv"

# once PROFILE MODE REP: one cold mount and the three reads, times from t0
once() {
    local prof=$1 mode=$2 rep=$3 mnt=$work/mnt cache=$work/cache t0 tm tf tmid tl
    local -a opt=()
    [ "$mode" = whole ] && opt=(--no-stream)
    rm -rf "$cache" && mkdir -p "$mnt"
    sync && echo 3 >/proc/sys/vm/drop_caches
    t0=$(now)
    "$lz" mount "$NET_REG/bench/stream:1" "$mnt" --plain-http --cache "$cache" --run-dir "$work/run" \
        "${opt[@]}" >>"$out/logs/mount.log" 2>&1
    tm=$(now)
    cat "$mnt/0first/hello.txt" >/dev/null
    tf=$(now)
    cat "$mnt/5mid/mid.txt" >/dev/null
    tmid=$(now)
    cat "$mnt/9last/bye.txt" >/dev/null
    tl=$(now)
    "$lz" umount "$mnt" --run-dir "$work/run" >>"$out/logs/mount.log" 2>&1
    awk -v p="$prof" -v m="$mode" -v r="$rep" -v t0="$t0" -v a="$tm" -v b="$tf" -v c="$tmid" -v d="$tl" \
        'BEGIN {printf "%s,%s,%d,%.3f,%.3f,%.3f,%.3f\n", p, m, r, a - t0, b - t0, c - t0, d - t0}' >>"$csv"
    tail -1 "$csv" | sed 's/^/   /'
}

for prof in "${profiles[@]}"; do
    step "profile $prof"
    net_up "$prof"
    for ((rep = 1; rep <= reps; rep++)); do
        for mode in stream whole; do # alternate, so that drifts hit both
            once "$prof" "$mode" "$rep"
        done
    done
    net_down
done

# ---- summary -------------------------------------------------------------------------------
"${RIG_PYTHON:-python3}" - "$csv" "$out/summary.csv" "$blob_mb" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = ("mount_s", "first_s", "mid_s", "last_s")
with open(sys.argv[2], "w") as f:
    f.write("profile,what,stream_s,whole_s,ratio\n")
    for prof in dict.fromkeys(r["profile"] for r in rows):
        print(f"{prof} ({sys.argv[3]} MiB layer, medians): stream vs whole (--no-stream)")
        for c in cols:
            med = {m: statistics.median(float(r[c]) for r in rows if r["profile"] == prof and r["mode"] == m)
                   for m in ("stream", "whole")}
            ratio = med["stream"] / med["whole"] if med["whole"] else float("nan")
            f.write(f"{prof},{c[:-2]},{med['stream']:.3f},{med['whole']:.3f},{ratio:.3f}\n")
            print(f"   {c[:-2]:6} {med['stream']:8.3f} s {med['whole']:8.3f} s   ratio {ratio:.3f}")
PY
echo "results: $out"
