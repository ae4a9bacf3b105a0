#!/usr/bin/env bash
# bench/cold-start: time from `pull` to a container's first output line, for a >= 1 GB image
# over an emulated network, containerd's overlayfs snapshotter (full pull + unpack) against
# lazysnapd (lazy), every repetition cold. Reported as ratios (lazysnap ÷ overlayfs of the
# medians). Never an assertion: the exit status does not depend on the numbers.
#
#   bench/cold-start/run.sh [--quick] [--reps N] [--out DIR] [--size-mb N]
#
# Builds a Release `lazysnap` and `lazysnapd` (BUILD_DIR, default build-bench), then a 3-layer
# gzip image from this machine's files (os: /etc bits + /usr/lib/x86_64-linux-gnu + /usr/sbin;
# python: /usr/bin/python3* + /usr/lib/python3*; app: the rest of /usr/bin, then more of /usr
# until --size-mb MiB, default 1200), pushes it as gzip, zstd and zstd-mf and indexes them
# (`lazysnap index create --min-layer-size 0`). The registry serves them from a network namespace
# behind a /30 link: veth + `tc netem` (delay + rate on both ends), or, on kernels without
# sch_netem, two TUN devices joined by bench/cold-start/delayline.c (delay) with `tbf` (rate) on
# both ends. Profiles: 1gbit-10ms (1 Gbit/s, 10 ms RTT) and 100mbit-30ms.
# Per variant (gzip; zstd as skopeo writes it, one frame per layer; zstd-mf, many 1 MiB frames
# per layer, made by tests/tools/zstd_frames.py) x profile x snapshotter, --reps (default 3) cold repetitions: a new
# containerd (and lazysnapd) with empty roots, a host-network pod (its pause image comes from a
# registry on 127.0.0.1, before the clock starts, as kubelet runs the sandbox first), then
#   t0 -> `lazysnap pull REF` (CRI PullImage) -> CreateContainer + StartContainer of
#   python3 -c 'import json; print("ready")' -> the CRI log line "ready" (its timestamp)
# and the bytes that came over the link (rx of the host end), the layer-blob bytes the registry
# sent (its log), lazysnapd's peak RSS (VmHWM).
# --quick: 1 repetition, 1gbit-10ms and gzip only; ends with `cold-start lazysnap/overlayfs: R`.
# Writes DIR (default bench/cold-start/results/<date>/): runs.csv, summary.csv, start.png,
# logs/. Root only.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

reps=3 quick=0 out="" size_mb=1200
usage() {
    echo "usage: bench/cold-start/run.sh [--quick] [--reps N] [--out DIR] [--size-mb N]" >&2
    exit 2
}
while [ $# -gt 0 ]; do
    case $1 in
    --quick) quick=1 reps=1; shift ;;
    --reps) reps=${2:-}; shift 2 || usage ;;
    --out) out=${2:-}; shift 2 || usage ;;
    --size-mb) size_mb=${2:-}; shift 2 || usage ;;
    -h|--help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) echo "bench: bad option '$1'" >&2; usage ;;
    esac
done
for v in "$reps" "$size_mb"; do
    [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: '$v' is not a positive number" >&2; usage; }
done
[ "$(id -u)" -eq 0 ] || { echo "bench: needs root (containerd, mounts, network namespaces)" >&2; exit 1; }
[ -c /dev/fuse ] || { echo "bench: no /dev/fuse" >&2; exit 1; }
if [ $quick -eq 1 ]; then
    profiles=(1gbit-10ms) variants=(gzip)
else
    profiles=(1gbit-10ms 100mbit-30ms) variants=(gzip zstd zstd-mf)
fi
started=$SECONDS

# ---- build ---------------------------------------------------------------------------------
cd "$root"
scripts/deps.sh test
if ! command -v gnuplot >/dev/null; then
    echo "bench: installing gnuplot-nox (for the plot)"
    (export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox >/dev/null) ||
        echo "bench: gnuplot-nox did not install: no plot" >&2
fi
build=${BUILD_DIR:-build-bench}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target lazysnap lazysnapd >/dev/null
lz=$root/$build/cmd/lazysnap/lazysnap
lzd=$root/$build/cmd/lazysnapd/lazysnapd
stamp=$(date -u +%Y-%m-%d-%H%M%S)
out=${out:-$here/results/$stamp}
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)

