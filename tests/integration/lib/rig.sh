# shellcheck shell=bash disable=SC2034  # the RIG_* globals are the API of the sourcing scripts
# lazysnap integration test rig: real registries, proxies and images on 127.0.0.1, all torn down
# by one EXIT trap. Source it from a bash script running with `set -euo pipefail`:
#
#   . "$(dirname "$0")/lib/rig.sh"
#   rig_init
#   rig_registry --htpasswd alice:secret
#   rig_image_build "$RIG_TMP/img:v1" dir1 dir2
#   rig_image_push "$RIG_TMP/img:v1" "$RIG_REG/app:v1" --creds alice:secret
#
# Functions that start processes set global variables (RIG_REG, RIG_FRONT, ...): call them
# directly, never in $(...). Only 127.0.0.1 is ever addressed. See lib/README.md for the API.

# ---------------------------------------------------------------------------------------------
# Core: temp dir, cleanups, processes, ports
# ---------------------------------------------------------------------------------------------

RIG_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RIG_TOOLS_DIR=$(cd "$RIG_LIB_DIR/../../tools" && pwd)
RIG_TMP=${RIG_TMP:-}
RIG_CLEANUPS=()  # commands run in reverse order at exit (eval'd)
RIG_PIDS=()      # every process the rig started
RIG__SEQ=0       # numbers the instances' directories
declare -gA RIG__STORAGE_OF=()  # registry HOST:PORT -> its storage root

# rig__err MSG: a rig failure, on stderr
rig__err() { echo "rig: $*" >&2; }

# rig_init: creates RIG_TMP and installs the EXIT trap (runs the cleanups, keeps the exit status).
rig_init() {
    if [ -n "$RIG_TMP" ] && [ -d "$RIG_TMP" ]; then return 0; fi
    RIG_TMP=$(mktemp -d "${TMPDIR:-/tmp}/lazysnap-rig.XXXXXX")
    RIG_CLEANUPS=()
    RIG_PIDS=()
    trap rig__exit EXIT
    # a signal ends the script through the EXIT trap too
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 143' TERM
    # The real path of a python3 with python3-cryptography (the token issuer needs it): a pyenv
    # shim may lack it, and costs ~0.2 s per start.
    if [ -z "${RIG_PYTHON:-}" ]; then
        local py
        for py in /usr/bin/python3 python3; do
            if RIG_PYTHON=$("$py" -c 'import sys, cryptography; print(sys.executable)' 2>/dev/null); then break; fi
        done
        [ -n "$RIG_PYTHON" ] || { rig__err "no python3 with the cryptography module"; return 1; }
    fi
}

