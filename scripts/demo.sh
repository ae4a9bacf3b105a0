#!/usr/bin/env bash
# The main job: containerd starting a container from an image it has not downloaded. Builds
# lazysnap, starts a registry on 127.0.0.1, pushes an image made of busybox and this machine's
# /usr/share (about 1.3 GB), indexes it as CI would, then runs one container from it twice, each
# time with a fresh containerd 1.6: once with containerd's own overlayfs snapshotter (full pull),
# once with lazysnapd (lazy pull). Prints, for both, the time from pull to the command's output
# and the bytes fetched from the registry. Everything started is stopped, everything mounted
# unmounted, at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DLZS_SANITIZERS= -DLZS_FUZZ=OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target lazysnap lazysnapd >/dev/null
lz=$PWD/build-release/cmd/lazysnap/lazysnap
lzd=$PWD/build-release/cmd/lazysnapd/lazysnapd
$lz --version

# shellcheck source=../tests/integration/lib/rig.sh
source tests/integration/lib/rig.sh
# shellcheck source=../tests/integration/lib/containerd.sh
source tests/integration/lib/containerd.sh
# shellcheck source=../tests/integration/lib/lazysnapd.sh
source tests/integration/lib/lazysnapd.sh
rig_init
cd "$RIG_TMP"
rig_registry
ctd_pause_image
echo "== registry (docker-registry) on $RIG_REG; building an image: busybox + /usr/share"
ctd_busybox_dir base
tar -C base --sort=name --numeric-owner -cf base.tar .
# exit 1 from tar is "some files changed while read": fine for a demo
tar -C / --sort=name -cf share.tar usr/share 2>/dev/null || [ $? -eq 1 ]
rig_image_build_tar img:demo base.tar share.tar
rm -rf base base.tar share.tar
ref=$RIG_REG/demo:latest
rig_image_push img:demo "$ref"
rm -rf img
echo "== lazysnap index create $ref   (what CI runs after the push)"
$lz index create "$ref" --min-layer-size 0
file=usr/share/common-licenses/GPL-3
cmd="head -n 1 /$file"

# registry_bytes: body bytes the registry has sent so far (its access log)
registry_bytes() {
    grep -o 'http.response.written=[0-9]*' "$RIG_REG_LOG" | awk -F= '{s += $2} END {print s + 0}'
}

# pull_and_run SNAPSHOTTER: a fresh containerd, then pull + pod + container running $cmd; sets
# R_S (seconds from pull to the command's exit), R_B (registry bytes) and R_OUT (its output)
pull_and_run() {
    CTD_SNAPSHOTTER=$1 ctd_start
    local b0 t0 pod cid
    b0=$(registry_bytes)
    t0=$(date +%s.%N)
    $lz pull "$ref" --address "$CTD_SOCK" >/dev/null
    pod=$(ctd_cri runp demo)
    cid=$(ctd_cri create "$pod" "$ref" --name demo -- /bin/sh -c "$cmd")
    ctd_cri start "$cid"
    ctd_cri wait "$cid" --timeout 600 >/dev/null
    R_S=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN {print a - b}')
    R_B=$(($(registry_bytes) - b0))
    R_OUT=$(ctd_cri logs "$cid")
    ctd_cri rm "$cid"
    ctd_cri stopp "$pod"
    ctd_cri rmp "$pod"
    ctd_stop
}

echo "== containerd + overlayfs: pull everything, then run: $cmd"
pull_and_run overlayfs
full_s=$R_S full_b=$R_B
echo "   output: $R_OUT"
echo "== containerd + lazysnapd: lazy pull, then run: $cmd"
lzd_start "$lzd" $'[index]\nmin_layer_size = "0"\n[fetch]\nbackground = false'
CTD_LAZYSNAP_SOCK=$LZD_SOCK
pull_and_run lazysnap
lazy_s=$R_S lazy_b=$R_B
echo "   output: $R_OUT"
total=$(rig_layers "$ref" | awk '{s += $2} END {print s}')
python3 - "$full_s" "$full_b" "$lazy_s" "$lazy_b" "$total" <<'PY'
import sys
fs, fb, ls, lb, total = float(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
print(f"\n{'':24}{'pull to output':>16}{'fetched from the registry':>28}")
print(f"{'overlayfs (full pull)':24}{fs:>14.2f} s{fb / 2**20:>22.1f} MiB")
print(f"{'lazysnap (lazy pull)':24}{ls:>14.2f} s{lb / 2**20:>22.1f} MiB")
print(f"{'lazysnap / overlayfs':24}{ls / fs:>16.2f}{lb / fb:>28.3f}")
print(f"\nthe image: {total / 2**20:.0f} MiB compressed; the container read one file of it")
PY