# ---- helpers -------------------------------------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib/rig.sh
source "$root/tests/integration/lib/rig.sh"
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib/containerd.sh
source "$root/tests/integration/lib/containerd.sh"
# shellcheck source-path=SCRIPTDIR source=../../tests/integration/lib/lazysnapd.sh
source "$root/tests/integration/lib/lazysnapd.sh"

step() { printf '== %s  (+%ds)\n' "$*" $((SECONDS - started)); }
now() { date +%s.%N; }

rig_init
# say which command failed (set -e alone ends the run silently)
set -E
trap '[[ $- != *e* ]] || echo "bench: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR
work=$RIG_TMP
cd "$work"

# ---- the image -----------------------------------------------------------------------------
# Stages are hard links of this machine's files (cp -al: no copy, same file system as /tmp),
# or copies when that fails. Layer order: os, python, app.
step "image: os + python + app layers of this machine's files, >= $size_mb MiB"
link_in() { # link_in STAGE PATH...: /PATH (relative to /) into STAGE/PATH
    local st=$1 p
    shift
    for p in "$@"; do
        [ -e "/$p" ] || [ -L "/$p" ] || continue
        mkdir -p "$st/$(dirname "$p")"
        cp -al "/$p" "$st/$p" 2>/dev/null || cp -a "/$p" "$st/$p"
    done
}
mkdir -p os python app
# os: a root skeleton (usrmerge links), /etc bits, the shared libraries (no static ones, no fpc)
(cd os && mkdir -p proc sys dev run root tmp var/tmp etc usr/lib && chmod 1777 tmp var/tmp &&
    ln -s usr/bin bin && ln -s usr/sbin sbin && ln -s usr/lib lib && ln -s usr/lib64 lib64)
for f in passwd group nsswitch.conf hosts host.conf ld.so.conf ld.so.conf.d ld.so.cache \
    debian_version os-release alternatives ssl/openssl.cnf; do
    if [ -e "/etc/$f" ] || [ -L "/etc/$f" ]; then mkdir -p "os/etc/$(dirname "$f")"; cp -a "/etc/$f" "os/etc/$f"; fi
done
link_in os usr/sbin usr/lib64 usr/lib/os-release usr/share/zoneinfo/UTC
link_in os usr/lib/x86_64-linux-gnu
# (names of the stage only: the files themselves stay)
rm -rf os/usr/lib/x86_64-linux-gnu/fpc
find os/usr/lib/x86_64-linux-gnu -maxdepth 1 -name '*.a' -delete
# python: the interpreter and its library
mapfile -t py_paths < <(cd / && ls -d usr/lib/python3.* usr/bin/python3*)
link_in python etc/python3.11 usr/lib/python3 "${py_paths[@]}"
# python3 must find every library it links in the os layer
ldd /usr/bin/python3 | awk '/=>/ {print $3} /^\t\// {print $1}' | while read -r lib; do
    real=$(realpath "$lib")
    [ -e "os$real" ] || { echo "bench: python3 needs $lib ($real), not in the os layer" >&2; exit 1; }
done
# app: the rest of /usr/bin, then more of /usr until the image is big enough
link_in app usr/bin
rm -f app/usr/bin/python3*
size_of() { du -s --block-size=1M --apparent-size "$@" | awk '{s += $1} END {print s}'; }
for extra in usr/lib/gcc usr/include usr/share/locale usr/lib/llvm-14 usr/share/doc usr/share/man usr/lib/jvm; do
    [ "$(size_of os python app)" -lt "$size_mb" ] || break
    link_in app "$extra"
done
img_mb=$(size_of os python app)
[ "$img_mb" -ge 954 ] || { echo "bench: only $img_mb MiB of files found, want >= 1 GB" >&2; exit 1; }
echo "   os $(size_of os) MiB, python $(size_of python) MiB, app $(size_of app) MiB: $img_mb MiB uncompressed"
# the command, in a chroot of the three layers merged, before anything is timed
mkdir -p merged
rig_on_exit "mountpoint -q '$work/merged' && umount '$work/merged'"
mount -t overlay overlay -o "ro,lowerdir=$work/app:$work/python:$work/os" merged
check=$(chroot merged /usr/bin/python3 -c 'import json; print("ready")' 2>&1) || true
umount merged
[ "$check" = ready ] || { echo "bench: python3 in the image does not work: $check" >&2; exit 1; }
rig_image_build "$work/img:1" os python app
rm -rf os python app

