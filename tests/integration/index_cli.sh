#!/usr/bin/env bash
# lazysnap index CLI on bad input: every failure is one clear line, exit 1 (2 for usage), and no
# index file is left half-written. Also checks --stats and --json output shapes.
# Usage: index_cli.sh LAZYSNAP
set -euo pipefail
lz=$(realpath "$1")
# shellcheck source=lib/check.sh
source "$(cd "$(dirname "$0")" && pwd)/lib/check.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mkdir -p src/d && head -c 3000000 /dev/urandom > src/d/random.bin && seq 1 200000 > src/d/seq.txt
tar -C src -cf layer.tar . && gzip -c layer.tar > layer.tgz

# a good build, and its outputs
"$lz" index build layer.tgz -o good.idx > summary
grep -q "gzip layer sha256:" summary && ok || bad "summary line: $(cat summary)"
"$lz" index inspect --json good.idx | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["compression"]=="gzip" and d["types"]["regular"]==2, d' && ok || bad "inspect --json"
"$lz" index ls -l good.idx | grep -qE '^-rw.* d/seq.txt$' && ok || bad "ls -l: $("$lz" index ls -l good.idx)"
"$lz" index cat --stats layer.tgz good.idx d/seq.txt 2>stats | cmp - src/d/seq.txt && ok || bad "cat"
python3 -c 'import json,sys; d=json.load(open("stats")); assert set(d)=={"bytes_read","reads","decompressed"} and d["reads"]>=1, d' && ok || bad "--stats: $(cat stats)"
"$lz" index cat --offset 1000 --length 10 layer.tgz good.idx /d/seq.txt | cmp - <(tail -c +1001 src/d/seq.txt | head -c 10) && ok || bad "cat --offset"

# corrupt gzip: the error names gzip and the compressed offset; no index written
cp layer.tgz corrupt.tgz
printf '\xff\xff\xff\xff' | dd of=corrupt.tgz bs=1 seek=200000 conv=notrunc status=none
expect_fail 1 'corrupt.tgz: .*gzip: .*compressed offset [0-9]+' "$lz" index build corrupt.tgz -o corrupt.idx
[ ! -e corrupt.idx ] && [ -z "$(ls | grep 'corrupt.idx.tmp')" ] && ok || bad "corrupt: index or temp left behind"

# truncated gzip
head -c 500000 layer.tgz > short.tgz
expect_fail 1 'short.tgz: .*(unexpected end|truncated|ends)' "$lz" index build short.tgz -o short.idx
[ ! -e short.idx ] && ok || bad "truncated: index left behind"

# an existing index is not replaced by a failed build
cp good.idx keep.idx
expect_fail 1 'gzip' "$lz" index build corrupt.tgz -o keep.idx
cmp -s good.idx keep.idx && ok || bad "a failed build changed an existing index"

# hostile tar: an entry escaping the root
python3 - <<'PY'
import io, tarfile
with tarfile.open("evil.tar", "w") as t:
    data = b"pwned\n"
    ti = tarfile.TarInfo("../../etc/cron.d/evil"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
PY
expect_fail 1 "evil.tar: tar entry 0 '../../etc/cron.d/evil'" "$lz" index build evil.tar -o evil.idx

# not a layer at all
head -c 4096 /dev/urandom > noise.bin
expect_fail 1 'noise.bin: ' "$lz" index build noise.bin -o noise.idx

# a lying index: from another layer, and a corrupted one
tar -C src -cf other.tar d/seq.txt && gzip -c other.tar > other.tgz
expect_fail 1 'index expects' "$lz" index cat other.tgz good.idx d/seq.txt
# corrupted index bytes anywhere: cat returns the exact file or fails with one line, never other bytes
size=$(stat -c %s good.idx)
for i in $(seq 1 24); do
    cp good.idx broken.idx
    printf '\x5a\xa5' | dd of=broken.idx bs=1 seek=$((size * i / 25)) conv=notrunc status=none
    for f in d/seq.txt d/random.bin; do
        set +e
        "$lz" index cat layer.tgz broken.idx "$f" >out 2>err
        rc=$?
        set -e
        # exit 0 only with the exact bytes; a failure is one line (a stream may have begun:
        # a whole-file cat checks the sha256 at the end and then fails)
        if [ $rc -eq 0 ] && cmp -s out "src/$f"; then ok
        elif [ $rc -eq 1 ] && [ "$(wc -l < err)" -eq 1 ]; then ok
        else bad "index corrupted at $((size * i / 25)): cat $f exit $rc, $(head -c 200 err)"
        fi
    done
done
head -c 100 good.idx > cut.idx
expect_fail 1 'index' "$lz" index inspect cut.idx

# a layer whose bytes were changed in place under a valid index: the content check catches it
"$lz" index build layer.tar -o tar.idx >/dev/null
cp layer.tar tampered.tar
off=$(python3 -c 'print(open("layer.tar","rb").read().find(b"\n100000\n") + 1)')
printf '999999' | dd of=tampered.tar bs=1 seek="$off" conv=notrunc status=none
expect_fail 1 'd/seq.txt: content does not match the sha256 in the index' \
    "$lz" index cat tampered.tar tar.idx d/seq.txt
expect_fail 1 'no such file' "$lz" index cat layer.tgz good.idx d/missing
expect_fail 1 'not a regular file' "$lz" index cat layer.tgz good.idx d

# usage errors exit 2
expect_fail 2 'expected one LAYER' "$lz" index build
expect_fail 2 'bad option' "$lz" index ls --frobnicate good.idx
expect_fail 2 '--span' "$lz" index build layer.tgz --span 12Q
expect_fail 2 "unknown verb 'bogus'" "$lz" index bogus

check_done
