#!/usr/bin/env bash
# The main job, as far as lazysnap goes today: build it, make a sample gzip layer from this
# machine's /usr, index it, and read one file by random access, showing how little of the layer
# that touched. (The registry, the mount and containerd join this demo as they land.)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
command -v python3 >/dev/null || apt-get install -y -qq python3 >/dev/null
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DLZS_SANITIZERS= -DLZS_FUZZ=OFF >/dev/null
cmake --build build-release -j "$(nproc)" --target lazysnap >/dev/null
lz=$PWD/build-release/cmd/lazysnap/lazysnap
$lz --version

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "== packing /usr/share and /usr/bin into a gzip layer"
# exit 1 from tar is "some files changed while read": fine for a demo
tar -C / -cf "$work/layer.tar" usr/share usr/bin 2>/dev/null || [ $? -eq 1 ]
gzip -6 "$work/layer.tar"
echo "== lazysnap index build"
$lz index build "$work/layer.tar.gz" -o "$work/layer.idx"
$lz index inspect "$work/layer.idx" | sed -n '4,9p'
file=$($lz index ls --json "$work/layer.idx" | python3 -c '
import json, sys
files = [json.loads(l) for l in sys.stdin]
files = [e for e in files if e["type"] == "regular" and e["path"].endswith("/copyright")
         and e["size"] > 4000] or [e for e in files if e["type"] == "regular" and e["size"] > 0]
print(files[len(files) * 2 // 3]["path"])')
echo "== lazysnap index cat $file"
$lz index cat --stats "$work/layer.tar.gz" "$work/layer.idx" "$file" >"$work/out" 2>"$work/stats"
head -n 6 "$work/out"
python3 - "$work/stats" "$work/layer.tar.gz" "$file" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
total = os.path.getsize(sys.argv[2])
print(f"== read /{sys.argv[3]} by fetching {s['bytes_read'] / 1024:.0f} KiB of the "
      f"{total / 2**20:.0f} MiB layer ({100 * s['bytes_read'] / total:.2f}%) in {s['reads']} "
      f"read(s), decoding {s['decompressed'] / 1024:.0f} KiB; content verified against its sha256")
PY
