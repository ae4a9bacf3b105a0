#!/usr/bin/env bash
# lazysnap index create / index list / cat / ls against a real docker-registry on 127.0.0.1:
# - a layered image (whiteouts, an opaque directory, symlinks, hardlinks, a replaced file) read
#   through its indexes equals the image unpacked by umoci, for gzip and zstd layers;
# - a large image: cat of one file fetches < 5% of the compressed image (issue 4's criterion);
# - the index is found through the sha256-HEX tag fallback, through a local index directory,
#   and in an OCI layout; lying indexes and registry errors fail with one clear line.
# Usage: remote_image.sh LAZYSNAP
set -euo pipefail
lz=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/rig.sh
source "$here/lib/rig.sh"
# shellcheck source=lib/check.sh
source "$here/lib/check.sh"
rig_init
cd "$RIG_TMP"
rig_registry
reg=$RIG_REG
lzr() { "$lz" "$@" --plain-http; }

# ---- a layered image built with umoci: base, whiteout, opaque dir, upper -------------------------
mkdir -p base/etc base/usr/bin base/usr/lib base/d base/opq/sub upper/etc opqnew
echo base-host > base/etc/hostname
head -c 3000000 /dev/urandom > base/usr/lib/data.bin
seq 1 300000 > base/usr/lib/seq.txt
printf '#!/bin/sh\necho tool\n' > base/usr/bin/tool && chmod 755 base/usr/bin/tool
ln base/usr/bin/tool base/usr/bin/tool2
ln -s usr/lib base/lib
ln -s /usr/lib/seq.txt base/etc/abs-link
echo keep > base/d/keep && echo gone > base/d/gone
echo old-a > base/opq/a && echo old-b > base/opq/sub/b
echo upper-host > upper/etc/hostname
echo new-c > opqnew/c
: > base/etc/empty

# umoci insert writes malformed tars in 0.4.7: layers are made with tar, added raw.
mkdir -p wh/d opqnew/opq && : > wh/d/.wh.gone && : > opqnew/opq/.wh..wh..opq
mv opqnew/c opqnew/opq/c
for l in base wh opqnew upper; do tar -C "$l" --sort=name --numeric-owner -cf "$l.tar" .; done
rig_image_build_tar img:t base.tar wh.tar opqnew.tar upper.tar
umoci unpack --image img:t bundle > /dev/null
rootfs=bundle/rootfs

rig_image_push img:t "$reg/layers:gzip"
rig_image_push img:t "$reg/layers:zstd" --zstd

# The unpacked file behind image path f (an absolute symlink points into the image, not the host).
want_file() {
    case $1 in etc/abs-link) echo "$rootfs/usr/lib/seq.txt" ;; *) echo "$rootfs/$1" ;; esac
}

# Every file and directory of the unpacked image, read back through the indexes.
compare_tree() {
    local ref=$1 dir f
    for dir in / /etc /usr/lib /usr/bin /d /opq /lib; do
        (cd "$rootfs/$dir" && ls -A | sort) > want.ls
        lzr ls "$ref" "$dir" | sed 's:/$::' | sort > got.ls
        cmp -s want.ls got.ls && ok || bad "$ref ls $dir: $(diff want.ls got.ls | tr '\n' ' ')"
    done
    for f in etc/hostname usr/lib/data.bin usr/lib/seq.txt usr/bin/tool usr/bin/tool2 d/keep \
        opq/c lib/seq.txt etc/abs-link etc/empty; do
        lzr cat "$ref" "/$f" > got.bin && cmp -s got.bin "$(want_file "$f")" && ok ||
            bad "$ref cat /$f differs from the unpacked image"
    done
    expect_fail 1 "/d/gone: .*no such file" lzr cat "$ref" /d/gone
    expect_fail 1 "/opq/a: .*no such file" lzr cat "$ref" /opq/a
    expect_fail 1 "/opq/sub/b: .*no such file" lzr cat "$ref" /opq/sub/b
    lzr ls -l "$ref" /usr/bin | grep -qE '^-rwxr-xr-x .* tool$' && ok || bad "$ref ls -l /usr/bin"
    lzr ls -l "$ref" / | grep -qE '^l.* lib -> usr/lib$' && ok || bad "$ref ls -l / symlink"
}

