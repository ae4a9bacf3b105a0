#!/usr/bin/env python3
"""The read-path oracle for one layer: every entry of the index (lazysnap index ls --json) must
match the same path in a full extraction REF (type, mode, owner, size, mtime, link target, device
numbers, user xattrs, hardlinks), the two must hold the same paths, and every regular file read
through `lazysnap index cat` must equal the extracted file byte for byte.

Usage: check_layer.py LAZYSNAP LAYER INDEX REF [--mtime-ns]
"""
import concurrent.futures
import hashlib
import json
import os
import stat
import subprocess
import sys

TYPES = {"regular": stat.S_ISREG, "hardlink": stat.S_ISREG, "directory": stat.S_ISDIR,
         "symlink": stat.S_ISLNK, "char": stat.S_ISCHR, "block": stat.S_ISBLK,
         "fifo": stat.S_ISFIFO}


def user_xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False).hex() for n in names
            if n.startswith("user.")}


def ref_paths(ref):
    out = set()
    for dirpath, dirnames, filenames in os.walk(ref):
        for name in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, name), ref))
    return out


def check_meta(e, ref, st, mtime_ns, errors):
    p = e["path"]
    if not TYPES[e["type"]](st.st_mode):
        errors.append(f"{p}: type {e['type']} but the extraction has mode {oct(st.st_mode)}")
        return
    if e["type"] == "hardlink":
        tst = os.lstat(os.path.join(ref, e["link"]))
        if (tst.st_ino, tst.st_dev) != (st.st_ino, st.st_dev):
            errors.append(f"{p}: hardlink to {e['link']} but not the same inode in the extraction")
        return
    if e["type"] != "symlink" and e["mode"] != stat.S_IMODE(st.st_mode):
        errors.append(f"{p}: mode {oct(e['mode'])} != {oct(stat.S_IMODE(st.st_mode))}")
    if (e["uid"], e["gid"]) != (st.st_uid, st.st_gid):
        errors.append(f"{p}: owner {e['uid']}:{e['gid']} != {st.st_uid}:{st.st_gid}")
    if e["type"] == "regular" and e["size"] != st.st_size:
        errors.append(f"{p}: size {e['size']} != {st.st_size}")
    got = e["mtime"] * 10**9 + e["mtime_nsec"]
    want = st.st_mtime_ns if mtime_ns else st.st_mtime_ns // 10**9 * 10**9
    if e["type"] != "symlink" and got != want:
        errors.append(f"{p}: mtime {got} != {want}")
    if e["type"] == "symlink" and e["link"] != os.readlink(os.path.join(ref, p)):
        errors.append(f"{p}: symlink target {e['link']!r} != {os.readlink(os.path.join(ref, p))!r}")
    if e["type"] in ("char", "block") and (e["devmajor"], e["devminor"]) != (
            os.major(st.st_rdev), os.minor(st.st_rdev)):
        errors.append(f"{p}: device {e['devmajor']},{e['devminor']} differs")
    if e["type"] != "symlink":
        mine = {k: v for k, v in e["xattrs"].items() if k.startswith("user.")}
        if mine != user_xattrs(os.path.join(ref, p)):
            errors.append(f"{p}: xattrs {mine} != {user_xattrs(os.path.join(ref, p))}")


def check_content(lazysnap, layer, index, e, ref, errors):
    p = e["path"]
    with open(os.path.join(ref, p), "rb") as f:
        want = f.read()
    r = subprocess.run([lazysnap, "index", "cat", layer, index, p], capture_output=True)
    if r.returncode != 0:
        errors.append(f"{p}: index cat failed: {r.stderr.decode(errors='replace').strip()}")
    elif r.stdout != want:
        errors.append(f"{p}: content differs ({len(r.stdout)} bytes read, {len(want)} expected)")
    if e["type"] == "regular" and e["sha256"] != hashlib.sha256(want).hexdigest():
        errors.append(f"{p}: sha256 in the index differs from the content")


def main():
    lazysnap, layer, index, ref = sys.argv[1:5]
    mtime_ns = "--mtime-ns" in sys.argv
    out = subprocess.run([lazysnap, "index", "ls", "--json", index], check=True,
                         capture_output=True).stdout.decode()
    entries = [json.loads(line) for line in out.splitlines()]
    errors = []
    have = {e["path"] for e in entries}
    extracted = ref_paths(ref)
    for missing in sorted(extracted - have):
        errors.append(f"{missing}: in the extraction, not in the index")
    for extra in sorted(have - extracted):
        errors.append(f"{extra}: in the index, not in the extraction")
    files = [e for e in entries if e["path"] in extracted and e["type"] in ("regular", "hardlink")]
    for e in entries:
        if e["path"] in extracted:
            check_meta(e, ref, os.lstat(os.path.join(ref, e["path"])), mtime_ns, errors)
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for f in [pool.submit(check_content, lazysnap, layer, index, e, ref, errors) for e in files]:
            f.result()
    files = len(files)
    for err in errors[:30]:
        print(f"  {layer}: {err}", file=sys.stderr)
    if errors:
        print(f"  {layer}: {len(errors)} differences", file=sys.stderr)
        sys.exit(1)
    print(f"  ok {os.path.basename(layer)}: {len(entries)} entries, {files} files read and equal")


if __name__ == "__main__":
    main()
