# Helpers for tests of `lazysnap mount`, sourced after rig.sh and rig_init. Expects $lz (the
# lazysnap binary), $work (the test's directory) and $run (the --run-dir the test passes).
# Registers mount_cleanup at exit: every mount left under $work is detached and every lazysnap
# process this test started is stopped, by pid.

# is_mounted DIR: DIR is a mount point in /proc/self/mountinfo (a dead FUSE mount included)
is_mounted() {
    awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# lz_pids: the pids of the lazysnap processes this test started: a lazysnap* executable with a
# path inside $work among its arguments (the mount's background server included)
lz_pids() {
    local d exe
    for d in /proc/[0-9]*; do
        exe=$(readlink "$d/exe" 2>/dev/null) || continue
        case ${exe##*/} in lazysnap*) ;; *) continue ;; esac
        tr '\0' '\n' <"$d/cmdline" 2>/dev/null | grep -qF "$work/" || continue
        echo "${d#/proc/}"
    done
}

# state_dir DIR: the mount's state directory, RUN/m-<16 hex of sha256(realpath DIR)>
state_dir() {
    echo "$run/m-$(printf %s "$(realpath "$1")" | sha256sum | cut -c1-16)"
}

# lz_gone: wait up to 5 s for the lazysnap processes of this test to end; false when some remain
lz_gone() {
    for _ in $(seq 1 50); do
        [ -n "$(lz_pids)" ] || return 0
        sleep 0.1
    done
    [ -z "$(lz_pids)" ]
}

# sanitizer_logs_apart: sanitizer reports of the lazysnap processes started from now on go to
# files in $work/san (a detached server's stderr is a log file it deletes at exit)
sanitizer_logs_apart() {
    mkdir -p "$work/san"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$work/san/asan"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$work/san/ubsan"
}

# no_sanitizer_reports: one check, that no report was written (see sanitizer_logs_apart)
no_sanitizer_reports() {
    if compgen -G "$work/san/*" >/dev/null; then
        bad "sanitizer reports: $(head -40 "$work"/san/*)"
    else
        ok
    fi
}

# mount_unmount DIR: at exit, a mount the test left: lazysnap umount, else umount -l
mount_unmount() {
    local m=$1
    is_mounted "$m" || return 0
    timeout 60 "$lz" umount "$m" --run-dir "$run" >/dev/null 2>&1
    if is_mounted "$m"; then umount -l "$m"; fi
}

# mount_cleanup: at exit, after the per-mount cleanups: any mount left under $work (deepest
# first), then the lazysnap processes of this test (TERM, then KILL), by pid
mount_cleanup() {
    local pid pids i
    rig_unmount_below "$work"
    pids=$(lz_pids)
    [ -n "$pids" ] || return 0
    echo "cleanup: stopping lazysnap processes left running: $pids" >&2
    for pid in $pids; do kill -TERM "$pid" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
        [ -n "$(lz_pids)" ] || return 0
        sleep 0.1
    done
    for pid in $(lz_pids); do kill -KILL "$pid" 2>/dev/null; done
}
rig_on_exit mount_cleanup