for v in gzip zstd; do
    ref=$reg/layers:$v
    expect_fail 1 "layer sha256:[0-9a-f]+ has no index" lzr cat "$ref" /etc/hostname
    lzr index create "$ref" --min-layer-size 0 > create.out
    grep -q "referrers tag updated" create.out && ok || bad "$v: create output: $(cat create.out)"
    [ "$(grep -c ' indexed: ' create.out)" -eq 4 ] && ok || bad "$v: 4 layers indexed: $(cat create.out)"
    lzr index list "$ref" > list.out
    [ "$(grep -cE '^[0-9]+ +sha256:.* tag +sha256:.* via tag sha256-' list.out)" -eq 4 ] && ok ||
        bad "$v: index list: $(cat list.out)"
    compare_tree "$ref"
    # a second create replaces the artifact in the tag's list instead of piling up
    lzr index create "$ref" --min-layer-size 0 > /dev/null
    digest=$(lzr index list --json "$ref" | python3 -c 'import json,sys; print(json.load(sys.stdin)["manifest"])')
    n=$(curl -fsS -H 'Accept: application/vnd.oci.image.index.v1+json' \
        "http://$reg/v2/layers/manifests/sha256-${digest#sha256:}" |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)["manifests"]))')
    [ "$n" -eq 1 ] && ok || bad "$v: the tag lists $n artifacts after two creates"
done

# ---- min-layer-size: small layers stay unindexed ------------------------------------------------
rig_image_push img:t "$reg/small:t"
lzr index create "$reg/small:t" --min-layer-size 1M > create.out
grep -qE 'skipped: below --min-layer-size' create.out && ok || bad "min-layer-size: $(cat create.out)"
[ "$(grep -c ' indexed: ' create.out)" -eq 1 ] && ok || bad "only the 3 MB layer is indexed"
lzr index list "$reg/small:t" | grep -c 'none (pulled whole)' | grep -qx 3 && ok || bad "list shows 3 unindexed"

# ---- local index directory, and a lying index ---------------------------------------------------
rig_image_push img:t "$reg/local:t"
lzr index create "$reg/local:t" --min-layer-size 0 --out idx --no-push > /dev/null
[ "$(find idx -name '*.index' | wc -l)" -eq 4 ] && ok || bad "--out wrote $(find idx -name '*.index' | wc -l) files"
lzr index list "$reg/local:t" --index-dir idx | grep -c ' local ' | grep -qx 4 && ok || bad "index list --index-dir"
lzr cat "$reg/local:t" /usr/lib/seq.txt --index-dir idx | cmp -s - "$rootfs/usr/lib/seq.txt" && ok ||
    bad "cat through the local index directory"
mapfile -t files < <(find idx -name '*.index' | sort)
cp "${files[0]}" swapped && cp "${files[1]}" "${files[0]}" && cp swapped "${files[1]}"
expect_fail 1 "index describes layer sha256:[0-9a-f]+ .*not sha256:" \
    lzr cat "$reg/local:t" /etc/hostname --index-dir idx

# ---- OCI layout: index before pushing, carried by skopeo -----------------------------------------
"$lz" index create --oci-layout img:t --min-layer-size 0 > create.out
grep -q "written into layout img:t" create.out && ok || bad "layout create: $(cat create.out)"
"$lz" index list --oci-layout img:t > list.out
grep -cE "^[0-9]+ .* layout +sha256:" list.out | grep -qx 4 && ok || bad "index list --oci-layout: $(cat list.out)"
rig_image_push img:t "$reg/carried:t"
tag=$(python3 -c 'import json; m=[d for d in json.load(open("img/index.json"))["manifests"] if d.get("artifactType")]; print(m[0]["annotations"]["org.opencontainers.image.ref.name"])')
skopeo copy -q --preserve-digests --dest-tls-verify=false "oci:img:$tag" "docker://$reg/carried:$tag" 2> skopeo.err &&
    lzr cat "$reg/carried:t" /etc/hostname | grep -qx upper-host && ok ||
    bad "artifact carried by skopeo copy oci:img:$tag: $(cat skopeo.err)"

