#!/usr/bin/env bash
# The main job, as far as lazysnap goes today: build it, start a registry on 127.0.0.1, push an
# image made of this machine's /usr/bin and /usr/share, index it as CI would, then read one file
# of the remote image through its indexes, showing how little of the image that fetched.
# (The mount and containerd join this demo as they land.) Everything started is stopped at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DLZS_SANITIZERS= -DLZS_FUZZ=OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target lazysnap >/dev/null
lz=$PWD/build-release/cmd/lazysnap/lazysnap
$lz --version

# shellcheck source=../tests/integration/lib/rig.sh
source tests/integration/lib/rig.sh
rig_init
cd "$RIG_TMP"
rig_registry
echo "== registry (docker-registry) on $RIG_REG; building an image from /usr/bin and /usr/share"
# exit 1 from tar is "some files changed while read": fine for a demo
tar -C / --sort=name -cf bin.tar usr/bin 2>/dev/null || [ $? -eq 1 ]
tar -C / --sort=name -cf share.tar usr/share 2>/dev/null || [ $? -eq 1 ]
rig_image_build_tar img:demo bin.tar share.tar
rm -f bin.tar share.tar
ref=$RIG_REG/demo:latest
rig_image_push img:demo "$ref"

echo "== lazysnap index create $ref   (what CI runs after the push)"
$lz index create --plain-http "$ref"
echo "== lazysnap index list $ref"
$lz index list --plain-http "$ref"
file=$(cd /usr/share && find doc -name copyright -size +4k | sort | sed -n '40p')
echo "== lazysnap ls $ref /usr/share/$(dirname "$file")"
$lz ls -l --plain-http "$ref" "/usr/share/$(dirname "$file")"
echo "== lazysnap cat $ref /usr/share/$file"
$lz cat --stats --plain-http "$ref" "/usr/share/$file" >out 2>stats
head -n 6 out
total=$($lz index list --json --plain-http "$ref" |
    python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
python3 - stats "$total" "$file" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
total = int(sys.argv[2])
print(f"== read /usr/share/{sys.argv[3]} by fetching {s['bytes_fetched'] / 1024:.0f} KiB of the "
      f"{total / 2**20:.0f} MiB image ({100 * s['bytes_fetched'] / total:.2f}%) in "
      f"{s['requests']} requests (manifests and indexes included); content verified against "
      f"its sha256")
PY
