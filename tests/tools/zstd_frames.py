#!/usr/bin/env python3
"""Rewrites an OCI layout image so that every layer is a MULTI-FRAME zstd stream.

Usage: zstd_frames.py [--frame-size BYTES] LAYOUT:TAG OUT_LAYOUT:TAG

Each layer blob (gzip, zstd or plain tar) is decompressed, checked against the config's diff_id,
cut into pieces of --frame-size bytes (default 512 KiB, the last one shorter) and each piece is
compressed on its own by the `zstd` CLI (level 3, content size and checksum in every frame);
the frames are concatenated, which is a valid zstd stream whose decompression is the original
tar. The new manifest has media type application/vnd.oci.image.layer.v1.tar+zstd and the new
digests and sizes for its layers; the config is copied byte for byte (its diff_ids are those of
the uncompressed tars, which do not change, so the config digest stays the same); the manifest
digest is new. OUT_LAYOUT is created if missing (it may be LAYOUT itself) and OUT_TAG in its
index.json now names the new manifest. Prints one line per layer:
  `layer N: sha256:OLD -> sha256:NEW SIZE bytes, F frames`
Python 3 stdlib + the zstd CLI.
"""

import argparse
import gzip
import hashlib
import json
import os
import subprocess
import sys

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
GZIP_MAGIC = b"\x1f\x8b"
REF_NAME = "org.opencontainers.image.ref.name"
MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def die(msg):
    print(f"zstd_frames.py: {msg}", file=sys.stderr)
    sys.exit(1)


def split_ref(ref):
    if ":" not in ref:
        die(f"want LAYOUT:TAG, got {ref!r}")
    layout, tag = ref.rsplit(":", 1)
    return layout, tag


def blob_path(layout, digest):
    algo, hexd = digest.split(":", 1)
    return os.path.join(layout, "blobs", algo, hexd)


def read_blob(layout, digest):
    with open(blob_path(layout, digest), "rb") as f:
        data = f.read()
    if "sha256:" + hashlib.sha256(data).hexdigest() != digest:
        die(f"{layout}: blob {digest} does not match its digest")
    return data


def write_blob(layout, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = blob_path(layout, digest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return digest, len(data)


def find_manifest(layout, tag):
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    for d in index.get("manifests", []):
        if d.get("annotations", {}).get(REF_NAME) == tag:
            if d.get("mediaType", MANIFEST_TYPE) != MANIFEST_TYPE:
                die(f"{layout}:{tag} is a {d.get('mediaType')}, not an image manifest")
            return d
    die(f"{layout}: no tag {tag!r} in index.json")


def decompress(data):
    if data[:2] == GZIP_MAGIC:
        return gzip.decompress(data)
    if data[:4] == ZSTD_MAGIC:
        return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, stdout=subprocess.PIPE,
                              check=True).stdout
    return data


def compress_frames(tar, frame_size):
    frames = []
    for off in range(0, max(len(tar), 1), frame_size):
        piece = tar[off:off + frame_size]
        out = subprocess.run(["zstd", "-q", "-c", "-3", "--stream-size=%d" % len(piece)],
                             input=piece, stdout=subprocess.PIPE, check=True).stdout
        if not out.startswith(ZSTD_MAGIC):
            die("zstd wrote something that is not a zstd frame")
        frames.append(out)
    return b"".join(frames), len(frames)


def main():
    ap = argparse.ArgumentParser(description="Rewrite an OCI image's layers as multi-frame zstd.")
    ap.add_argument("--frame-size", type=int, default=512 * 1024)
    ap.add_argument("src", metavar="LAYOUT:TAG")
    ap.add_argument("dst", metavar="OUT_LAYOUT:TAG")
    args = ap.parse_args()
    if args.frame_size < 1:
        die("--frame-size must be positive")
    src, tag = split_ref(args.src)
    dst, out_tag = split_ref(args.dst)

    desc = find_manifest(src, tag)
    manifest = json.loads(read_blob(src, desc["digest"]))
    config_raw = read_blob(src, manifest["config"]["digest"])
    diff_ids = json.loads(config_raw)["rootfs"]["diff_ids"]
    if len(diff_ids) != len(manifest["layers"]):
        die(f"{len(manifest['layers'])} layers but {len(diff_ids)} diff_ids")

    os.makedirs(os.path.join(dst, "blobs", "sha256"), exist_ok=True)
    if not os.path.exists(os.path.join(dst, "oci-layout")):
        with open(os.path.join(dst, "oci-layout"), "w") as f:
            json.dump({"imageLayoutVersion": "1.0.0"}, f)
    write_blob(dst, config_raw)

    layers = []
    for i, (layer, diff_id) in enumerate(zip(manifest["layers"], diff_ids)):
        tar = decompress(read_blob(src, layer["digest"]))
        if "sha256:" + hashlib.sha256(tar).hexdigest() != diff_id:
            die(f"layer {i}: uncompressed content does not match diff_id {diff_id}")
        blob, nframes = compress_frames(tar, args.frame_size)
        digest, size = write_blob(dst, blob)
        new = dict(layer)
        new.update(mediaType=ZSTD_LAYER, digest=digest, size=size)
        layers.append(new)
        print(f"layer {i}: {layer['digest']} -> {digest} {size} bytes, {nframes} frames")
    manifest["layers"] = layers
    mdigest, msize = write_blob(dst, json.dumps(manifest, separators=(",", ":")).encode())

    index_path = os.path.join(dst, "index.json")
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
    else:
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": []}
    index["manifests"] = [d for d in index.get("manifests", [])
                          if d.get("annotations", {}).get(REF_NAME) != out_tag]
    entry = {"mediaType": MANIFEST_TYPE, "digest": mdigest, "size": msize,
             "annotations": {REF_NAME: out_tag}}
    if "platform" in desc:
        entry["platform"] = desc["platform"]
    index["manifests"].append(entry)
    with open(index_path + ".tmp", "w") as f:
        json.dump(index, f)
    os.replace(index_path + ".tmp", index_path)
    print(f"manifest {mdigest} as {dst}:{out_tag}")


if __name__ == "__main__":
    main()
