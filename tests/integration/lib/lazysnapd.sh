# shellcheck shell=bash disable=SC2034  # the LZD_* globals are the API of the sourcing scripts
# lazysnapd for one test: its own root, socket, config and log under RIG_TMP. Source after rig.sh:
#
#   lzd_start BIN [CONFIG-LINES]   starts BIN (lazysnapd); CONFIG-LINES are TOML appended to
#                                  the config (e.g. $'[fetch]\nbackground = false')
#   lzd_stop                       SIGTERM, waits (it unmounts its layers), KILL after 30 s
#   lzd_restart                    lzd_stop then lzd_start with the same root, socket, config
#
# Outputs: LZD_DIR, LZD_ROOT, LZD_SOCK (give it to ctd_start as CTD_LAZYSNAP_SOCK), LZD_LOG,
# LZD_PID, LZD_CONFIG. Registries are reached as containerd reaches them: LZD_HOSTS_DIR (default
# none: localhost registries are plain http). lzd_stop is
# registered at exit, then any mount left below LZD_DIR is detached.

LZD_DIR=${LZD_DIR:-}
LZD_PID=${LZD_PID:-}

# lzd__wait_socket: until the socket exists (fails at once if lazysnapd died)
lzd__wait_socket() {
    local deadline=$((SECONDS + 30))
    until [ -S "$LZD_SOCK" ]; do
        if ! kill -0 "$LZD_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "lazysnapd.sh: lazysnapd (pid $LZD_PID) did not start; its log ends with:" >&2
            tail -n 20 "$LZD_LOG" >&2
            return 1
        fi
        sleep 0.05
    done
}

lzd__run() {
    "$LZD_BIN" --config "$LZD_CONFIG" --root "$LZD_ROOT" --address "$LZD_SOCK" \
        ${LZD_HOSTS_DIR:+--hosts-dir "$LZD_HOSTS_DIR"} >>"$LZD_LOG" 2>&1 </dev/null &
    LZD_PID=$!
    RIG_PIDS+=("$LZD_PID")
    lzd__wait_socket
}

# lzd_start BIN [CONFIG-LINES]
lzd_start() {
    LZD_BIN=$(realpath "$1")
    rig__instance_dir lazysnapd
    LZD_DIR=$RIG__DIR
    LZD_ROOT="$LZD_DIR/root"
    LZD_SOCK="$LZD_DIR/lazysnapd.sock"
    LZD_LOG="$LZD_DIR/lazysnapd.log"
    LZD_CONFIG="$LZD_DIR/config.toml"
    printf '%s\n' "${2:-}" >"$LZD_CONFIG"
    rig_on_exit 'lzd_stop; rig_unmount_below "$LZD_DIR"'
    lzd__run
}

# lzd_stop: idempotent
lzd_stop() {
    [ -n "$LZD_DIR" ] || return 0
    if [ -n "$LZD_PID" ]; then
        local i
        kill -TERM "$LZD_PID" 2>/dev/null || true
        for ((i = 0; i < 300; i++)); do
            kill -0 "$LZD_PID" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$LZD_PID" 2>/dev/null; then
            echo "lazysnapd.sh: lazysnapd (pid $LZD_PID) did not stop in 30 s: killed" >&2
            kill -KILL "$LZD_PID" 2>/dev/null || true
        fi
        wait "$LZD_PID" 2>/dev/null || true
        LZD_PID=""
    fi
    return 0
}

lzd_restart() {
    local dir=$LZD_DIR
    lzd_stop
    LZD_DIR=$dir
    lzd__run
}

# lzd_fuse_mounts: the FUSE layer mounts lazysnapd has now (one line each)
lzd_fuse_mounts() {
    awk -v w="$LZD_DIR/" 'index($5, w) == 1 && $0 ~ / - fuse/ { print $5 }' /proc/self/mountinfo
}
