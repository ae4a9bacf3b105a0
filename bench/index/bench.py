#!/usr/bin/env python3
"""bench/index: lazysnap's index against gzip and gztool on the same layer, in one run.

Builds a gzip layer of >= SIZE MiB of this machine's /usr (a tar of real files), then measures:
  build time        lazysnap index build  vs  gzip -dc > /dev/null  and  gztool -i (same span)
  index size        lazysnap index (stored, and zstd -9 as published)  vs  gztool's .gzi,
                    as a fraction of the compressed layer
  cold random reads 4 KiB and 64 KiB at random offsets inside random files, one process per read
                    (lazysnap index cat --offset --length  vs  gztool -b -r), p50/p99; every
                    lazysnap read is checked against gztool's bytes.
Prints a table of ratios (lazysnap / peer). Usage: bench.py LAZYSNAP [--size MiB] [--reads N]
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def run_timed(cmd, **kw):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    return time.perf_counter() - t


def median_time(cmd, reps, **kw):
    return statistics.median(run_timed(cmd, **kw) for _ in range(reps))


def make_layer(work, size_mib):
    """A tar of the first files of /usr (sorted walk) until size_mib, gzip -6."""
    listing, total = [], 0
    for dirpath, dirnames, filenames in os.walk("/usr"):
        dirnames.sort()
        listing.append(dirpath[1:])
        for name in sorted(filenames):
            p = os.path.join(dirpath, name)
            if os.path.islink(p) or not os.path.isfile(p):
                listing.append(p[1:])
                continue
            listing.append(p[1:])
            total += os.path.getsize(p)
        if total >= size_mib << 20:
            break
    with open(f"{work}/list", "w") as f:
        f.write("\n".join(listing) + "\n")
    subprocess.run(["tar", "-C", "/", "--no-recursion", "-cf", f"{work}/layer.tar",
                    "-T", f"{work}/list"], check=True, stderr=subprocess.DEVNULL)
    with open(f"{work}/layer.tar.gz", "wb") as out:
        subprocess.run(["gzip", "-6", "-c", f"{work}/layer.tar"], check=True, stdout=out)
    os.unlink(f"{work}/layer.tar")
    return f"{work}/layer.tar.gz"


def pick_reads(entries, length, n, rng):
    files = [e for e in entries if e["type"] == "regular" and e["size"] >= length and not e["sparse"]]
    picks = []
    for _ in range(n):
        e = rng.choice(files)
        off = rng.randrange(0, e["size"] - length + 1)
        picks.append((e["path"], off, e["offset"] + off))
    return picks


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def in_process(readlat, layer, idx, picks, length):
    """Our cold reads inside one process (a new decoder each), as the daemon will do them."""
    req = "".join(f"{path} {off} {length}\n" for path, off, _ in picks)
    return json.loads(subprocess.run([readlat, layer, idx], input=req.encode(), check=True,
                                     capture_output=True).stdout)


def baseline(cmd, reps=20):
    """A tool's cost for a minimal read: process start, index load."""
    return statistics.median(run_timed(cmd, stdout=subprocess.DEVNULL) for _ in range(reps))


