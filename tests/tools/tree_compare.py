#!/usr/bin/env python3
"""Compares two directory trees entry by entry, without following symlinks.

Usage: tree_compare.py [--ignore-dir-mtime] [--ignore PATH]... [--ignore-xattr PREFIX]... A B

Prints one line per difference, `PATH: WHAT: A-value vs B-value` (PATH relative to the roots,
`.` for the roots themselves), then `N entries compared` (with `, M differences` when there are
some). Exit status: 0 when the trees are the same, 1 when they differ, 2 on usage errors or
when A or B is not a directory.

Compared for every entry present on both sides (the roots included):
  - the set of names (an entry only on one side is one line; its subtree is not listed);
  - the file type (when it differs nothing else is compared for that entry);
  - mode bits (07777), uid, gid;
  - mtime: whole seconds always; the nanoseconds only when both sides have a non-zero
    sub-second part (a tar without PAX timestamps, or a file system that keeps seconds only,
    gives .000000000 on one side: that is not counted as a difference);
    directories' mtimes are skipped with --ignore-dir-mtime (extraction touches them);
  - regular files: size and sha256 of the content (a read error is reported as a difference);
  - symlinks: the target;
  - character and block devices: major and minor;
  - extended attributes, names and values, except security.* and system.* (and any
    --ignore-xattr PREFIX); symlinks included where the file system lists them;
  - hardlink grouping: the non-directory entries sharing one (st_dev, st_ino) in A must share one
    in B, and vice versa (groups are compared as sets of paths, restricted to paths on both sides).

--ignore PATH (repeatable) skips PATH and everything below it on both sides. Python 3 stdlib only.
"""

import argparse
import errno
import hashlib
import os
import stat
import sys

TYPES = [
    (stat.S_ISDIR, "directory"),
    (stat.S_ISREG, "regular file"),
    (stat.S_ISLNK, "symlink"),
    (stat.S_ISCHR, "char device"),
    (stat.S_ISBLK, "block device"),
    (stat.S_ISFIFO, "fifo"),
    (stat.S_ISSOCK, "socket"),
]
SKIPPED_XATTRS = ("security.", "system.")


def ftype(st):
    for test, name in TYPES:
        if test(st.st_mode):
            return name
    return "unknown"


def rel_join(parent, name):
    return name if parent == "." else parent + "/" + name


def norm_rel(path):
    path = os.path.normpath(path.strip("/")) if path.strip("/") else "."
    return path[2:] if path.startswith("./") else path


class Side:
    """One tree: lstat results and inode groups, filled as the walk goes."""

    def __init__(self, root):
        self.root = root
        self.inodes = {}  # (dev, ino) -> [rel paths] of non-directories

    def path(self, rel):
        return self.root if rel == "." else os.path.join(self.root, rel)

    def lstat(self, rel):
        return os.lstat(self.path(rel))

    def names(self, rel):
        return set(os.listdir(self.path(rel)))

    def xattrs(self, rel):
        p = self.path(rel)
        try:
            names = os.listxattr(p, follow_symlinks=False)
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
                return {}
            raise
        out = {}
        for n in names:
            if n.startswith(SKIPPED_XATTRS) or n.startswith(tuple(Compare.ignored_xattrs)):
                continue
            try:
                out[n] = os.getxattr(p, n, follow_symlinks=False)
            except OSError as e:
                out[n] = f"<getxattr error: {e.strerror}>"
        return out

    def digest(self, rel):
        h = hashlib.sha256()
        try:
            with open(self.path(rel), "rb") as f:
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    h.update(chunk)
        except OSError as e:
            return f"<read error: {e.strerror}>"
        return "sha256:" + h.hexdigest()


def fmt_mtime(st):
    return f"{st.st_mtime_ns // 10**9}.{st.st_mtime_ns % 10**9:09d}"


def fmt_xattrs(x):
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(x.items())) + "}"


