#!/usr/bin/env bash
# lib/fusefs against GNU tar: a layer mounted over FUSE shows exactly what `tar -x` of the layer
# makes (contents, modes, owners, mtimes, links, devices, xattrs), with OCI whiteouts presented
# as overlayfs expects, which the kernel's overlayfs then honours. Also parallel reads.
# Usage: fuse_layer.sh FUSEMOUNT LAZYSNAP   (root; exit 77 when FUSE or overlayfs is missing)
set -euo pipefail
fm=$(realpath "$1")
lz=$(realpath "$2")
# shellcheck source=lib/check.sh
source "$(cd "$(dirname "$0")" && pwd)/lib/check.sh"
[ "$(id -u)" -eq 0 ] || { echo "skip: needs root"; exit 77; }
[ -c /dev/fuse ] && grep -qw overlay /proc/filesystems || { echo "skip: no fuse/overlay"; exit 77; }

work=$(mktemp -d)
pid=""
cleanup() {
    set +e
    mountpoint -q "$work/merged" && { umount "$work/merged" || umount -l "$work/merged"; }
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    mountpoint -q "$work/mnt" && { fusermount3 -u "$work/mnt" || umount -l "$work/mnt"; }
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

# ---- the layer ------------------------------------------------------------------------------
mkdir -p src/dir/sub src/d src/odd src/sticky src/private src/sgid src/owned src/many
seq 1 100000 > src/text.txt
head -c 3000000 /dev/urandom > src/random.bin
: > src/empty
{ head -c 8000000 /dev/urandom; seq 1 2000000; head -c 4000000 /dev/zero; } > src/big.bin
truncate -s 20M src/big.bin
truncate -s 50M src/sparse
printf 'middle' | dd of=src/sparse bs=1 seek=20000000 conv=notrunc status=none
printf 'end' | dd of=src/sparse bs=1 seek=52428797 conv=notrunc status=none
echo hello > src/dir/sub/deep.txt
echo shared > src/hl.txt
ln src/hl.txt src/hl2.txt && ln src/hl.txt src/dir/hl3.txt
ln -s text.txt src/link-rel && ln -s /etc/passwd src/dir/link-abs && ln -s nowhere src/dangling
mkfifo src/fifo
mknod src/chardev c 1 3 && mknod src/blockdev b 7 0
echo suid > src/suid && chmod 4755 src/suid
echo ro > src/readonly && chmod 0444 src/readonly
echo mine > src/owned/file && chown -R 1234:5678 src/owned && chown 1234 src/text.txt
touch src/many/f{0001..1500}
echo new > src/d/new.txt
: > src/.wh.gone && : > src/d/.wh..wh..opq && : > src/.wh.text.txt && : > src/.wh..wh.plnk
python3 - <<'PY'
import os
os.setxattr("src/text.txt", "user.comment", b"a text file")
os.setxattr("src/random.bin", "user.bin", bytes(range(256)))
os.setxattr("src/dir", "user.dirattr", b"x")
os.setxattr("src/hl.txt", "user.shared", b"1")
os.setxattr("src/empty", "trusted.lazysnap", b"t")
PY
find src -exec touch -h -d '2001-02-03 04:05:06' {} +
touch -h -d '2020-01-01 00:00:00' src/text.txt src/link-rel
chmod 0705 src/odd && chmod 1777 src/sticky && chmod 0700 src/private && chmod 2755 src/sgid
touch -d '1999-12-31 23:59:59' src/odd src/sticky src/d src
tar --format=posix --xattrs --xattrs-include='*' -S --numeric-owner -C src -cf layer.tar .
gzip -c layer.tar > layer.tar.gz
"$lz" index build layer.tar.gz -o layer.idx > /dev/null

# the reference: GNU tar's extraction, whiteout files removed (parent mtimes kept)
mkdir ref
tar --xattrs --xattrs-include='*' --numeric-owner -xpf layer.tar -C ref
python3 - <<'PY'
import os
for top, dirs, files in os.walk("ref"):
    st = os.lstat(top)
    for n in files + dirs:
        if n.startswith(".wh."):
            os.unlink(os.path.join(top, n))
    os.utime(top, ns=(st.st_atime_ns, st.st_mtime_ns))
PY

# ---- mount ----------------------------------------------------------------------------------
mkdir mnt
expect_fail 1 '^fusemount: fuse mount nowhere: mountpoint: No such file' "$fm" layer.tar.gz layer.idx nowhere
expect_fail 1 '^fusemount: fuse mount layer.idx: mountpoint: not a directory' "$fm" layer.tar.gz layer.idx layer.idx
expect_fail 2 '^usage: fusemount' "$fm" layer.tar.gz layer.idx
"$fm" layer.tar.gz layer.idx mnt > fm.out 2> fm.err &
pid=$!
for _ in $(seq 1 100); do grep -q mounted fm.out 2>/dev/null && break; sleep 0.1; done
grep -q mounted fm.out && mountpoint -q mnt && ok || { bad "mount: $(cat fm.err)"; check_done; exit 1; }

# ---- contents and metadata against the reference --------------------------------------------
diff -r --no-dereference -x fifo -x chardev -x blockdev -x gone mnt ref > diff.out && ok ||
    bad "diff -r: $(head -20 diff.out)"
cat > compare.py <<'PY'
import os, stat, sys
mnt, ref = sys.argv[1], sys.argv[2]
def tree(root):
    out = set()
    for top, dirs, files in os.walk(root):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(top, n), root))
    return out
