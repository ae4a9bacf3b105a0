# shellcheck shell=bash
# A "rich" 3-layer OCI test image and its references, for oracle tests. Source after rig.sh
# (uses RIG_TMP, RIG_TOOLS_DIR, rig_image_build_tar), as root (owners, device nodes).
#
#   rich_image_build LAYOUT:TAG                       3 gzip layers, built with GNU tar
#   rich_image_zstd_multiframe LAYOUT:TAG OUT:TAG     the same image, layers as many zstd frames
#   rich_image_unpack LAYOUT:TAG DIR                  the reference tree (GNU tar, layer by layer)
#   rich_image_umoci_unpack LAYOUT:TAG DIR            the same by umoci unpack (gzip images only)
#
# Layer 1: regular files of many sizes (0, 1 B, 100 KiB, 3 MiB random, 20 MiB mostly
#   compressible, a 30 MiB sparse file), modes 0700 / 1777 / 2755 / 4755 / 0444, owners
#   1000:1000 and 65534:65534, symlinks (relative, absolute, dangling, to a directory),
#   a hardlink triple across directories, a fifo, char and block devices, user.* xattrs on a
#   file and a directory, mtimes in the past and with nanoseconds, the victims of layers 2/3.
# Layer 2: whiteout of a file (.wh.gone.txt), an opaque directory (.wh..wh..opq + new content),
#   a file replaced by a directory and a directory by a file (no whiteout, implicit), a file's
#   content changed, a new hardlink pair, a directory whited out (recreated in layer 3).
# Layer 3: whiteout of a whole directory tree, a new file in the directory layer 2 deleted,
#   and a whiteout plus a new directory of the same name in the SAME layer (`.wh.samelayer` and
#   `samelayer/fresh.txt`: per the OCI spec the whiteout hides only the lower `samelayer/`, so
#   the result is a directory holding fresh.txt alone).
#
# Tars: GNU tar --format=posix --sort=name --numeric-owner --xattrs --xattrs-include='user.*'
# --sparse, no atime/ctime records; whiteouts are plain empty files `.wh.NAME` in the staging
# directories. Random content comes from /dev/urandom, so every build differs.

RICH_TAR_OPTS=(--format=posix --sort=name --numeric-owner --xattrs '--xattrs-include=user.*'
    --sparse '--pax-option=delete=atime,delete=ctime')

# rich__tar STAGING OUT.tar: one layer tar of STAGING's content (entries ./...)
rich__tar() {
    tar -C "$1" "${RICH_TAR_OPTS[@]}" -cf "$2" .
}

# rich__setx PATH NAME VALUE: a user.* xattr (no setfattr needed)
rich__setx() {
    python3 -c 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode(), follow_symlinks=False)' "$@"
}

# rich__stamp STAGING: the same past mtime on everything (symlinks too), before the exceptions
rich__stamp() {
    find "$1" -exec touch -h -d '2001-02-03 04:05:06' {} +
}