# The EXIT trap: cleanups in reverse order, then RIG_TMP goes (kept after a failure when RIG_KEEP
# is set: its logs); the script's status is kept.
rig__exit() {
    local rc=$? i
    set +e
    trap - EXIT HUP INT TERM
    for ((i = ${#RIG_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${RIG_CLEANUPS[i]}"
    done
    if [ -n "${RIG_KEEP:-}" ] && [ "$rc" -ne 0 ]; then
        echo "rig: RIG_KEEP set: $RIG_TMP kept (logs of the failed run)" >&2
    elif [ -n "$RIG_TMP" ]; then
        rm -rf "$RIG_TMP"
    fi
    exit "$rc"
}

# rig_on_exit CMD: registers a cleanup. One argument is eval'd as shell code at exit
# (rig_on_exit 'kill $pid; rm -f x'); several are one command, quoted as given
# (rig_on_exit rm -rf "$dir").
rig_on_exit() {
    if [ $# -eq 1 ]; then
        RIG_CLEANUPS+=("$1")
    else
        RIG_CLEANUPS+=("$(printf '%q ' "$@")")
    fi
}

# rig__stop PID: TERM, up to 5 s of grace, then KILL; reaps it.
rig__stop() {
    local - pid=$1 i
    set +e # also called outside the EXIT trap, from scripts under set -e
    kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# rig_mounts_below DIR: the mount points below DIR (/proc/self/mountinfo), deepest first
rig_mounts_below() {
    awk -v w="$1/" 'index($5, w) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

# rig_unmount_below DIR: detaches every mount below DIR, deepest first
rig_unmount_below() {
    local m
    rig_mounts_below "$1" | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# rig_spawn LOG CMD...: starts CMD in the background (stdout+stderr to LOG), registers its stop.
# Sets RIG_LAST_PID.
rig_spawn() {
    local log=$1
    shift
    "$@" >>"$log" 2>&1 </dev/null &
    RIG_LAST_PID=$!
    RIG_PIDS+=("$RIG_LAST_PID")
    rig_on_exit "rig__stop $RIG_LAST_PID"
}

# rig_free_port: prints a TCP port that is free on 127.0.0.1 right now.
rig_free_port() {
    "${RIG_PYTHON:-python3}" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# rig_wait_http URL [SECONDS]: waits until URL answers with any HTTP status (default 10 s).
rig_wait_http() {
    local url=$1 secs=${2:-10} deadline
    deadline=$((SECONDS + secs))
    while ! curl -s -o /dev/null --max-time 1 "$url"; do
        if [ $SECONDS -ge "$deadline" ]; then
            rig__err "no answer from $url after ${secs}s"
            return 1
        fi
        sleep 0.05
    done
}

# rig__wait_started PID URL LOG: like rig_wait_http, but fails at once (showing LOG) if PID died.
rig__wait_started() {
    local pid=$1 url=$2 log=$3 deadline
    deadline=$((SECONDS + 15))
    while ! curl -s -o /dev/null --max-time 1 "$url"; do
        if ! kill -0 "$pid" 2>/dev/null || [ $SECONDS -ge "$deadline" ]; then
            rig__err "process $pid did not come up at $url; its log $log ends with:"
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.05
    done
}

# rig__quiet CMD...: runs CMD with its output kept aside; shows it only if CMD fails.
rig__quiet() {
    local out rc=0
    out=$(mktemp "$RIG_TMP/out.XXXXXX")
    "$@" >"$out" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        rig__err "failed ($rc): $*"
        cat "$out" >&2
    fi
    rm -f "$out"
    return $rc
}

# rig__instance_dir KIND [NAME]: a fresh directory for one started service, in RIG__DIR.
rig__instance_dir() {
    RIG__SEQ=$((RIG__SEQ + 1))
    RIG__DIR="$RIG_TMP/$1-${2:-$RIG__SEQ}"
    [ ! -e "$RIG__DIR" ] || RIG__DIR="$RIG__DIR-$RIG__SEQ"
    mkdir -p "$RIG__DIR"
}

# rig__set NAME VALUE [SUFFIX]: sets global NAME, and NAME_SUFFIX too when SUFFIX is given.
rig__set() {
    printf -v "$1" '%s' "$2"
    if [ -n "${3:-}" ]; then printf -v "$1_$3" '%s' "$2"; fi
}

# ---------------------------------------------------------------------------------------------
# Registry (CNCF distribution 2.8), optionally behind htpasswd or token auth
# ---------------------------------------------------------------------------------------------

# rig_registry [--htpasswd USER:PASS] [--token [--token-ttl SECS]] [--name N] [--storage DIR]
# Starts docker-registry on 127.0.0.1:PORT (filesystem storage, deletes enabled) and sets
#   RIG_REG (127.0.0.1:PORT), RIG_REG_LOG, RIG_REG_DIR (storage root), RIG_REG_PID,
#   with --token also RIG_TOKEN_URL, RIG_TOKEN_LOG, RIG_TOKEN_PID.
# With --name N the same values are also set with the suffix _N (RIG_REG_N, RIG_TOKEN_URL_N...).
# Each call overwrites the unsuffixed variables. --storage DIR serves an existing storage root
# (e.g. an anonymous twin of an authenticated registry: --storage "$RIG_REG_DIR").
rig_registry() {
    local creds="" token=0 ttl=300 name="" storage="" dir port cfg auth_cfg="" tport=""
    while [ $# -gt 0 ]; do
        case $1 in
        --htpasswd) creds=$2; shift 2 ;;
        --token) token=1; shift ;;
        --token-ttl) ttl=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --storage) storage=$2; shift 2 ;;
        *) rig__err "rig_registry: bad option '$1'"; return 2 ;;
        esac
    done
    case $creds in *:*|"") ;; *) rig__err "rig_registry: --htpasswd wants USER:PASS"; return 2 ;; esac
    rig__instance_dir registry "$name"
    dir=$RIG__DIR
    storage=${storage:-$dir/storage}
    mkdir -p "$storage"
    port=$(rig_free_port)

    if [ $token -eq 1 ]; then
        # The issuer signs with this key; the registry trusts the self-signed cert as its root.
        rig__quiet openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$dir/token.key" -out "$dir/token.crt" -days 2 -subj /CN=rig-issuer || return 1
        tport=$(rig_free_port)
        local ilog="$dir/token.log" issuer_args=()
        : >"$ilog"
        if [ -n "$creds" ]; then issuer_args+=(--credentials "$creds"); fi
        rig_spawn "$dir/token-issuer.out" "$RIG_PYTHON" "$RIG_TOOLS_DIR/token_issuer.py" \
            --listen "127.0.0.1:$tport" --key "$dir/token.key" --cert "$dir/token.crt" \
            --issuer rig-issuer --service rig-registry --ttl "$ttl" --log "$ilog" "${issuer_args[@]}"
        rig__set RIG_TOKEN_PID "$RIG_LAST_PID" "$name"
        rig__wait_started "$RIG_LAST_PID" "http://127.0.0.1:$tport/token" "$dir/token-issuer.out" || return 1
        rig__set RIG_TOKEN_URL "http://127.0.0.1:$tport/token" "$name"
        rig__set RIG_TOKEN_LOG "$ilog" "$name"
        auth_cfg="auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: rig-registry
    issuer: rig-issuer
    rootcertbundle: $dir/token.crt"
    elif [ -n "$creds" ]; then
        htpasswd -Bbn "${creds%%:*}" "${creds#*:}" >"$dir/htpasswd"
        auth_cfg="auth:
  htpasswd:
    realm: rig-registry
    path: $dir/htpasswd"
    fi

    cfg="$dir/config.yml"
    cat >"$cfg" <<EOF
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  # the same secret everywhere: registries sharing a storage root accept each other's uploads
  secret: lazysnap-rig-secret
health:
  storagedriver:
    enabled: false
$auth_cfg
EOF
    rig_spawn "$dir/registry.log" docker-registry serve "$cfg"
    rig__set RIG_REG_PID "$RIG_LAST_PID" "$name"
    rig__wait_started "$RIG_LAST_PID" "http://127.0.0.1:$port/v2/" "$dir/registry.log" || return 1
    rig__set RIG_REG "127.0.0.1:$port" "$name"
    rig__set RIG_REG_LOG "$dir/registry.log" "$name"
    rig__set RIG_REG_DIR "$storage" "$name"
    RIG__STORAGE_OF["127.0.0.1:$port"]=$storage
}

# ---------------------------------------------------------------------------------------------
# nginx front that redirects blob GETs to a "storage" server (like S3/CDN-backed registries)
# ---------------------------------------------------------------------------------------------

# rig_redirect_front UPSTREAM_HOSTPORT [STORAGE_UPSTREAM_HOSTPORT]
# nginx on 127.0.0.1:PORT (the "front") proxies everything to UPSTREAM unchanged, except GET/HEAD
# of /v2/NAME/blobs/sha256:HEX: those are first checked with a HEAD to UPSTREAM carrying the
# client's Authorization; if the registry says 2xx the answer is
#   307 Location: http://127.0.0.1:PORT2/storage/v2/NAME/blobs/sha256:HEX?X-Expires=600
# else the request is proxied and the registry answers itself (401 + challenge, 404...), as
# registries backed by S3/GCS do. The "storage" server on PORT2 answers 400 to requests with an
# Authorization header (a client leaked the registry's credentials), 403 without the X-Expires
# query, and serves the blob (Range, 206, 416) from:
#   - STORAGE_UPSTREAM when given (proxied, without credentials), else
#   - the files of UPSTREAM's storage root when UPSTREAM is a registry this rig started, else
#   - UPSTREAM (proxied; an authenticated UPSTREAM then answers 401).
# Sets RIG_FRONT, RIG_FRONT_STORAGE (127.0.0.1:PORT2), RIG_FRONT_PID and RIG_FRONT_LOG, the
# access log of both servers: SERVER STATUS "REQUEST" auth=yes|- range="..." bytes=N
rig_redirect_front() {
    local up=$1 store_up=${2:-} store_root="" dir port sport serve guard
    if [ -z "$store_up" ]; then
        store_root=${RIG__STORAGE_OF[$up]:-}
        store_up=$up
    fi
    rig__instance_dir nginx
    dir=$RIG__DIR
    port=$(rig_free_port)
    sport=$(rig_free_port)
    mkdir -p "$dir/tmp"
    # like a pre-signed storage URL: the registry's credentials are not welcome here
    # shellcheck disable=SC2016  # nginx variables, not shell ones
    guard='if ($http_authorization != "") {
                return 400 "storage: Authorization header not allowed (registry credentials leaked)\n";
            }
            if ($args !~ "X-Expires=") {
                return 403 "storage: unsigned URL\n";
            }'
    if [ -n "$store_root" ]; then
        # the blob's file in distribution's filesystem layout; nginx does Range itself
        serve="location ~ \"^/storage/v2/.+/blobs/sha256:(?<rig_hex>(?<rig_pre>[0-9a-f]{2})[0-9a-f]{62})\$\" {
            $guard
            default_type application/octet-stream;
            alias $store_root/docker/registry/v2/blobs/sha256/\$rig_pre/\$rig_hex/data;
        }"
    else
        serve="location /storage/ {
            $guard
            if (\$request_method !~ \"^(GET|HEAD)\$\") {
                return 405;
            }
            rewrite ^/storage(/.*)\$ \$1 break;
            proxy_pass http://$store_up;
        }"
    fi
    cat >"$dir/nginx.conf" <<EOF
