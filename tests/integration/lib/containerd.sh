# shellcheck shell=bash disable=SC2034  # the CTD_* globals are the API of the sourcing scripts
# containerd 1.6 (Debian's /usr/bin/containerd, runc through containerd-shim-runc-v2) with its own
# root, state and socket under RIG_TMP, its CRI plugin pulling from the rig's registries over
# plain HTTP, and host-network pods only (no CNI). Source it after rig.sh, then:
#
#   rig_init; rig_registry
#   ctd_pause_image                    # the sandbox image, pushed to $RIG_REG
#   CTD_LAZYSNAP_SOCK=$sock CTD_SNAPSHOTTER=lazysnap ctd_start
#   ctd_cri runp pod1                  # tests/tools/criclient.py --address $CTD_SOCK ...
#
# Inputs (set before ctd_start):
#   CTD_SNAPSHOTTER    the CRI plugin's snapshotter (default overlayfs)
#   CTD_LAZYSNAP_SOCK  when set: [proxy_plugins.lazysnap] type "snapshot" at that address
#   CTD_SANDBOX_IMAGE  the pause image (default: what ctd_pause_image pushed)
#   CTD_REGISTRIES     HOST:PORT list reached over plain HTTP (default $RIG_REG)
#   CTD_LOG_LEVEL      containerd's log level (default info)
#   CTD_EXTRA_TOML     appended to the config as is
# Outputs: CTD_DIR (everything of this containerd), CTD_SOCK, CTD_LOG, CTD_PID, CTD_CONFIG.
# ctd_stop (registered at exit by ctd_start) kills what runc still runs, the shims, containerd,
# and unmounts whatever is left below CTD_DIR.

CTD_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CTD_CRICLIENT="$CTD_LIB_DIR/../../tools/criclient.py"
CTD_DIR=${CTD_DIR:-}
CTD_PID=${CTD_PID:-}

# ctd__err MSG: on stderr
ctd__err() { echo "containerd.sh: $*" >&2; }

# ctd_busybox_dir DIR: fills DIR with a busybox root: /bin/busybox (Debian's busybox-static), a
# symlink per applet in /bin, /etc/passwd and /etc/group for root, empty /tmp /proc /sys /dev.
ctd_busybox_dir() {
    local dir=$1 a
    [ -x /bin/busybox ] || { ctd__err "no /bin/busybox (Debian package busybox-static)"; return 1; }
    mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/root"
    cp /bin/busybox "$dir/bin/busybox"
    for a in $(/bin/busybox --list); do
        [ "$a" = busybox ] || ln -sf busybox "$dir/bin/$a"
    done
    echo 'root:x:0:0:root:/root:/bin/sh' >"$dir/etc/passwd"
    echo 'root:x:0:' >"$dir/etc/group"
    chmod 1777 "$dir/tmp"
}

# ctd_pause_image [HOST:PORT]: builds a one-layer busybox image whose entrypoint sleeps forever
# (containerd stops sandboxes with SIGKILL) and pushes it to HOST:PORT (default $RIG_REG) as
# lazysnap/pause:1. Sets CTD_SANDBOX_IMAGE.
ctd_pause_image() {
    local reg=${1:-$RIG_REG} root="$RIG_TMP/pause-root" layout="$RIG_TMP/pause-oci"
    rm -rf "$root"
    ctd_busybox_dir "$root" || return 1
    rig_image_build "$layout:1" "$root" || return 1
    rig__quiet umoci config --image "$layout:1" --clear=config.cmd \
        --config.entrypoint /bin/busybox --config.entrypoint sleep \
        --config.entrypoint 2147483647 || return 1
    rig_image_push "$layout:1" "$reg/lazysnap/pause:1" || return 1
    rm -rf "$root" "$layout"
    CTD_SANDBOX_IMAGE="$reg/lazysnap/pause:1"
}

# ctd__hosts DIR: a hosts.toml per registry in CTD_REGISTRIES: plain HTTP, pull and resolve
ctd__hosts() {
    local dir=$1 r
    for r in ${CTD_REGISTRIES:-$RIG_REG}; do
        mkdir -p "$dir/$r"
        cat >"$dir/$r/hosts.toml" <<EOF
server = "http://$r"

[host."http://$r"]
  capabilities = ["pull", "resolve"]
EOF
    done
}