class Compare:
    ignored_xattrs = []

    def __init__(self, a, b, ignore, ignore_dir_mtime):
        self.a, self.b = Side(a), Side(b)
        self.ignore = ignore
        self.ignore_dir_mtime = ignore_dir_mtime
        self.diffs = []
        self.compared = 0
        self.common = set()

    def diff(self, rel, what, va, vb):
        self.diffs.append(f"{rel}: {what}: {va} vs {vb}")

    def ignored(self, rel):
        return any(rel == i or rel.startswith(i + "/") for i in self.ignore) if rel != "." else False

    def walk(self, rel):
        """Compares entry REL (present on both sides), then its children if both are dirs."""
        sa, sb = self.a.lstat(rel), self.b.lstat(rel)
        self.compared += 1
        self.common.add(rel)
        ta, tb = ftype(sa), ftype(sb)
        if ta != tb:
            self.diff(rel, "type", ta, tb)
            return
        if ta != "directory":
            self.a.inodes.setdefault((sa.st_dev, sa.st_ino), []).append(rel)
            self.b.inodes.setdefault((sb.st_dev, sb.st_ino), []).append(rel)
        self.entry(rel, ta, sa, sb)
        if ta != "directory":
            return
        na, nb = self.a.names(rel), self.b.names(rel)
        for name in sorted(na | nb):
            child = rel_join(rel, name)
            if self.ignored(child):
                continue
            if name not in nb:
                self.diff(child, "presence", f"present ({ftype(self.a.lstat(child))})", "missing")
            elif name not in na:
                self.diff(child, "presence", "missing", f"present ({ftype(self.b.lstat(child))})")
            else:
                self.walk(child)

    def entry(self, rel, t, sa, sb):
        ma, mb = stat.S_IMODE(sa.st_mode) & 0o7777, stat.S_IMODE(sb.st_mode) & 0o7777
        if ma != mb:
            self.diff(rel, "mode", f"{ma:04o}", f"{mb:04o}")
        if sa.st_uid != sb.st_uid:
            self.diff(rel, "uid", sa.st_uid, sb.st_uid)
        if sa.st_gid != sb.st_gid:
            self.diff(rel, "gid", sa.st_gid, sb.st_gid)
        if not (t == "directory" and self.ignore_dir_mtime):
            sec_a, ns_a = divmod(sa.st_mtime_ns, 10**9)
            sec_b, ns_b = divmod(sb.st_mtime_ns, 10**9)
            if sec_a != sec_b or (ns_a and ns_b and ns_a != ns_b):
                self.diff(rel, "mtime", fmt_mtime(sa), fmt_mtime(sb))
        if t == "regular file":
            if sa.st_size != sb.st_size:
                self.diff(rel, "size", sa.st_size, sb.st_size)
            else:
                da, db = self.a.digest(rel), self.b.digest(rel)
                if da != db:
                    self.diff(rel, "content", da, db)
        elif t == "symlink":
            la, lb = os.readlink(self.a.path(rel)), os.readlink(self.b.path(rel))
            if la != lb:
                self.diff(rel, "symlink target", repr(la), repr(lb))
        elif t in ("char device", "block device"):
            da = (os.major(sa.st_rdev), os.minor(sa.st_rdev))
            db = (os.major(sb.st_rdev), os.minor(sb.st_rdev))
            if da != db:
                self.diff(rel, "device", "%d:%d" % da, "%d:%d" % db)
        xa, xb = self.a.xattrs(rel), self.b.xattrs(rel)
        if xa != xb:
            self.diff(rel, "xattrs", fmt_xattrs(xa), fmt_xattrs(xb))

    def hardlinks(self):
        def groups(side):
            of = {}
            for paths in side.inodes.values():
                g = frozenset(p for p in paths if p in self.common)
                for p in g:
                    of[p] = g
            return of

        ga, gb = groups(self.a), groups(self.b)
        seen = set()
        for p in sorted(ga):
            a, b = ga[p], gb.get(p, frozenset([p]))
            if a != b and (a, b) not in seen:
                seen.add((a, b))
                self.diff(p, "hardlink group", "{" + ", ".join(sorted(a)) + "}",
                          "{" + ", ".join(sorted(b)) + "}")

    def run(self):
        self.walk(".")
        self.hardlinks()
        for line in self.diffs:
            print(line)
        tail = f", {len(self.diffs)} differences" if self.diffs else ""
        print(f"{self.compared} entries compared{tail}")
        return 1 if self.diffs else 0


def main():
    ap = argparse.ArgumentParser(description="Compare two directory trees (no symlink following).")
    ap.add_argument("a", metavar="A")
    ap.add_argument("b", metavar="B")
    ap.add_argument("--ignore-dir-mtime", action="store_true",
                    help="do not compare the mtimes of directories")
    ap.add_argument("--ignore", action="append", default=[], metavar="PATH",
                    help="skip PATH (relative to the roots) and its subtree; repeatable")
    ap.add_argument("--ignore-xattr", action="append", default=[], metavar="PREFIX",
                    help="skip xattrs whose name starts with PREFIX (besides security. and system.)")
    args = ap.parse_args()
    for root in (args.a, args.b):
        if not os.path.isdir(root) or os.path.islink(root):
            print(f"tree_compare.py: {root}: not a directory", file=sys.stderr)
            return 2
    Compare.ignored_xattrs = list(args.ignore_xattr)
    ignore = [norm_rel(p) for p in args.ignore]
    return Compare(args.a, args.b, ignore, args.ignore_dir_mtime).run()


if __name__ == "__main__":
    sys.exit(main())