# lazysnap test rig: redirecting front for $up, storage from ${store_root:-$store_up}
daemon off;
master_process on;
worker_processes 1;
user root;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/error.log info;
events { worker_connections 512; }
http {
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    map \$server_port \$rig_server { $port front; $sport storage; default other; }
    map \$http_authorization \$rig_auth { "" "-"; default yes; }
    log_format rig '\$rig_server \$status "\$request" auth=\$rig_auth range="\$http_range" bytes=\$body_bytes_sent';
    access_log $dir/access.log rig;

    # streaming both ways, any size, as the registry expects
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    proxy_redirect off;

    upstream rig_registry {
        server $up;
        keepalive 8;
    }
    # answers the 307s: nginx runs "return" before auth_request, so the front cannot
    upstream rig_redirector {
        server unix:$dir/redirect.sock;
    }
    map \$request_method \$rig_blob_target { GET rig_redirector; HEAD rig_redirector; default rig_registry; }

    server {
        listen 127.0.0.1:$port;
        # the registry builds Location headers from Host: keep the client's (this front)
        proxy_set_header Host \$http_host;
        proxy_set_header Connection "";

        location ~ "^/v2/.+/blobs/sha256:[0-9a-f]{64}\$" {
            # redirect only what the registry would serve to this client, else its own answer
            # (401 and its challenge, 404...)
            auth_request /__rig_check;
            error_page 401 403 500 = @registry;
            proxy_pass http://\$rig_blob_target;
        }
        location = /__rig_check {
            internal;
            proxy_method HEAD;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_pass http://rig_registry\$request_uri;
        }
        location @registry {
            proxy_pass http://rig_registry;
        }
        location / {
            proxy_pass http://rig_registry;
        }
    }

    server {
        listen unix:$dir/redirect.sock;
        access_log off;
        location / {
            return 307 "http://127.0.0.1:$sport/storage\$uri?X-Expires=600";
        }
    }

    server {
        listen 127.0.0.1:$sport;
        proxy_set_header Host $store_up;
        proxy_set_header Connection "";
        proxy_set_header Authorization "";

        $serve
        location / {
            return 404;
        }
    }
}
EOF
    : >"$dir/access.log"
    rig_spawn "$dir/nginx.out" nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log"
    RIG_FRONT_PID=$RIG_LAST_PID
    rig__wait_started "$RIG_LAST_PID" "http://127.0.0.1:$port/v2/" "$dir/error.log" || return 1
    rig__wait_started "$RIG_LAST_PID" "http://127.0.0.1:$sport/" "$dir/error.log" || return 1
    RIG_FRONT="127.0.0.1:$port"
    RIG_FRONT_STORAGE="127.0.0.1:$sport"
    RIG_FRONT_LOG="$dir/access.log"
}