# a broken referrer listed next to the good one does not hide it
python3 - <<'PY'
import hashlib, json, os
body = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
d = hashlib.sha256(body).hexdigest()
open(f"img/blobs/sha256/{d}", "wb").write(body)
idx = json.load(open("img/index.json"))
idx["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                         "digest": "sha256:" + d, "size": len(body),
                         "artifactType": "application/vnd.lazysnap.index.v1"})
json.dump(idx, open("img/index.json", "w"))
PY
"$lz" index list --oci-layout img:t 2> list.err > list.out
grep -cE "^[0-9]+ .* layout +sha256:" list.out | grep -qx 4 && grep -q "skipping index artifact" list.err &&
    ok || bad "a malformed referrer hid the good one: $(cat list.out list.err)"

# an opaque marker at the root hides every lower layer
mkdir -p rootopq && : > rootopq/.wh..wh..opq && echo fresh > rootopq/new
tar -C rootopq --sort=name -cf rootopq.tar . && rig_image_build_tar ropq:t base.tar rootopq.tar
rig_image_push ropq:t "$reg/rootopq:t"
lzr index create "$reg/rootopq:t" --min-layer-size 0 > /dev/null
lzr cat "$reg/rootopq:t" /new | grep -qx fresh && ok || bad "root opaque: /new"
expect_fail 1 "/etc/hostname: .*no such file" lzr cat "$reg/rootopq:t" /etc/hostname
[ "$(lzr ls "$reg/rootopq:t" /)" = new ] && ok || bad "root opaque: ls / = $(lzr ls "$reg/rootopq:t" /)"

# ---- a large image: one small file costs < 5% of the compressed image ----------------------------
tar -C / --sort=name -cf bin.tar usr/bin || [ $? -eq 1 ] # 1: a file changed while read
tar -C / --sort=name -cf share.tar usr/share || [ $? -eq 1 ]
rig_image_build_tar bigimg:big bin.tar share.tar
rm -f bin.tar share.tar
rig_image_push bigimg:big "$reg/big:t"
lzr index create "$reg/big:t" > create.out
total=$(lzr index list --json "$reg/big:t" | python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
file=$(cd /usr/share && find . -type f -size +20k -size -200k | sort | sed -n "1s:^\./::p")
lzr cat --stats "$reg/big:t" "/usr/share/$file" 2> stats.json | cmp -s - "/usr/share/$file" && ok ||
    bad "big: cat /usr/share/$file"
fetched=$(python3 -c 'import json; print(json.load(open("stats.json"))["bytes_fetched"])')
echo "big image: $total compressed bytes; cat /usr/share/$file fetched $fetched bytes" \
    "($(python3 -c "print(f'{100*$fetched/$total:.3f}')")%)"
[ "$fetched" -lt $((total / 20)) ] && ok || bad "big: fetched $fetched of $total bytes (>= 5%)"

# ---- registry errors: one line each ---------------------------------------------------------------
expect_fail 1 "404|not found|unknown" lzr cat "$reg/layers:nosuchtag" /etc/hostname
port=$(rig_free_port)
# (retries are logged as warnings before the error: --log-level error keeps only the error)
expect_fail 1 "127\.0\.0\.1:$port.*(refused|connect)" "$lz" --log-level error cat --plain-http \
    --retries 1 "127.0.0.1:$port/x:y" /a
expect_fail 2 "cat: expected REF PATH" "$lz" cat "$reg/layers:gzip"

check_done