# ctd__config: writes $CTD_CONFIG
ctd__config() {
    local d=$CTD_DIR proxy=""
    if [ -n "${CTD_LAZYSNAP_SOCK:-}" ]; then
        proxy="[proxy_plugins.lazysnap]
  type = \"snapshot\"
  address = \"$CTD_LAZYSNAP_SOCK\""
    fi
    cat >"$CTD_CONFIG" <<EOF
# containerd 1.6 for one lazysnap test: everything below $d, CRI pods on the host network only
version = 2
root = "$d/root"
state = "$d/state"
plugin_dir = ""
# plugins that would touch the host (/opt/containerd) or probe filesystems we do not use
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$CTD_SOCK"
[ttrpc]
  address = "$CTD_SOCK.ttrpc"
[debug]
  address = "$d/debug.sock"
  level = "${CTD_LOG_LEVEL:-info}"
[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$CTD_SANDBOX_IMAGE"
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "${CTD_SNAPSHOTTER:-overlayfs}"
    disable_snapshot_annotations = false
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$d/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$d/cni/bin"
    conf_dir = "$d/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$d/hosts"

$proxy
${CTD_EXTRA_TOML:-}
EOF
}

# ctd_cri ARGS...: tests/tools/criclient.py against this containerd
ctd_cri() {
    "${RIG_PYTHON:-/usr/bin/python3}" "$CTD_CRICLIENT" --address "$CTD_SOCK" "$@"
}

# ctd__wait_ready SECONDS: until the CRI plugin answers Version (fails at once if containerd died)
ctd__wait_ready() {
    local deadline=$((SECONDS + $1))
    until [ -S "$CTD_SOCK" ] && ctd_cri --timeout 2 version >/dev/null 2>&1; do
        if ! kill -0 "$CTD_PID" 2>/dev/null || [ $SECONDS -ge "$deadline" ]; then
            ctd__err "containerd (pid $CTD_PID) is not serving CRI at $CTD_SOCK; its log ends with:"
            tail -n 30 "$CTD_LOG" >&2
            return 1
        fi
        sleep 0.2
    done
}

# ctd_start: starts containerd as configured by the CTD_* inputs; sets the CTD_* outputs.
ctd_start() {
    if [ -z "${CTD_SANDBOX_IMAGE:-}" ]; then
        ctd__err "no sandbox image: call ctd_pause_image first or set CTD_SANDBOX_IMAGE"
        return 2
    fi
    rig__instance_dir containerd
    CTD_DIR=$RIG__DIR
    CTD_SOCK="$CTD_DIR/containerd.sock"
    CTD_LOG="$CTD_DIR/containerd.log"
    CTD_CONFIG="$CTD_DIR/config.toml"
    mkdir -p "$CTD_DIR/cni/bin" "$CTD_DIR/cni/conf"
    ctd__hosts "$CTD_DIR/hosts"
    ctd__config
    CTD__CGROUPS_BEFORE=$(ctd__cgroups)
    rig_on_exit ctd_stop
    /usr/bin/containerd --config "$CTD_CONFIG" >>"$CTD_LOG" 2>&1 </dev/null &
    CTD_PID=$!
    RIG_PIDS+=("$CTD_PID")
    ctd__wait_ready 60
}

# ctd__shims: "PID ID" of the shims serving this containerd (-address $CTD_SOCK)
ctd__shims() {
    local d exe args
    for d in /proc/[0-9]*; do
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        [ "${exe##*/}" = containerd-shim-runc-v2 ] || continue
        args=$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null) || continue
        case " $args " in *" -address $CTD_SOCK "*) ;; *) continue ;; esac
        echo "${d#/proc/} $(sed -n 's/.* -id \([^ ]*\).*/\1/p' <<<"$args")"
    done
}

# ctd__kill_containers: runc kill + delete of every container left in this containerd's runc root
ctd__kill_containers() {
    local root id
    for root in "$CTD_DIR"/runc/*; do
        [ -d "$root" ] || continue
        for id in $(runc --root "$root" list -q 2>/dev/null); do
            runc --root "$root" kill --all "$id" KILL >/dev/null 2>&1
            runc --root "$root" delete --force "$id" >/dev/null 2>&1
        done
    done
}

# ctd__stop_shims: TERM, then KILL, the shims left; removes their sockets (containerd 1.6 puts
# them in /run/containerd/s/, named by sha256 of "ADDRESS/NAMESPACE/ID")
ctd__stop_shims() {
    local pid id i sum
    while read -r pid id; do
        [ -n "$pid" ] || continue
        kill -TERM "$pid" 2>/dev/null
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null
        sum=$(printf '%s' "$CTD_SOCK/k8s.io/$id" | sha256sum | cut -d' ' -f1)
        rm -f "/run/containerd/s/$sum"
    done < <(ctd__shims)
}

# ctd__cgroups: the k8s.io cgroup directories (runc puts the pods' containers below them)
ctd__cgroups() {
    find /sys/fs/cgroup -mindepth 1 -maxdepth 2 -type d -name k8s.io 2>/dev/null | sort
}

# ctd__remove_cgroups: the k8s.io cgroups this containerd created, if empty (rmdir fails if not)
ctd__remove_cgroups() {
    local d
    for d in $(comm -13 <(echo "${CTD__CGROUPS_BEFORE:-}") <(ctd__cgroups)); do
        rmdir "$d" 2>/dev/null
    done
}

# ctd_stop: stops this containerd and everything it started; idempotent. Registered at exit.
ctd_stop() {
    [ -n "$CTD_DIR" ] || return 0
    local -
    set +e # also called outside the EXIT trap, from scripts under set -e
    ctd__kill_containers
    ctd__stop_shims
    if [ -n "$CTD_PID" ]; then
        rig__stop "$CTD_PID"
        CTD_PID=""
    fi
    rig_unmount_below "$CTD_DIR"
    ctd__remove_cgroups
    if [ -n "$(rig_mounts_below "$CTD_DIR")" ]; then
        ctd__err "mounts left below $CTD_DIR"
    fi
    return 0
}
