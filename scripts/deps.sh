#!/usr/bin/env bash
# Installs what lazysnap needs to build and test on Debian 12, idempotently (root).
# Usage: scripts/deps.sh [build|test]   (default: test, which includes build)
set -euo pipefail
want=${1:-test}

build_pkgs=(
    build-essential cmake pkg-config git
    zlib1g-dev libzstd-dev libarchive-dev libcurl4-openssl-dev
    libgrpc-dev libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev
    libfuse3-dev libsqlite3-dev libssl-dev libjson-c-dev libmicrohttpd-dev libtomlplusplus-dev
)
test_pkgs=(
    clang clang-format libclang-rt-14-dev python3
    fuse3 zstd pigz gztool libarchive-tools tar gzip umoci
    docker-registry nginx-light apache2-utils skopeo curl python3-cryptography python3-jwt python3-grpcio
    jq containerd runc busybox-static
)

pkgs=("${build_pkgs[@]}")
[ "$want" = test ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all ${#pkgs[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages (run as root to install): ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packages such as docker-registry and nginx start a service when installed; tests start their
# own instances on 127.0.0.1 only, so keep the packaged services from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed ${#missing[@]} packages"