def bench_reads(lazysnap, layer, idx, gzi, picks, length):
    ours, theirs = [], []
    for i, (path, off, stream_off) in enumerate(picks):
        t = time.perf_counter()
        a = subprocess.run([lazysnap, "index", "cat", "--offset", str(off), "--length",
                            str(length), layer, idx, path], check=True, capture_output=True)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        b = subprocess.run(["gztool", "-v", "0", "-W", "-I", gzi, "-b", str(stream_off),
                            "-r", str(length), layer], check=True, capture_output=True)
        theirs.append(time.perf_counter() - t)
        if a.stdout != b.stdout:
            sys.exit(f"bench: read {i} of {path} at {off}: lazysnap and gztool disagree")
    return ours, theirs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lazysnap")
    ap.add_argument("readlat")
    ap.add_argument("--size", type=int, default=600, help="MiB of /usr to pack")
    ap.add_argument("--reads", type=int, default=200)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--span", default="1", help="MiB between checkpoints, both tools")
    args = ap.parse_args()
    for tool in ("gztool", "gzip", "zstd", "tar"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is not installed (apt-get install -y {tool})")
    lazysnap = os.path.abspath(args.lazysnap)
    args.readlat = os.path.abspath(args.readlat)
    work = tempfile.mkdtemp(prefix="lzs-bench-index.")
    try:
        run(lazysnap, work, args)
    finally:
        shutil.rmtree(work)


def run(lazysnap, work, args):
    layer = make_layer(work, args.size)
    idx, gzi = f"{work}/layer.idx", f"{work}/layer.gzi"
    gz_size = os.path.getsize(layer)
    dn = subprocess.DEVNULL
    t_gzip = median_time(["gzip", "-dc", layer], args.reps, stdout=dn)
    t_gztool = median_time(["gztool", "-v", "0", "-f", "-z", "-s", args.span, "-I", gzi, "-i",
                            layer], args.reps, stdout=dn)
    t_ours = median_time([lazysnap, "index", "build", "--span", f"{args.span}M", "-o", idx,
                          layer], args.reps, stdout=dn)
    info = json.loads(subprocess.run([lazysnap, "index", "inspect", "--json", idx], check=True,
                                     capture_output=True).stdout)
    idx_size = os.path.getsize(idx)
    idx_zst = len(subprocess.run(["zstd", "-9", "-q", "-c", idx], check=True,
                                 capture_output=True).stdout)
    gzi_size = os.path.getsize(gzi)
    entries = [json.loads(l) for l in subprocess.run(
        [lazysnap, "index", "ls", "--json", idx], check=True, capture_output=True).stdout.splitlines()]
    rng = random.Random(42)
    reads, inproc = {}, {}
    first = next(e for e in entries if e["type"] == "regular" and e["size"] > 0)
    base = (baseline([lazysnap, "index", "cat", "--length", "1", layer, idx, first["path"]]),
            baseline(["gztool", "-v", "0", "-W", "-I", gzi, "-b", str(first["offset"]), "-r",
                      "1", layer]))
    for length in (4096, 65536):
        picks = pick_reads(entries, length, args.reads, rng)
        reads[length] = bench_reads(lazysnap, layer, idx, gzi, picks, length)
        inproc[length] = in_process(args.readlat, layer, idx, picks, length)
    report(args, info, gz_size, (t_gzip, t_gztool, t_ours), (idx_size, idx_zst, gzi_size),
           reads, base, inproc)


def report(args, info, gz_size, times, sizes, reads, base, inproc):
    t_gzip, t_gztool, t_ours = times
    idx_size, idx_zst, gzi_size = sizes
    mib = 1 << 20
    print(f"layer: {info['uncompressed_size'] / mib:.0f} MiB tar of /usr, gzip -6 "
          f"{gz_size / mib:.0f} MiB, {info['entries']} entries, span {args.span} MiB, "
          f"{info['checkpoints']} checkpoints")
    print(f"{'measure':<38}{'lazysnap':>12}{'peer':>12}{'ratio':>8}  peer")
    row = lambda name, a, b, unit, peer: print(
        f"{name:<38}{a:>10.3f}{unit:<2}{b:>10.3f}{unit:<2}{a / b:>8.2f}  {peer}")
    row("build time", t_ours, t_gzip, "s", "gzip -dc >/dev/null")
    row("build time", t_ours, t_gztool, "s", "gztool -i (same span)")
    pct = lambda n: 100.0 * n / gz_size
    row("index size, % of layer (stored)", pct(idx_size), pct(gzi_size), "%", "gztool .gzi")
    row("index size, % of layer (zstd)", pct(idx_zst), pct(gzi_size), "%", "gztool .gzi")
    for length, (ours, theirs) in reads.items():
        k = length // 1024
        for p in (50, 99):
            row(f"cold {k} KiB read p{p}, per process", percentile(ours, p) * 1e3,
                percentile(theirs, p) * 1e3, "ms", "gztool -b -r")
        row(f"cold {k} KiB read p50, less startup", (percentile(ours, 50) - base[0]) * 1e3,
            (percentile(theirs, 50) - base[1]) * 1e3, "ms", "gztool -b -r, less its startup")
    print(f"process start + index load (a 1-byte read): lazysnap {base[0] * 1e3:.1f} ms, "
          f"gztool {base[1] * 1e3:.1f} ms")
    for length, r in inproc.items():
        print(f"in-process cold {length // 1024} KiB read (new decoder each, as the daemon): "
              f"p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, mean {r['mean_ms']:.2f} ms")
    print(f"reads: {args.reads} per size, every lazysnap result equal to gztool's")


if __name__ == "__main__":
    main()