# shellcheck disable=SC2119  # no options: an anonymous registry
rig_registry
step "push ${variants[*]} to $RIG_REG (127.0.0.1), index"
rig_image_push "$work/img:1" "$RIG_REG/cold/gzip:1"
if [ $quick -eq 0 ]; then
    rig_image_push "$work/img:1" "$RIG_REG/cold/zstd:1" --zstd
    # zstd-mf: every layer a multi-frame zstd stream (1 MiB frames, as zstd:chunked has many)
    "${RIG_PYTHON:-python3}" "$RIG_TOOLS_DIR/zstd_frames.py" --frame-size 1048576 \
        "$work/img:1" "$work/img:mf" >/dev/null
    rig_image_push "$work/img:mf" "$RIG_REG/cold/zstd-mf:1"
fi
rm -rf "$work/img"
declare -A layer_digests=() layer_bytes=([zstd]=0 [zstd-mf]=0)
for v in "${variants[@]}"; do
    "$lz" index create "$RIG_REG/cold/$v:1" --min-layer-size 0 >"$out/logs/index-$v.out" 2>&1 ||
        { cat "$out/logs/index-$v.out" >&2; exit 1; }
    sed 's/^/   /' "$out/logs/index-$v.out"
    layer_digests[$v]=$(rig_layers "$RIG_REG/cold/$v:1" | awk '{print $1}' | tr '\n' ' ')
    layer_bytes[$v]=$(rig_layers "$RIG_REG/cold/$v:1" | awk '{s += $2} END {print s}')
    echo "   $v: layers $(rig_layers "$RIG_REG/cold/$v:1" | awk '{printf "%s%.0f MiB", sep, $2 / 1048576; sep = " + "}')"
done
# shellcheck disable=SC2119  # no argument: the registry on 127.0.0.1
ctd_pause_image # lazysnap/pause:1 on 127.0.0.1: the sandbox, outside the clock and the link

# ---- the link and the registry behind it ---------------------------------------------------
# shellcheck source-path=SCRIPTDIR source=../lib/net.sh
source "$here/../lib/net.sh"
NET_LOG_DIR=$out/logs
net_init lzcs

# cs_net_up PROFILE: the link, and containerd's hosts for its registry
cs_net_up() {
    net_up "$1"
    rm -rf "$work/hosts"
    CTD_REGISTRIES=$NET_REG ctd__hosts "$work/hosts"
}

# ---- one cold start ------------------------------------------------------------------------
lzd_cfg=$'[index]\nmin_layer_size = "0"\n[fetch]\nbackground = false'
csv=$out/runs.csv
echo "variant,profile,snapshotter,rep,pull_s,start_s,link_bytes,layer_blob_bytes,registry_requests,lzd_peak_rss_kb,lzd_log_errors" >"$csv"