# ---------------------------------------------------------------------------------------------
# Fault-injecting proxy
# ---------------------------------------------------------------------------------------------

# rig_fault_proxy UPSTREAM_HOSTPORT: starts tests/tools/fault_proxy.py in front of UPSTREAM.
# Sets RIG_FAULT (127.0.0.1:PORT), RIG_FAULT_LOG (METHOD TARGET RANGE STATUS BYTES_SENT FAULT
# per request), RIG_FAULT_PID. rig_fault and rig_fault_count talk to the latest one (RIG_FAULT).
rig_fault_proxy() {
    local up=$1 dir port
    rig__instance_dir fault
    dir=$RIG__DIR
    port=$(rig_free_port)
    : >"$dir/requests.log"
    rig_spawn "$dir/fault-proxy.out" "$RIG_PYTHON" "$RIG_TOOLS_DIR/fault_proxy.py" \
        --listen "127.0.0.1:$port" --upstream "$up" --log "$dir/requests.log"
    RIG_FAULT_PID=$RIG_LAST_PID
    rig__wait_started "$RIG_LAST_PID" "http://127.0.0.1:$port/__fault" "$dir/fault-proxy.out" || return 1
    RIG_FAULT="127.0.0.1:$port"
    RIG_FAULT_LOG="$dir/requests.log"
}