rich__layer1() {
    local s=$1
    mkdir -p "$s"/{files,dirs,home/user,nobody,links,hl/a,hl/b,dev,etc,del,opq/sub,d2f/sub,wdir/x/y,recreate,samelayer,deep/a/b/c/d/e}
    # regular files
    : >"$s/files/empty"
    printf x >"$s/files/one"
    head -c 102400 /dev/urandom >"$s/files/100k.bin"
    head -c 3145000 /dev/urandom >"$s/files/random3m.bin"
    { seq 1 1500000; head -c 1048576 /dev/urandom; yes 'lazysnap compressible line' | head -n 300000; } >"$s/files/big20m.txt"
    truncate -s 20M "$s/files/big20m.txt"
    truncate -s 30M "$s/files/sparse.img"
    printf 'head of the sparse file' | dd of="$s/files/sparse.img" bs=1 seek=0 conv=notrunc status=none
    head -c 70000 /dev/urandom | dd of="$s/files/sparse.img" bs=4096 seek=2500 conv=notrunc status=none
    printf 'in the middle' | dd of="$s/files/sparse.img" bs=1 seek=16777216 conv=notrunc status=none
    printf 'tail' | dd of="$s/files/sparse.img" bs=1 seek=$((30 * 1048576 - 4)) conv=notrunc status=none
    echo 'an old file' >"$s/files/old.txt"
    echo 'nanoseconds' >"$s/files/ns.txt"
    echo 'setuid' >"$s/files/suid" && chmod 4755 "$s/files/suid"
    echo 'read only' >"$s/files/readonly" && chmod 0444 "$s/files/readonly"
    echo 'exec' >"$s/files/tool.sh" && chmod 0755 "$s/files/tool.sh"
    echo 'deep' >"$s/deep/a/b/c/d/e/file"
    # owners
    echo 'user file' >"$s/home/user/.profile" && echo 'notes' >"$s/home/user/notes.txt"
    chown -R 1000:1000 "$s/home/user"
    echo 'nobody' >"$s/nobody/file" && chown -R 65534:65534 "$s/nobody"
    echo 'mixed' >"$s/files/mixed-owner" && chown 1000:65534 "$s/files/mixed-owner"
    # symlinks
    ln -s ../files/one "$s/links/rel"
    ln -s /files/100k.bin "$s/links/abs"
    ln -s nowhere/at/all "$s/links/dangling"
    ln -s ../deep/a "$s/links/to-dir"
    ln -s /home/user/.profile "$s/home/user/abs-profile"
    ln -s ../files/one "$s/links/owned" && chown -h 1000:1000 "$s/links/owned"
    # hardlinks: three names in three directories
    echo 'shared content' >"$s/hl/a/first"
    ln "$s/hl/a/first" "$s/hl/b/second"
    ln "$s/hl/a/first" "$s/etc/third"
    # special files
    mkfifo "$s/dev/fifo"
    mknod "$s/dev/null-ish" c 1 3
    mknod "$s/dev/tty-ish" c 4 64
    mknod "$s/dev/loop-ish" b 7 0
    mknod "$s/dev/big-minor" b 259 300000
    # the victims of layers 2 and 3
    echo 'deleted by layer 2' >"$s/del/gone.txt" && echo 'kept' >"$s/del/kept.txt"
    echo 'hidden by the opaque dir' >"$s/opq/old1" && echo 'hidden too' >"$s/opq/sub/old2"
    rich__setx "$s/opq" user.lower 'lower opq'
    echo 'a file, then a directory' >"$s/f2d"
    echo 'a directory, then a file' >"$s/d2f/sub/child"
    printf 'key=old\n' >"$s/etc/config"
    echo 'whole tree whited out by layer 3' >"$s/wdir/x/y/file" && echo w >"$s/wdir/top"
    echo 'deleted by layer 2' >"$s/recreate/old.txt"
    echo 'hidden by the same-layer whiteout' >"$s/samelayer/old.txt"
    # xattrs
    rich__setx "$s/files/one" user.comment 'one byte'
    rich__setx "$s/files/random3m.bin" user.bin "$(printf 'bin\001\002')"
    rich__setx "$s/dirs" user.dirattr 'on a directory'
    # mtimes
    rich__stamp "$s"
    touch -h -d '1985-10-26 01:21:00' "$s/files/old.txt" "$s/links/rel"
    touch -d '2021-06-01 12:00:00.123456789' "$s/files/ns.txt"
    # directory modes, last
    mkdir -p "$s/dirs/private/inner" "$s/dirs/tmp" "$s/dirs/sgid/sub"
    echo secret >"$s/dirs/private/inner/secret" && echo t >"$s/dirs/tmp/t" && echo g >"$s/dirs/sgid/sub/g"
    rich__stamp "$s/dirs"
    chmod 0700 "$s/dirs/private" && chmod 1777 "$s/dirs/tmp" && chmod 2755 "$s/dirs/sgid"
    chmod 0750 "$s/home/user" && chmod 0755 "$s"
}

rich__layer2() {
    local s=$1
    mkdir -p "$s"/{del,opq/sub2,f2d,etc,hl/c,files}
    : >"$s/del/.wh.gone.txt"
    : >"$s/opq/.wh..wh..opq"
    echo 'new in the opaque dir' >"$s/opq/new.txt" && echo 'new sub' >"$s/opq/sub2/n"
    rich__setx "$s/opq" user.upper 'upper opq'
    echo 'now inside a directory' >"$s/f2d/inside.txt"
    echo 'now a file' >"$s/d2f"
    printf 'key=new\nmore=1\n' >"$s/etc/config"
    ln "$s/etc/config" "$s/hl/c/config-link"
    echo 'changed in layer 2 and longer' >"$s/files/tool.sh" && chmod 0755 "$s/files/tool.sh"
    : >"$s/.wh.recreate"
    rich__stamp "$s"
    touch -d '2022-02-22 22:22:22.222222222' "$s/etc/config"
    chmod 0755 "$s" && chmod 0711 "$s/f2d"
}

