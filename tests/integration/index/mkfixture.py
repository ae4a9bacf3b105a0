#!/usr/bin/env python3
"""Fill a directory with every kind of entry a layer can hold (run as root).

Usage: mkfixture.py DIR [--big MiB]
Regular files of many sizes (empty, tiny, several MiB spanning gzip checkpoints), long and unicode
names, symlinks, hardlinks, setuid/sticky modes, odd owners, fifos, char/block devices, user xattrs,
a sparse file, OCI whiteouts, and mtimes with nanoseconds.
"""
import os
import random
import stat
import sys


def write(path, data, mode=0o644, uid=0, gid=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)
    os.lchown(path, uid, gid)


def mixed_bytes(rng, n):
    """Half text-like (compressible), half random: realistic deflate blocks of both kinds."""
    words = [b"layer", b"index", b"offset", b"checkpoint", b"window", b"\n", b" ", b"lazysnap"]
    out = bytearray()
    while len(out) < n:
        if rng.random() < 0.5:
            out += b"".join(rng.choice(words) for _ in range(512))
        else:
            out += rng.randbytes(4096)
    return bytes(out[:n])


def main():
    root = sys.argv[1]
    big = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[2] == "--big" else 6
    rng = random.Random(1234)
    os.makedirs(root, exist_ok=True)

    write(f"{root}/empty", b"")
    write(f"{root}/tiny.txt", b"hello\n")
    write(f"{root}/bin/tool", mixed_bytes(rng, 70000), mode=0o4755)
    write(f"{root}/data/big.bin", mixed_bytes(rng, big << 20))
    write(f"{root}/data/odd-size.bin", rng.randbytes(1048577), uid=1234, gid=5678)
    for i in range(40):
        write(f"{root}/many/file{i:03d}", mixed_bytes(rng, rng.randrange(1, 200000)))
    long_dir = root + "/" + "/".join(["d" * 60] * 3)
    write(f"{long_dir}/{'n' * 150}.txt", b"long path\n")
    write(f"{root}/unicode/Grüße-日本語-ñ.txt", "ünïcödé\n".encode())
    write(f"{root}/with space/and\ttab", b"spaces\n")

    os.symlink("tiny.txt", f"{root}/link-to-tiny")
    os.symlink("../" + "x" * 200, f"{root}/unicode/long-target-link")
    os.symlink("/absolute/dangling", f"{root}/dangling")
    os.link(f"{root}/data/odd-size.bin", f"{root}/hardlink-to-odd")
    os.link(f"{root}/tiny.txt", f"{root}/many/hardlink-tiny")

    os.makedirs(f"{root}/sticky", exist_ok=True)
    os.chmod(f"{root}/sticky", 0o1777)
    os.makedirs(f"{root}/private", exist_ok=True)
    os.chmod(f"{root}/private", 0o700)
    os.lchown(f"{root}/private", 1000, 1000)
    write(f"{root}/setgid", b"g", mode=0o2711)

    os.mkfifo(f"{root}/fifo", 0o600)
    os.mknod(f"{root}/chardev", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(f"{root}/blockdev", 0o640 | stat.S_IFBLK, os.makedev(7, 200))

    write(f"{root}/xattrs", b"x\n")
    os.setxattr(f"{root}/xattrs", "user.plain", b"value")
    os.setxattr(f"{root}/xattrs", "user.binary", bytes(range(256)))
    os.setxattr(f"{root}/data", "user.dir", b"on a directory")

    with open(f"{root}/sparse", "wb") as f:  # holes at the start, middle and end
        f.seek(3 << 20)
        f.write(mixed_bytes(rng, 100000))
        f.seek(9 << 20)
        f.write(b"island")
        f.truncate(12 << 20)

    write(f"{root}/whiteouts/.wh.deleted", b"")
    write(f"{root}/whiteouts/opaque/.wh..wh..opq", b"")

    ns = 1_600_000_000_123_456_789
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), ns=(ns, ns), follow_symlinks=False)
            ns += 1_000_001
    os.utime(root, ns=(ns, ns))


if __name__ == "__main__":
    main()