# rig_fault MODE [COUNT] [PATH_REGEX]: arms MODE for the next COUNT (1) requests whose target
# matches PATH_REGEX (Python re.search, default /blobs/ -- note it matches uploads too; use
# '/blobs/sha256:' for blob fetches only). Modes: reset 500 429 truncate ignore-range bad-range
# corrupt stall delay slow; `rig_fault clear` disarms all. Faults stack: the first armed match wins.
rig_fault() {
    local mode=$1 count=${2:-1} re=${3:-/blobs/}
    curl -sS -f -o /dev/null --max-time 5 "http://$RIG_FAULT/__fault" \
        --data-urlencode "mode=$mode" --data-urlencode "count=$count" --data-urlencode "path=$re" ||
        { rig__err "rig_fault $mode: the fault proxy at $RIG_FAULT refused"; return 1; }
}

# rig_fault_count: prints how many faults have fired so far.
rig_fault_count() {
    curl -sS -f --max-time 5 "http://$RIG_FAULT/__fault" | jq .fired
}

# ---------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------

# rig__layout_ref LAYOUT:TAG -> sets RIG__LAYOUT and RIG__TAG
rig__layout_ref() {
    case $1 in
    *:*) RIG__LAYOUT=${1%:*} RIG__TAG=${1##*:} ;;
    *) rig__err "want LAYOUT:TAG, got '$1'"; return 2 ;;
    esac
}

# rig__image_start LAYOUT:TAG: an empty image (creates the layout if needed)
rig__image_start() {
    rig__layout_ref "$1" || return
    if [ ! -e "$RIG__LAYOUT/index.json" ]; then
        rig__quiet umoci init --layout "$RIG__LAYOUT" || return 1
    fi
    rig__quiet umoci new --image "$RIG__LAYOUT:$RIG__TAG" || return 1
}

# rig__image_finish LAYOUT:TAG: the simple config, and unreferenced blobs dropped
rig__image_finish() {
    rig__quiet umoci config --image "$1" --config.cmd /bin/sh --config.workingdir / || return 1
    rig__quiet umoci gc --layout "${1%:*}"
}

# rig_image_build LAYOUT:TAG DIR...: an OCI image layout (created if missing; TAG replaced) with
# one gzip layer per DIR, in order: each layer is `tar -C DIR .` (GNU tar, names sorted, numeric
# owners, entries named ./...). Offline; Cmd ["/bin/sh"].
# (umoci 0.4.7's `insert` writes truncated tar streams, hence tar + `umoci raw add-layer`.)
rig_image_build() {
    local ref=$1 d tarf
    shift
    rig__image_start "$ref" || return 1
    tarf=$(mktemp "$RIG_TMP/layer.XXXXXX")
    for d in "$@"; do
        tar -C "$d" --sort=name --numeric-owner -cf "$tarf" . || { rm -f "$tarf"; return 1; }
        rig__quiet umoci raw add-layer --image "$ref" "$tarf" || { rm -f "$tarf"; return 1; }
    done
    rm -f "$tarf"
    rig__image_finish "$ref"
}

# rig_image_build_tar LAYOUT:TAG TARFILE...: like rig_image_build with ready-made tar files as
# layers, byte for byte (gzip-compressed ones are decompressed first; umoci re-gzips them).
rig_image_build_tar() {
    local ref=$1 t tmp
    shift
    rig__image_start "$ref" || return 1
    tmp=$(mktemp "$RIG_TMP/layer.XXXXXX")
    for t in "$@"; do
        if [ "$(head -c 2 "$t" | od -An -tx1 | tr -d ' \n')" = 1f8b ]; then
            gzip -dc "$t" >"$tmp" || { rm -f "$tmp"; return 1; }
            rig__quiet umoci raw add-layer --image "$ref" "$tmp" || { rm -f "$tmp"; return 1; }
        else
            rig__quiet umoci raw add-layer --image "$ref" "$t" || { rm -f "$tmp"; return 1; }
        fi
    done
    rm -f "$tmp"
    rig__image_finish "$ref"
}