rich__layer3() {
    local s=$1
    mkdir -p "$s"/{recreate,samelayer,files}
    : >"$s/.wh.wdir"
    echo 'recreated in layer 3' >"$s/recreate/new.txt"
    : >"$s/.wh.samelayer"
    echo 'same-layer whiteout, new directory' >"$s/samelayer/fresh.txt"
    echo 'added by layer 3' >"$s/files/layer3.txt"
    rich__stamp "$s"
    chmod 0755 "$s"
}

# rich_image_build LAYOUT:TAG: the 3-layer image (gzip layers; TAG replaced if present).
rich_image_build() {
    local ref=$1 w
    w=$(mktemp -d "$RIG_TMP/rich.XXXXXX")
    mkdir "$w/l1" "$w/l2" "$w/l3"
    rich__layer1 "$w/l1" && rich__layer2 "$w/l2" && rich__layer3 "$w/l3" || { rm -rf "$w"; return 1; }
    rich__tar "$w/l1" "$w/l1.tar" && rich__tar "$w/l2" "$w/l2.tar" && rich__tar "$w/l3" "$w/l3.tar" ||
        { rig__err "rich_image_build: tar failed"; rm -rf "$w"; return 1; }
    rig_image_build_tar "$ref" "$w/l1.tar" "$w/l2.tar" "$w/l3.tar" || { rm -rf "$w"; return 1; }
    rm -rf "$w"
}

# rich_image_zstd_multiframe LAYOUT:TAG OUT_LAYOUT:TAG: every layer as concatenated zstd frames
# of 512 KiB of tar each (tests/tools/zstd_frames.py); checks with `zstd -lv` that each blob has
# as many frames as 512 KiB pieces, and at least 2 frames for the big layer.
rich_image_zstd_multiframe() {
    local src=$1 dst=$2 out line digest frames max=0 f
    out=$(python3 "$RIG_TOOLS_DIR/zstd_frames.py" "$src" "$dst") ||
        { rig__err "rich_image_zstd_multiframe: zstd_frames.py failed"; return 1; }
    while read -r line; do
        case $line in layer*) ;; *) continue ;; esac
        digest=$(awk '{print $5}' <<<"$line")
        frames=$(awk '{print $8}' <<<"$line")
        f="${dst%:*}/blobs/sha256/${digest#sha256:}"
        local listed
        listed=$(zstd -lv "$f" 2>&1 | sed -n 's/^# Zstandard Frames: *//p')
        if [ "$listed" != "$frames" ]; then
            rig__err "rich_image_zstd_multiframe: $f: zstd -lv counts '$listed' frames, wrote $frames"
            return 1
        fi
        if [ "$frames" -gt "$max" ]; then max=$frames; fi
    done <<<"$out"
    if [ "$max" -lt 2 ]; then
        rig__err "rich_image_zstd_multiframe: no layer has several frames"
        return 1
    fi
}

# rich_image_unpack LAYOUT:TAG DIR: the reference tree of the image, for gzip and zstd layouts
# alike: the layers applied in order with GNU tar by tests/tools/oci_apply.py (whiteouts, opaque
# directories and type replacements handled by the script). umoci 0.4.7 refuses zstd layers
# ("blob is not correct mediatype: application/vnd.oci.image.layer.v1.tar+zstd"), hence not
# umoci; rich_image_umoci_unpack cross-checks this reference on gzip images.
rich_image_unpack() {
    local ref=$1 dir=$2
    [ ! -e "$dir" ] || { rig__err "rich_image_unpack: $dir exists"; return 1; }
    rig__quiet python3 "$RIG_TOOLS_DIR/oci_apply.py" "$ref" "$dir"
}

# rich_image_umoci_unpack LAYOUT:TAG DIR: `umoci unpack` (root) of a gzip image; DIR (must not
# exist) becomes the bundle's rootfs (moved, so the root's own metadata is kept).
rich_image_umoci_unpack() {
    local ref=$1 dir=$2 bundle
    [ ! -e "$dir" ] || { rig__err "rich_image_umoci_unpack: $dir exists"; return 1; }
    bundle=$(mktemp -d "$RIG_TMP/bundle.XXXXXX")
    rmdir "$bundle"
    rig__quiet umoci unpack --image "$ref" "$bundle" || { rm -rf "$bundle"; return 1; }
    mv "$bundle/rootfs" "$dir" && rm -rf "$bundle"
}
