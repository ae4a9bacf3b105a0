# Benches: an emulated link to a registry. A network namespace behind a /30 link: veth +
# `tc netem` (delay + rate on both ends), or, on kernels without sch_netem, two TUN devices joined
# by bench/cold-start/delayline.c (delay) with `tbf` (rate) on both ends. Inside it, a registry
# serving the rig registry's storage (rig_registry first). Sourced after rig.sh and rig_init.
#
#   net_init NAME     build the delay line, pick a free 10.x.y.0/30, stop everything at exit
#   net_up PROFILE    the link (1gbit-10ms, 100mbit-30ms) and the registry at $NET_REG (its log:
#                     $NET_REG_LOG); $NET_H is the host end, $NET_MODE netem or delayline
#   net_down          the registry, the delay line, the namespace and the link
# Logs go to $NET_LOG_DIR (default $RIG_TMP).

net_init() {
    local c here
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    NET_NS=$1-$$ NET_H=$1$$h NET_P=$1$$p NET_PID="" NET_REG_PID="" NET_REG="" NET_MODE="" NET_SUB=""
    NET_LOG_DIR=${NET_LOG_DIR:-$RIG_TMP}
    cc -O2 -Wall -o "$RIG_TMP/delayline" "$here/../cold-start/delayline.c"
    for c in 213.47 213.48 214.47 215.91 216.33; do
        ip -4 -o addr | grep -q " 10\.${c//./\\.}\." || { NET_SUB=10.$c; break; }
    done
    [ -n "$NET_SUB" ] || { echo "bench: no free 10.x.y.0/30 for the link" >&2; return 1; }
    rig_on_exit net_down
}

net_down() {
    if [ -n "$NET_REG_PID" ]; then rig__stop "$NET_REG_PID"; NET_REG_PID=""; fi
    if [ -n "$NET_PID" ]; then rig__stop "$NET_PID"; NET_PID=""; fi
    ip netns del "$NET_NS" 2>/dev/null || true
    ip link del "$NET_H" 2>/dev/null || true
}

# net__link RATE DELAY_US BURST LOG: the namespace and the link
net__link() {
    local rate=$1 delay_us=$2 burst=$3 log=$4 i
    ip netns add "$NET_NS"
    ip -n "$NET_NS" link set lo up
    if [ "$NET_MODE" != delayline ]; then
        ip link add "$NET_H" type veth peer name "$NET_P" netns "$NET_NS"
        if tc qdisc add dev "$NET_H" root netem delay "${delay_us}us" rate "$rate" limit 100000 2>/dev/null; then
            ip netns exec "$NET_NS" tc qdisc add dev "$NET_P" root netem delay "${delay_us}us" rate "$rate" limit 100000
            NET_MODE=netem
        else
            [ -n "$NET_MODE" ] || echo "   no sch_netem in this kernel: TUN pair + delayline (delay) + tbf (rate), MTU 9000"
            ip link del "$NET_H"
            NET_MODE=delayline
        fi
    fi
    if [ "$NET_MODE" = delayline ]; then
        "$RIG_TMP/delayline" "$NET_H" "$NET_P" "$delay_us" >"$log" 2>&1 </dev/null &
        NET_PID=$!
        RIG_PIDS+=("$NET_PID")
        for ((i = 0; i < 100; i++)); do grep -qs ready "$log" && break; sleep 0.05; done
        ip link set "$NET_P" netns "$NET_NS"
        ip link set "$NET_H" mtu 9000
        ip -n "$NET_NS" link set "$NET_P" mtu 9000
        tc qdisc add dev "$NET_H" root tbf rate "$rate" burst "$burst" latency 30ms
        ip netns exec "$NET_NS" tc qdisc add dev "$NET_P" root tbf rate "$rate" burst "$burst" latency 30ms
    fi
    ip addr add "$NET_SUB.1/30" dev "$NET_H"
    ip link set "$NET_H" up
    ip -n "$NET_NS" addr add "$NET_SUB.2/30" dev "$NET_P"
    ip -n "$NET_NS" link set "$NET_P" up
}

# net__registry PROFILE: the registry of 127.0.0.1's storage, inside the namespace
net__registry() {
    NET_REG=$NET_SUB.2:5000
    cat >"$RIG_TMP/netreg.yml" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $RIG_REG_DIR
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $NET_REG
  secret: lazysnap-rig-secret
health:
  storagedriver:
    enabled: false
EOF
    NET_REG_LOG=$NET_LOG_DIR/registry-$1.log
    ip netns exec "$NET_NS" docker-registry serve "$RIG_TMP/netreg.yml" >>"$NET_REG_LOG" 2>&1 </dev/null &
    NET_REG_PID=$!
    RIG_PIDS+=("$NET_REG_PID")
    rig__wait_started "$NET_REG_PID" "http://$NET_REG/v2/" "$NET_REG_LOG"
}

net_up() {
    local rate delay_us burst t
    case $1 in
    1gbit-10ms) rate=1gbit delay_us=5000 burst=256kb ;;
    100mbit-30ms) rate=100mbit delay_us=15000 burst=64kb ;;
    *) echo "bench: unknown profile $1" >&2; return 1 ;;
    esac
    net__link "$rate" "$delay_us" "$burst" "$NET_LOG_DIR/delayline-$1.log"
    net__registry "$1"
    t=$(curl -s -o /dev/null -w '%{time_connect}' "http://$NET_REG/v2/")
    echo "   link up ($NET_MODE): $rate, TCP connect $(awk -v t="$t" 'BEGIN {printf "%.1f", t * 1000}') ms"
}