errors = []
m, r = tree(mnt), tree(ref)
if m - {"gone"} != r:
    errors.append(f"names: only in mount {sorted(m - r)}, only in ref {sorted(r - m)}")
for p in sorted(r) + ["."]:
    a, b = os.lstat(os.path.join(mnt, p)), os.lstat(os.path.join(ref, p))
    def want(what, x, y):
        if x != y:
            errors.append(f"{p}: {what} {x!r} != {y!r}")
    want("mode", oct(a.st_mode), oct(b.st_mode))
    want("uid", a.st_uid, b.st_uid)
    want("gid", a.st_gid, b.st_gid)
    want("mtime", int(a.st_mtime), int(b.st_mtime))
    if stat.S_ISREG(b.st_mode) or stat.S_ISLNK(b.st_mode):
        want("size", a.st_size, b.st_size)
    if stat.S_ISREG(b.st_mode):
        want("nlink", a.st_nlink, b.st_nlink)
    if stat.S_ISCHR(b.st_mode) or stat.S_ISBLK(b.st_mode):
        want("rdev", a.st_rdev, b.st_rdev)
    if stat.S_ISLNK(b.st_mode):
        want("target", os.readlink(os.path.join(mnt, p)), os.readlink(os.path.join(ref, p)))
        continue
    xa = {n: os.getxattr(os.path.join(mnt, p), n, follow_symlinks=False)
          for n in os.listxattr(os.path.join(mnt, p), follow_symlinks=False)}
    xb = {n: os.getxattr(os.path.join(ref, p), n, follow_symlinks=False)
          for n in os.listxattr(os.path.join(ref, p), follow_symlinks=False)
          if not n.startswith("security.")}
    if p == "d":
        xb["trusted.overlay.opaque"] = b"y"
    want("xattrs", xa, xb)
hl = [os.lstat(os.path.join(mnt, p)).st_ino for p in ("hl.txt", "hl2.txt", "dir/hl3.txt")]
if len(set(hl)) != 1 or os.lstat(os.path.join(mnt, "hl.txt")).st_nlink != 3:
    errors.append(f"hardlinks do not share one inode with nlink 3: {hl}")
for e in errors:
    print(e)
print(f"compared {len(r)} paths")
sys.exit(1 if errors else 0)
PY
python3 compare.py mnt ref > compare.out && ok || bad "metadata: $(head -30 compare.out)"
# the hardlinks' content through every name, and the sparse file's holes
cmp -s mnt/dir/hl3.txt ref/hl.txt && cmp -s mnt/sparse ref/sparse && ok || bad "hardlink/sparse content"

# ---- whiteouts as overlayfs expects them ----------------------------------------------------
python3 - <<'PY' && ok || bad "whiteouts"
import os, stat
st = os.lstat("mnt/gone")
assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 and stat.S_IMODE(st.st_mode) == 0, st
assert os.getxattr("mnt/d", "trusted.overlay.opaque") == b"y"
assert "trusted.overlay.opaque" in os.listxattr("mnt/d")
assert "trusted.overlay.opaque" not in os.listxattr("mnt/dir")
names = os.listdir("mnt") + os.listdir("mnt/d")
assert not [n for n in names if n.startswith(".wh.")], names
for p in ("mnt/.wh.gone", "mnt/d/.wh..wh..opq", "mnt/.wh..wh.plnk", "mnt/.wh.text.txt"):
    assert not os.path.lexists(p), p
