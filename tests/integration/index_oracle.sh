#!/usr/bin/env bash
# The read-path oracle for layer indexes: layers made by GNU tar (gnu, pax), bsdtar, Python's
# tarfile (pax, gnu) and umoci, each left uncompressed and compressed as gzip -1, gzip -9, pigz,
# multi-member gzip, zstd single-frame and zstd multi-frame. For each, `lazysnap index build`, then
# every entry and every file read by `lazysnap index cat` must equal a full GNU tar extraction.
# Usage: index_oracle.sh LAZYSNAP    (root: devices, owners; exit 77 = skipped)
set -euo pipefail
lazysnap=$(realpath "$1")
here=$(cd "$(dirname "$0")/index" && pwd)
if [ "$(id -u)" -ne 0 ]; then
    echo "index-oracle: needs root (mknod, chown)"; exit 77
fi
for tool in bsdtar pigz zstd umoci python3; do
    command -v $tool >/dev/null || { echo "index-oracle: $tool missing"; exit 1; }
done
work=$(mktemp -d /var/tmp/lzs-oracle.XXXXXX)   # not tmpfs: user xattrs
trap 'rm -rf "$work"' EXIT
cd "$work"

python3 "$here/mkfixture.py" src
tar --format=gnu --sparse --numeric-owner -C src -cf gnu.tar .
tar --format=pax --sparse --xattrs --xattrs-include='*' --numeric-owner -C src -cf pax.tar .
bsdtar --numeric-owner --xattrs -cf bsdtar.tar -C src .
python3 "$here/mktar.py" src pytar-pax.tar pax
python3 "$here/mktar.py" src pytar-gnu.tar gnu

# umoci: an OCI image layer made from the same tree (umoci drops whiteout-named files, fine)
umoci init --layout img >/dev/null
umoci new --image img:t >/dev/null
umoci unpack --image img:t bundle >/dev/null
cp -a src/. bundle/rootfs/
rm -rf bundle/rootfs/whiteouts   # umoci refuses files named .wh.*
umoci repack --image img:t bundle >/dev/null
layer=$(python3 -c '
import json, sys
idx = json.load(open("img/index.json"))
dg = idx["manifests"][0]["digest"].split(":")[1]
m = json.load(open("img/blobs/sha256/" + dg))
print(m["layers"][-1]["digest"].split(":")[1])')
gzip -dc "img/blobs/sha256/$layer" > umoci.tar
cp "img/blobs/sha256/$layer" umoci.tar.umoci-gz

compress_all() { # NAME.tar -> NAME.tar.{none,gz1,gz9,pigz,gzmulti,zst,zstmulti}
    local t=$1
    cp "$t" "$t.none"
    gzip -1 -c "$t" > "$t.gz1"
    gzip -9 -c "$t" > "$t.gz9"
    pigz -c "$t" > "$t.pigz"
    rm -rf parts && mkdir parts && split -b 3M "$t" parts/p
    { for p in parts/p*; do gzip -6 -c "$p"; done; gzip -c < /dev/null; } > "$t.gzmulti"
    zstd -q -c "$t" > "$t.zst"
    for p in parts/p*; do zstd -q -c "$p"; done > "$t.zstmulti"
}

failed=0
total=0
for producer in gnu pax bsdtar pytar-pax pytar-gnu umoci; do
    rm -rf ref && mkdir ref
    # --delay-directory-restore: directory times stay right for archives not in depth-first order
    tar --xattrs --xattrs-include='*' --numeric-owner --same-owner --delay-directory-restore \
        -xpf "$producer.tar" -C ref 2>/dev/null
    compress_all "$producer.tar"
    mtime=--mtime-ns
    [ "$producer" = gnu ] || [ "$producer" = pytar-gnu ] && mtime=
    for layer in "$producer".tar.*; do
        total=$((total + 1))
        span=256K
        [ "${layer##*.}" = gz9 ] && span=1M   # one variant at the default span
        if ! "$lazysnap" index build "$layer" -o "$layer.idx" --span "$span" >/dev/null; then
            echo "  FAIL $layer: index build failed"; failed=$((failed + 1)); continue
        fi
        python3 "$here/check_layer.py" "$lazysnap" "$layer" "$layer.idx" ref $mtime ||
            failed=$((failed + 1))
    done
done
echo "index-oracle: $((total - failed)) passed, $failed failed"
[ $failed -eq 0 ]
