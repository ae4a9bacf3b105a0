#!/usr/bin/env python3
"""Extracts an OCI layout image into DIR by applying its layers in order with GNU tar.

Usage: oci_apply.py LAYOUT:TAG DIR     (root, for owners and device nodes)

A second, independent reference besides `umoci unpack`. For each layer of the manifest, bottom
first (gzip, zstd -- any number of frames -- or plain tar blobs):
  1. the layer's entries are listed (Python tarfile, which also reads GNU sparse PAX names);
  2. whiteouts act on what the LOWER layers left, before anything of this layer is extracted
     (the OCI rule: a whiteout never hides entries of its own layer):
       DIR/P/.wh..wh..opq  -> every child of the existing directory P is removed (opaque);
       DIR/P/.wh.NAME      -> P/NAME is removed, whatever it is (a directory with its subtree);
  3. an entry of this layer replacing a lower entry of another kind (file <-> directory,
     symlink...) removes the lower one first; a non-directory always replaces what was there;
     an existing directory under a directory entry is kept (its lower children stay) and takes
     the new metadata, its xattrs included: the lower ones (but security.*, system.*) are
     dropped first, as GNU tar only adds the entry's own;
  4. GNU tar extracts the layer (-p --same-owner --numeric-owner --xattrs --xattrs-include='*',
     sparse files restored), the .wh.* entries excluded.
At the end no .wh.* name may remain. A path whose parent components include a symlink is
refused (nothing in the test images needs it, and following it could leave DIR).
Directory mtimes are whatever the removals and tar leave: compare with --ignore-dir-mtime.
Python 3 stdlib + GNU tar + the zstd CLI.
"""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
REF_NAME = "org.opencontainers.image.ref.name"
WH = ".wh."
OPAQUE = ".wh..wh..opq"


def die(msg):
    print(f"oci_apply.py: {msg}", file=sys.stderr)
    sys.exit(1)


def blob(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def load_json(layout, digest):
    with open(blob(layout, digest), "rb") as f:
        return json.loads(f.read())


def decompress_to(path, out):
    with open(path, "rb") as f:
        magic = f.read(4)
    with open(out, "wb") as o:
        if magic[:2] == GZIP_MAGIC:
            with gzip.open(path, "rb") as g:
                shutil.copyfileobj(g, o, 1 << 20)
        elif magic == ZSTD_MAGIC:
            subprocess.run(["zstd", "-q", "-d", "-c", path], stdout=o, check=True)
        else:
            with open(path, "rb") as i:
                shutil.copyfileobj(i, o, 1 << 20)


def norm(name):
    """The entry's path relative to the root ('' for the root), or None if it escapes."""
    parts = []
    for p in name.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            return None
        parts.append(p)
    return "/".join(parts)


def safe_target(root, rel):
    """DIR/rel, after checking that no parent component is a symlink."""
    cur = root
    parts = rel.split("/")
    for p in parts[:-1]:
        cur = os.path.join(cur, p)
        if os.path.islink(cur):
            die(f"{rel}: parent {cur} is a symlink; refusing")
    return os.path.join(root, rel)


def remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def apply_layer(tarpath, root):
    entries = []
    with tarfile.open(tarpath, "r:") as t:
        for m in t:
            rel = norm(m.name)
            if rel is None:
                die(f"entry {m.name!r} escapes the root")
            entries.append((rel, m.isdir()))
    # whiteouts first: they apply to the lower layers only
    for rel, _ in entries:
        parent, base = os.path.split(rel)
        if base == OPAQUE:
            d = safe_target(root, parent) if parent else root
            if os.path.isdir(d) and not os.path.islink(d):
                for child in os.listdir(d):
                    remove(os.path.join(d, child))
        elif base.startswith(WH):
            remove(safe_target(root, os.path.join(parent, base[len(WH):])))
    # implicit replacement of a lower entry by one of another kind
    for rel, isdir in entries:
        if not rel or os.path.basename(rel).startswith(WH):
            continue
        p = safe_target(root, rel)
        if not os.path.lexists(p):
            continue
        lower_is_dir = os.path.isdir(p) and not os.path.islink(p)
        if not isdir or not lower_is_dir:
            remove(p)
        else:
            # the upper entry's xattrs replace the lower directory's (GNU tar only adds)
            for name in os.listxattr(p, follow_symlinks=False):
                if not name.startswith(("security.", "system.")):
                    os.removexattr(p, name, follow_symlinks=False)
    subprocess.run(["tar", "-x", "-p", "--same-owner", "--numeric-owner", "--xattrs",
                    "--xattrs-include=*", "--exclude=.wh.*", "-f", tarpath, "-C", root],
                   check=True)


def main():
    if len(sys.argv) != 3 or ":" not in sys.argv[1]:
        print("usage: oci_apply.py LAYOUT:TAG DIR", file=sys.stderr)
        sys.exit(2)
    layout, tag = sys.argv[1].rsplit(":", 1)
    root = sys.argv[2]
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    descs = [d for d in index["manifests"] if d.get("annotations", {}).get(REF_NAME) == tag]
    if len(descs) != 1:
        die(f"{layout}: {len(descs)} manifests tagged {tag!r}")
    manifest = load_json(layout, descs[0]["digest"])
    diff_ids = load_json(layout, manifest["config"]["digest"])["rootfs"]["diff_ids"]
    os.makedirs(root, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oci-apply.") as tmp:
        for i, layer in enumerate(manifest["layers"]):
            tarpath = os.path.join(tmp, f"layer{i}.tar")
            decompress_to(blob(layout, layer["digest"]), tarpath)
            h = hashlib.sha256()
            with open(tarpath, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            if "sha256:" + h.hexdigest() != diff_ids[i]:
                die(f"layer {i}: uncompressed tar does not match diff_id {diff_ids[i]}")
            apply_layer(tarpath, root)
            os.unlink(tarpath)
    left = [os.path.join(top, n) for top, dirs, files in os.walk(root)
            for n in dirs + files if n.startswith(WH)]
    if left:
        die(f"whiteout names left in the tree: {left[:5]}")


if __name__ == "__main__":
    main()