assert stat.S_ISREG(os.lstat("mnt/text.txt").st_mode)  # the real entry wins over .wh.text.txt
assert os.lstat("mnt/sparse").st_blocks < 1024, os.lstat("mnt/sparse")  # holes are not data
sv = os.statvfs("mnt")
assert sv.f_namemax == 255 and sv.f_files > 1500 and sv.f_blocks > 0, sv
PY

# ---- as an overlayfs lower layer above another lower ----------------------------------------
mkdir -p lower2/d merged
echo old > lower2/gone && echo old > lower2/d/old && echo keep > lower2/keep
if mount -t overlay overlay -o "lowerdir=$work/mnt:$work/lower2" merged 2> overlay.err; then
    [ ! -e merged/gone ] && [ ! -e merged/d/old ] && [ -e merged/keep ] &&
        cmp -s merged/d/new.txt ref/d/new.txt && cmp -s merged/big.bin ref/big.bin && ok ||
        bad "overlay: $(ls -la merged merged/d)"
    umount merged && ok || bad "overlay umount"
else
    bad "overlay mount: $(cat overlay.err)"
fi

# ---- parallel reads ---------------------------------------------------------------------------
files=(big.bin random.bin text.txt sparse hl.txt dir/sub/deep.txt big.bin random.bin)
pids=()
for i in $(seq 0 31); do
    f=${files[$((i % ${#files[@]}))]}
    (cat "mnt/$f" | cmp -s - "ref/$f") &
    pids+=($!)
done
par_fail=0
for p in "${pids[@]}"; do wait "$p" || par_fail=$((par_fail + 1)); done
[ "$par_fail" -eq 0 ] && ok || bad "parallel reads: $par_fail of 32 differ"
# random-offset reads of the big file from several processes
python3 - <<'PY' && ok || bad "random reads"
import os, random
from concurrent.futures import ThreadPoolExecutor
ref = open("ref/big.bin", "rb").read()
def one(seed):
    rnd = random.Random(seed)
    fd = os.open("mnt/big.bin", os.O_RDONLY)
    try:
        for _ in range(40):
            off = rnd.randrange(0, len(ref)); n = rnd.randrange(1, 300000)
            assert os.pread(fd, n, off) == ref[off:off + n], (seed, off, n)
    finally:
        os.close(fd)
with ThreadPoolExecutor(8) as ex:
    list(ex.map(one, range(8)))
PY

# ---- clean unmount on SIGTERM -----------------------------------------------------------------
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] && ! mountpoint -q mnt && ok || bad "fusemount exit $rc: $(cat fm.err)"
[ ! -s fm.err ] && ok || bad "fusemount stderr: $(cat fm.err)"

# ---- a broken blob: EIO, logged once, and the mount keeps serving -----------------------------
mkdir -p bsrc mnt2 && echo small > bsrc/b && head -c 5000000 /dev/urandom > bsrc/a
tar -C bsrc -cf broken.tar b a && gzip -c broken.tar > broken.tar.gz
"$lz" index build broken.tar.gz -o broken.idx > /dev/null
dd if=/dev/zero of=broken.tar.gz bs=1 seek=2500000 count=100000 conv=notrunc status=none
"$fm" broken.tar.gz broken.idx mnt2 > fm2.out 2> fm2.err &
pid=$!
for _ in $(seq 1 100); do grep -q mounted fm2.out 2>/dev/null && break; sleep 0.1; done
cmp -s mnt2/b bsrc/b && ok || bad "broken blob: the intact file"
for _ in 1 2; do
    cat mnt2/a > /dev/null 2> cat.err && bad "broken blob: read succeeded" ||
        { grep -q 'Input/output error' cat.err && ok || bad "broken blob: $(cat cat.err)"; }
done
cmp -s -n 1000000 mnt2/a bsrc/a && ok || bad "broken blob: the intact start of the file"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 1 ] && ! mountpoint -q mnt2 && ok || bad "broken blob: fusemount exit $rc"
[ "$(grep -c ' error .*mnt2: read a at .*gzip' fm2.err)" -eq 1 ] && [ "$(wc -l < fm2.err)" -eq 2 ] &&
    grep -q '^fusemount: [0-9]* read errors$' fm2.err && ok || bad "broken blob log: $(cat fm2.err)"
check_done