# cold_once SNAPSHOTTER VARIANT PROFILE REP
cold_once() {
    local snap=$1 v=$2 prof=$3 rep=$4 ref pod cid logd line ts t0 t1 tf tp rx0 rx1 reg0 code
    local rss="" errs="" tag="$2-$3-$1-$4" deadline
    ref=$NET_REG/cold/$v:1
    if [ "$snap" = lazysnap ]; then
        LZD_HOSTS_DIR=$work/hosts lzd_start "$lzd" "$lzd_cfg"
        CTD_REGISTRIES="$RIG_REG $NET_REG" CTD_LAZYSNAP_SOCK=$LZD_SOCK CTD_SNAPSHOTTER=lazysnap ctd_start
    else
        CTD_REGISTRIES="$RIG_REG $NET_REG" CTD_LAZYSNAP_SOCK="" CTD_SNAPSHOTTER=overlayfs ctd_start
    fi
    logd=$CTD_DIR/podlogs
    pod=$(ctd_cri runp "cold-$rep" --log-dir "$logd")
    reg0=$(wc -l <"$NET_REG_LOG")
    rx0=$(cat "/sys/class/net/$NET_H/statistics/rx_bytes")
    t0=$(now)
    "$lz" pull "$ref" --address "$CTD_SOCK" >/dev/null
    t1=$(now)
    # create + start in one client process, as kubelet makes the two calls
    cid=$(ctd_cri run "$pod" "$ref" --name app -- /usr/bin/python3 -c 'import json; print("ready")')
    deadline=$((SECONDS + 900))
    line=""
    until line=$(grep -m1 ' ready$' "$logd/app.log" 2>/dev/null); do
        [ $SECONDS -lt "$deadline" ] || { echo "bench: no 'ready' from $tag in 900 s" >&2; return 1; }
        sleep 0.01
    done
    tp=$(now)
    ts=${line%% *}
    tf=$(date -d "$ts" +%s.%N) # when containerd read the line from the container
    code=$(ctd_cri wait "$cid" --timeout 120)
    rx1=$(cat "/sys/class/net/$NET_H/statistics/rx_bytes")
    [ "$code" = 0 ] || { echo "bench: $tag: the container exited $code; its log:" >&2; cat "$logd/app.log" >&2; return 1; }
    if [ "$snap" = lazysnap ]; then
        rss=$(awk '/^VmHWM:/ {print $2}' "/proc/$LZD_PID/status")
        errs=$(grep -c -i -E '\b(error|warn(ing)?)\b' "$LZD_LOG" || true)
    fi
    # the registry's "response completed" lines of this run: bytes written for layer blobs
    local blob
    blob=$(tail -n +$((reg0 + 1)) "$NET_REG_LOG" | awk -v d="${layer_digests[$v]}" '
        BEGIN { n = split(d, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
        /response completed/ {
            req++
            if (match($0, /blobs\/sha256:[0-9a-f]+/)) {
                dg = substr($0, RSTART + 6, RLENGTH - 6)
                if ((dg in want) && match($0, /http\.response\.written=[0-9]+/))
                    s += substr($0, RSTART + 22, RLENGTH - 22)
            }
        }
        END { printf "%d %d\n", s, req }')
    printf '   %-8s %-5s %-13s rep %d: pull %6.2f s, first line %6.2f s (seen +%.2f s), link %7.1f MB, layer blobs %7.1f MB, %s requests%s\n' \
        "$snap" "$v" "$prof" "$rep" "$(awk -v a="$t1" -v b="$t0" 'BEGIN {print a - b}')" \
        "$(awk -v a="$tf" -v b="$t0" 'BEGIN {print a - b}')" "$(awk -v a="$tp" -v b="$tf" 'BEGIN {print a - b}')" \
        "$(awk -v a="$rx1" -v b="$rx0" 'BEGIN {print (a - b) / 1e6}')" "$(awk -v a="${blob% *}" 'BEGIN {print a / 1e6}')" \
        "${blob#* }" "${rss:+, lazysnapd peak RSS $((rss / 1024)) MiB, $errs error/warning lines}"
    echo "$v,$prof,$snap,$rep,$(awk -v a="$t1" -v b="$t0" 'BEGIN {printf "%.3f", a - b}'),$(awk -v a="$tf" -v b="$t0" 'BEGIN {printf "%.3f", a - b}'),$((rx1 - rx0)),${blob% *},${blob#* },$rss,$errs" >>"$csv"
    # tear down: this containerd (and lazysnapd), their roots
    ctd_cri stopp "$pod" >/dev/null 2>&1 || true
    ctd_cri rmp "$pod" >/dev/null 2>&1 || true
    cp "$CTD_LOG" "$out/logs/containerd-$tag.log"
    # (the rig's stop functions tolerate failures inside: never under set -e)
    ctd_stop || true
    if [ "$snap" = lazysnap ]; then
        cp "$LZD_LOG" "$out/logs/lazysnapd-$tag.log"
        lzd_stop || true
        rig_unmount_below "$LZD_DIR"
        if [ -z "$(rig_mounts_below "$LZD_DIR")" ]; then rm -rf "$LZD_DIR"; else echo "bench: mounts left below $LZD_DIR" >&2; fi
    fi
    if [ -z "$(rig_mounts_below "$CTD_DIR")" ]; then rm -rf "$CTD_DIR"; else echo "bench: mounts left below $CTD_DIR" >&2; fi
}

# ---- the runs ------------------------------------------------------------------------------
for prof in "${profiles[@]}"; do
    step "profile $prof"
    cs_net_up "$prof"
    for v in "${variants[@]}"; do
        for ((r = 1; r <= reps; r++)); do
            # alternate who goes first
            if [ $((r % 2)) -eq 1 ]; then order=(overlayfs lazysnap); else order=(lazysnap overlayfs); fi
            for s in "${order[@]}"; do cold_once "$s" "$v" "$prof" "$r"; done
        done
    done
    net_down || true
done

# ---- report --------------------------------------------------------------------------------
step "report"
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)
"${RIG_PYTHON:-python3}" - "$csv" "$out" "$img_mb" "${layer_bytes[gzip]}" "${layer_bytes[zstd]}" "$NET_MODE" "$quick" <<'PY'
import csv, statistics, subprocess, sys, os, shutil
runs, out, img_mb, gz_bytes, zst_bytes, mode, quick = sys.argv[1:]
rows = list(csv.DictReader(open(runs)))
keys = []
for r in rows:
    k = (r["variant"], r["profile"])
    if k not in keys:
        keys.append(k)
def col(v, p, s, c):
    return [float(r[c]) for r in rows if (r["variant"], r["profile"], r["snapshotter"]) == (v, p, s) and r[c] != ""]
med = lambda xs: statistics.median(xs) if xs else float("nan")
summary, plot = [], []
print(f"\n{'variant':7} {'profile':13} {'snapshotter':11} {'first line, median (min-max)':>30} {'pull':>8} {'link MB':>9} {'layer MB':>9} {'peak RSS':>9}")
for v, p in keys:
    m = {}
    for s in ("overlayfs", "lazysnap"):
        st = col(v, p, s, "start_s")
        if not st:
            continue
        m[s] = dict(n=len(st), start=med(st), lo=min(st), hi=max(st), pull=med(col(v, p, s, "pull_s")),
                    link=med(col(v, p, s, "link_bytes")) / 1e6, blob=med(col(v, p, s, "layer_blob_bytes")) / 1e6,
                    rss=med(col(v, p, s, "lzd_peak_rss_kb")) / 1024 if s == "lazysnap" else None)
        x = m[s]
        rss = f"{x['rss']:.0f} MiB" if x["rss"] is not None else "-"
        rng = f"{x['start']:.2f} s ({x['lo']:.2f}-{x['hi']:.2f})"
        print(f"{v:7} {p:13} {s:11} {rng:>30} {x['pull']:7.2f}s {x['link']:9.1f} {x['blob']:9.1f} {rss:>9}")
        summary.append([v, p, s, x["n"], f"{x['start']:.3f}", f"{x['lo']:.3f}", f"{x['hi']:.3f}", f"{x['pull']:.3f}",
                        f"{x['link']:.1f}", f"{x['blob']:.1f}", f"{x['rss']:.0f}" if x["rss"] is not None else ""])
    if len(m) == 2:
        rs = m["lazysnap"]["start"] / m["overlayfs"]["start"]
        rb = m["lazysnap"]["link"] / m["overlayfs"]["link"]
        print(f"{v:7} {p:13} {'ratio':11} {rs:30.2f} {m['lazysnap']['pull'] / m['overlayfs']['pull']:8.2f} {rb:9.3f}")
        summary.append([v, p, "ratio lazysnap/overlayfs", "", f"{rs:.3f}", "", "", "", f"{rb:.4f}", "", ""])
        plot.append((f"{v}, {p}", m["overlayfs"], m["lazysnap"]))
with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["variant", "profile", "snapshotter", "n", "start_median_s", "start_min_s", "start_max_s",
                "pull_median_s", "link_MB_median", "layer_blob_MB_median", "lzd_peak_rss_MiB_median"])
    w.writerows(summary)
zs = f", zstd {int(zst_bytes) / 1048576:.0f} MiB" if int(zst_bytes) else ""
print(f"\nimage: {img_mb} MiB uncompressed in 3 layers; gzip {int(gz_bytes) / 1048576:.0f} MiB{zs}; link: {mode}")
if plot and shutil.which("gnuplot"):
    dat = os.path.join(out, "start.dat")
    with open(dat, "w") as f:
        for label, o, l in plot:
            f.write(f'"{label}" {o["start"]} {o["lo"]} {o["hi"]} {l["start"]} {l["lo"]} {l["hi"]}\n')
    gp = f"""set terminal png size 1000,520
set output '{os.path.join(out, "start.png")}'
set title 'cold start: pull to first output line of python3 (median, min-max)'
set ylabel 'seconds'
set yrange [0:*]
set style data histograms
set style histogram errorbars gap 2 lw 1
set xtics font ',9'
set style fill solid 0.6 border -1
set key below
plot '{dat}' using 2:3:4:xtic(1) title 'overlayfs (full pull)', '' using 5:6:7 title 'lazysnap (lazy)'
"""
    r = subprocess.run(["gnuplot"], input=gp.encode(), capture_output=True)
    print("plot: " + (os.path.join(out, "start.png") if r.returncode == 0 else "gnuplot failed: " + r.stderr.decode().strip()))
PY
echo "cpu: $cpu, $(nproc) cores; $reps rep(s); results: $out; took $((SECONDS - started)) s"
if [ $quick -eq 1 ]; then
    awk -F, '$1 == "gzip" && $2 == "1gbit-10ms" && $3 ~ /^ratio/ {printf "cold-start lazysnap/overlayfs: %.2f\n", $5}' "$out/summary.csv"
fi