# rig__auth_args CREDS PREFIX: skopeo credential options (--PREFIXcreds, --PREFIXauthfile) into
# RIG__AUTH. Without CREDS: the rig's DOCKER_CONFIG (see rig_docker_config) if set, else an empty
# auth file -- never the host's own credentials.
rig__auth_args() {
    local creds=$1 prefix=$2
    if [ -n "$creds" ]; then
        RIG__AUTH=("--${prefix}creds" "$creds")
    elif [ -n "${DOCKER_CONFIG:-}" ] && [ -f "$DOCKER_CONFIG/config.json" ]; then
        RIG__AUTH=("--${prefix}authfile" "$DOCKER_CONFIG/config.json")
    else
        [ -f "$RIG_TMP/no-auth.json" ] || echo '{"auths":{}}' >"$RIG_TMP/no-auth.json"
        RIG__AUTH=("--${prefix}authfile" "$RIG_TMP/no-auth.json")
    fi
}

# rig_image_push LAYOUT:TAG HOST/REPO:TAG [--creds U:P] [--zstd]: skopeo copy to the registry
# (plain HTTP), blobs and manifest exactly as in the layout (--preserve-digests). --zstd first
# recompresses the layers into a zstd copy of the layout, pushes that, and checks the pushed
# layers' media type.
rig_image_push() {
    local src=$1 dst=$2 creds="" zstd=0 zdir=""
    shift 2
    while [ $# -gt 0 ]; do
        case $1 in
        --creds) creds=$2; shift 2 ;;
        --zstd) zstd=1; shift ;;
        *) rig__err "rig_image_push: bad option '$1'"; return 2 ;;
        esac
    done
    rig__auth_args "$creds" dest-
    if [ $zstd -eq 1 ]; then
        # Straight to docker:// skopeo 1.9 would reuse gzip blobs the registry already has.
        zdir=$(mktemp -d "$RIG_TMP/zstd.XXXXXX")
        rig__quiet skopeo copy --quiet --format oci --dest-compress --dest-compress-format zstd \
            "oci:$src" "oci:$zdir:zstd" || { rm -rf "$zdir"; return 1; }
        src="$zdir:zstd"
    fi
    rig__quiet skopeo copy --quiet --preserve-digests --dest-tls-verify=false "${RIG__AUTH[@]}" \
        "oci:$src" "docker://$dst" || { rm -rf "$zdir"; return 1; }
    if [ $zstd -eq 1 ]; then
        rm -rf "$zdir"
        local types
        types=$(rig_manifest "$dst" ${creds:+--creds "$creds"} | jq -r '.layers[].mediaType' | sort -u)
        if [ "$types" != "application/vnd.oci.image.layer.v1.tar+zstd" ]; then
            rig__err "rig_image_push --zstd: pushed layer types are: $types"
            return 1
        fi
    fi
}

# rig_manifest HOST/REPO:TAG|HOST/REPO@DIGEST [--creds U:P]: prints the manifest as stored.
rig_manifest() {
    local ref=$1 creds=""
    shift
    if [ "${1:-}" = --creds ]; then creds=$2; fi
    rig__auth_args "$creds" ""
    skopeo inspect --raw --tls-verify=false "${RIG__AUTH[@]}" "docker://$ref"
}

# rig_layers HOST/REPO:TAG [--creds U:P]: prints "DIGEST SIZE MEDIATYPE" per layer.
rig_layers() {
    rig_manifest "$@" | jq -r '.layers[] | "\(.digest) \(.size) \(.mediaType)"'
}

# rig_docker_config HOST USER PASS: adds HOST to $RIG_TMP/docker/config.json
# ({"auths": {HOST: {"auth": base64(USER:PASS)}}}) and exports DOCKER_CONFIG.
rig_docker_config() {
    local host=$1 auth cfg="$RIG_TMP/docker/config.json"
    auth=$(printf '%s:%s' "$2" "$3" | base64 -w0)
    mkdir -p "$RIG_TMP/docker"
    [ -f "$cfg" ] || echo '{"auths":{}}' >"$cfg"
    jq --arg h "$host" --arg a "$auth" '.auths[$h] = {auth: $a}' "$cfg" >"$cfg.new"
    mv "$cfg.new" "$cfg"
    export DOCKER_CONFIG="$RIG_TMP/docker"
}
