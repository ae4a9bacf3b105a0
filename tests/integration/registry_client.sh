#!/usr/bin/env bash
# The registry client (lib/registry) through tests/tools/regtool against real registries on
# 127.0.0.1 (tests/integration/lib/rig.sh): manifests, ranges and streams compared byte for byte
# with the image layout's blobs; Basic and token auth (tokens cached per scope, refreshed when they
# expire; clear 401 errors); credentials from config.json and a credential helper; a redirecting
# front whose storage refuses Authorization; every fault of the fault proxy retried into the right
# bytes, or with retries exhausted a one-line error and no bytes at all; mirrors from a hosts
# directory; and pushes (blobs, manifests) read back.
# Usage: registry_client.sh REGTOOL
set -euo pipefail
rt=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib/rig.sh
source "$here/lib/rig.sh"
# shellcheck source=lib/check.sh
source "$here/lib/check.sh"
rig_init
cd "$RIG_TMP"
unset DOCKER_CONFIG

# blob DIGEST: its file in the image layout
blob() { echo "img/blobs/sha256/${1#sha256:}"; }
# want_ranges FILE OFF LEN [OFF LEN]...: those bytes of FILE, concatenated
want_ranges() {
    local f=$1
    shift
    while [ $# -gt 0 ]; do
        dd if="$f" iflag=skip_bytes,count_bytes skip="$1" count="$2" bs=1M status=none
        shift 2
    done
}
# stat_of FILE KEY: a counter of regtool --stats (the last line of FILE)
stat_of() { tail -n 1 "$1" | jq -r ".$2"; }
# log_since FILE LINES: the lines of FILE after the first LINES
log_since() { tail -n +$(($2 + 1)) "$1"; }

# ---- the image: a 3 MB incompressible layer and a text layer ----------------------------------
mkdir -p d1 d2 nocreds
head -c 3000000 /dev/urandom > d1/random.bin
seq 1 200000 > d2/seq.txt
echo '{}' > nocreds/config.json
rig_image_build "$RIG_TMP/img:v1" d1 d2
rig_registry --name anon
reg=$RIG_REG
rig_image_push "$RIG_TMP/img:v1" "$reg/app:v1"
rig_manifest "$reg/app:v1" > want.json
mdigest=sha256:$(sha256sum want.json | cut -d' ' -f1)
big=$(jq -r '.layers[0].digest' want.json)
bigsize=$(jq -r '.layers[0].size' want.json)
small=$(jq -r '.layers[1].digest' want.json)
cfgdigest=$(jq -r '.config.digest' want.json)
missing=sha256:$(printf 'not there' | sha256sum | cut -d' ' -f1)
ranges=(0 1 1000 4096 2999000 1 $((bigsize - 10)) 10 123457 1048576)
want_ranges "$(blob "$big")" "${ranges[@]}" > want-ranges.bin
ranges20=()
for i in $(seq 0 19); do ranges20+=($((i * 140000)) 777); done
want_ranges "$(blob "$big")" "${ranges20[@]}" > want-ranges20.bin

# ---- anonymous --------------------------------------------------------------------------------
"$rt" manifest "$reg/app:v1" > got.json 2> got.err
cmp -s got.json want.json && ok || bad "manifest body differs"
grep -qx "$mdigest application/vnd.oci.image.manifest.v1+json" got.err && ok ||
    bad "manifest digest and type: $(cat got.err)"
"$rt" manifest "$reg/app@$mdigest" 2>/dev/null | cmp -s - want.json && ok || bad "manifest by digest"
expect_fail 1 "^regtool: GET http://$reg/v2/app/manifests/nope: 404 manifest unknown\$" \
    "$rt" manifest "$reg/app:nope"
expect_fail 1 "^regtool: GET http://$reg/v2/nothere/manifests/v1: 404 " "$rt" manifest "$reg/nothere:v1"

"$rt" --stats read "$reg/app:v1" "$big" "${ranges[@]}" > got.bin 2> stats.json
cmp -s got.bin want-ranges.bin && ok || bad "anonymous ranges differ"
[ "$(stat_of stats.json requests)" = 5 ] && [ "$(stat_of stats.json retries)" = 0 ] && ok ||
    bad "one request per range: $(cat stats.json)"
[ "$(stat_of stats.json bytes_fetched)" = "$(stat -c %s want-ranges.bin)" ] && ok ||
    bad "bytes_fetched: $(cat stats.json)"
"$rt" --threads 8 read "$reg/app:v1" "$big" "${ranges20[@]}" > got.bin && cmp -s got.bin want-ranges20.bin &&
    ok || bad "8 threads reading 20 ranges each"
"$rt" stream "$reg/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok || bad "stream of the big layer"
"$rt" stream "$reg/app:v1" "$small" | cmp -s - "$(blob "$small")" && ok || bad "stream of the small layer"
[ "$("$rt" stat "$reg/app:v1" "$big")" = "$bigsize" ] && ok || bad "stat"
expect_fail 1 "^regtool: GET http://$reg/v2/app/blobs/$missing: 404 blob unknown to registry\$" \
    "$rt" read "$reg/app:v1" "$missing" 0 10
expect_fail 1 "^regtool: GET http://$reg/v2/app/blobs/$missing: 404 " "$rt" stream "$reg/app:v1" "$missing"
expect_fail 1 "^regtool: HEAD http://$reg/v2/app/blobs/$missing: 404" "$rt" stat "$reg/app:v1" "$missing"
expect_fail 1 "^regtool: GET http://$reg/v2/app/blobs/$big: 416 " \
    "$rt" read "$reg/app:v1" "$big" "$bigsize" 10
expect_fail 1 "^regtool: 127.0.0.1:[0-9]+/app: no referrers API for $mdigest" \
    "$rt" referrers "$reg/app:v1" "$mdigest"

# ---- Basic auth (htpasswd) --------------------------------------------------------------------
rig_registry --htpasswd bob:pw --name basic
regb=$RIG_REG
rig_image_push "$RIG_TMP/img:v1" "$regb/app:v1" --creds bob:pw
expect_fail 1 "^regtool: GET http://$regb/v2/app/manifests/v1: 401 .*\(no credentials for $regb in (.*/)?nocreds/config.json\)\$" \
    "$rt" --docker-config nocreds manifest "$regb/app:v1"
mkdir -p wrong
printf '{"auths":{"%s":{"auth":"%s"}}}' "$regb" "$(printf bob:nope | base64 -w0)" > wrong/config.json
expect_fail 1 "^regtool: GET http://$regb/v2/app/blobs/$big: 401 .*\(credentials for $regb from (.*/)?wrong/config.json\)\$" \
    "$rt" --docker-config wrong read "$regb/app:v1" "$big" 0 10
mkdir -p basic
printf '{"auths":{"http://%s/v1/":{"username":"bob","password":"pw"}}}' "$regb" > basic/config.json
"$rt" --docker-config basic manifest "$regb/app:v1" 2>/dev/null | cmp -s - want.json && ok ||
    bad "basic: manifest"
"$rt" --docker-config basic --stats read "$regb/app:v1" "$big" "${ranges[@]}" > got.bin 2> stats.json
cmp -s got.bin want-ranges.bin && ok || bad "basic: ranges differ"
# the first request learns the challenge; the others send the credentials at once
[ "$(stat_of stats.json requests)" = 6 ] && ok || bad "basic: requests: $(cat stats.json)"
DOCKER_CONFIG=$PWD/basic "$rt" stream "$regb/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok ||
    bad "basic: stream with DOCKER_CONFIG"
# a credential helper, given the host on stdin
mkdir -p bin helper
cat > bin/docker-credential-rigtest <<EOF
#!/bin/sh
read -r host
[ "\$host" = "$regb" ] && exec echo '{"ServerURL":"$regb","Username":"bob","Secret":"pw"}'
echo "credentials not found in native keychain"
exit 1
EOF
chmod +x bin/docker-credential-rigtest
printf '{"credHelpers":{"%s":"rigtest"}}' "$regb" > helper/config.json
PATH=$PWD/bin:$PATH "$rt" --docker-config helper read "$regb/app:v1" "$big" "${ranges[@]}" > got.bin &&
    cmp -s got.bin want-ranges.bin && ok || bad "basic: credentials from a helper"
printf '{"credsStore":"rigtest"}' > helper/config.json
PATH=$PWD/bin:$PATH "$rt" --docker-config helper manifest "$regb/app:v1" 2>/dev/null |
    cmp -s - want.json && ok || bad "basic: credentials from credsStore"

# ---- token auth -------------------------------------------------------------------------------
rig_registry --token --htpasswd alice:pw --name tok
regt=$RIG_REG
toklog=$RIG_TOKEN_LOG
rig_image_push "$RIG_TMP/img:v1" "$regt/app:v1" --creds alice:pw
mkdir -p tok
printf '{"auths":{"%s":{"auth":"%s"}}}' "$regt" "$(printf alice:pw | base64 -w0)" > tok/config.json
n0=$(wc -l < "$toklog")
"$rt" --docker-config tok --stats read "$regt/app:v1" "$big" "${ranges20[@]}" > got.bin 2> stats.json
cmp -s got.bin want-ranges20.bin && ok || bad "token: ranges differ"
n1=$(wc -l < "$toklog")
[ $((n1 - n0)) -eq 1 ] && ok || bad "token: $((n1 - n0)) tokens for 20 reads ($(log_since "$toklog" "$n0"))"
log_since "$toklog" "$n0" | grep -q '^alice repository:app:pull$' && ok ||
    bad "token: scope: $(log_since "$toklog" "$n0")"
# 20 ranges + the anonymous 401 + the token request
[ "$(stat_of stats.json requests)" = 22 ] && ok || bad "token: requests: $(cat stats.json)"
"$rt" --docker-config tok manifest "$regt/app:v1" 2>/dev/null | cmp -s - want.json && ok ||
    bad "token: manifest"
# threads missing the token together fetch it once
n0=$(wc -l < "$toklog")
"$rt" --docker-config tok --threads 8 read "$regt/app:v1" "$big" "${ranges20[@]}" > got.bin &&
    cmp -s got.bin want-ranges20.bin && ok || bad "token: 8 threads: bytes"
n1=$(wc -l < "$toklog")
[ $((n1 - n0)) -eq 1 ] && ok || bad "token: 8 threads fetched $((n1 - n0)) tokens"
expect_fail 1 "^regtool: GET http://$regt/v2/app/manifests/v1: 401: token for repository:app:pull from http://127.0.0.1:[0-9]+/token: GET http://127.0.0.1:[0-9]+/token\?service=rig-registry&scope=repository%3aapp%3apull: 401" \
    "$rt" --docker-config nocreds manifest "$regt/app:v1"
# a twin serving the same storage with 3 s tokens: a new token once the cached one expires
# shellcheck disable=SC2154  # set by rig_registry --name tok
rig_registry --token --htpasswd alice:pw --token-ttl 3 --storage "$RIG_REG_DIR_tok" --name short
regs=$RIG_REG
slog=$RIG_TOKEN_LOG
printf '{"auths":{"%s":{"auth":"%s"}}}' "$regs" "$(printf alice:pw | base64 -w0)" > tok/config.json
"$rt" --docker-config tok --pause-ms 2500 read "$regs/app:v1" "$big" 0 100 5000 100 90000 100 > got.bin
want_ranges "$(blob "$big")" 0 100 5000 100 90000 100 | cmp -s - got.bin && ok || bad "token ttl: bytes"
[ "$(wc -l < "$slog")" -ge 2 ] && ok || bad "token ttl: not refreshed: $(cat "$slog")"

# ---- a redirecting front: storage refuses the registry's Authorization -------------------------
rig_redirect_front "$reg"
front=$RIG_FRONT
flog=$RIG_FRONT_LOG
"$rt" --stats read "$front/app:v1" "$big" "${ranges[@]}" > got.bin 2> stats.json
cmp -s got.bin want-ranges.bin && ok || bad "front: ranges differ"
# the storage URL is reused for the following ranges: one 307 only
[ "$(grep -c '^front 307 ' "$flog")" = 1 ] && [ "$(grep -c '^storage 206 ' "$flog")" = 5 ] && ok ||
    bad "front: redirects not cached: $(cat "$flog")"
"$rt" stream "$front/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok || bad "front: stream"
[ "$("$rt" stat "$front/app:v1" "$big")" = "$bigsize" ] && ok || bad "front: stat"
check_front_log() { # LABEL: storage saw no Authorization, refused nothing
    if grep -qE '^storage (400|403) |^storage .* auth=yes' "$flog"; then
        bad "$1: storage got credentials: $(grep '^storage' "$flog" | head -3)"
    else
        ok
    fi
    grep -q '^storage 20[06] ' "$flog" && ok || bad "$1: nothing served by storage: $(cat "$flog")"
}
check_front_log "front"
for kind in basic tok; do
    up=$([ $kind = basic ] && echo "$regb" || echo "$regt")
    creds=$([ $kind = basic ] && echo bob:pw || echo alice:pw)
    rig_redirect_front "$up"
    flog=$RIG_FRONT_LOG
    mkdir -p "front-$kind"
    printf '{"auths":{"%s":{"auth":"%s"}}}' "$RIG_FRONT" "$(printf "$creds" | base64 -w0)" \
        > "front-$kind/config.json"
    "$rt" --docker-config "front-$kind" read "$RIG_FRONT/app:v1" "$big" "${ranges[@]}" > got.bin &&
        cmp -s got.bin want-ranges.bin && ok || bad "front over $kind: ranges differ"
    "$rt" --docker-config "front-$kind" stream "$RIG_FRONT/app:v1" "$big" |
        cmp -s - "$(blob "$big")" && ok || bad "front over $kind: stream"
    grep -q '^front 307 .* auth=yes' "$flog" && ok || bad "front over $kind: no authenticated redirect"
    check_front_log "front over $kind"
done

# ---- faults: retried into the right bytes ------------------------------------------------------
rig_fault_proxy "$reg"
fault=$RIG_FAULT
faultlog=$RIG_FAULT_LOG
off=100000
len=1048576
want_ranges "$(blob "$big")" $off $len > want-fault.bin
for mode in reset 500 429 truncate bad-range stall; do
    rig_fault "$mode" 1 '/blobs/sha256:'
    rc=0
    "$rt" --stats --stall-ms 1500 read "$fault/app:v1" "$big" $off $len > got.bin 2> stats.json || rc=$?
    if [ $rc -eq 0 ] && cmp -s got.bin want-fault.bin && [ "$(stat_of stats.json retries)" -ge 1 ]; then
        ok
    else
        bad "fault $mode: not retried into the right bytes (exit $rc, $(tail -n 3 stats.json))"
    fi
done
rig_fault ignore-range 1 '/blobs/sha256:'
"$rt" --stats --log-level warn read "$fault/app:v1" "$big" $off $len > got.bin 2> stats.json
cmp -s got.bin want-fault.bin && [ "$(stat_of stats.json retries)" = 0 ] && ok ||
    bad "fault ignore-range: $(cat stats.json)"
grep -q "127.0.0.1:[0-9]* answers Range requests with whole blobs" stats.json && ok ||
    bad "fault ignore-range: no warning: $(cat stats.json)"
[ "$(rig_fault_count)" = 7 ] && ok || bad "faults fired: $(rig_fault_count), wanted 7"

# streams resume from where they stopped, with a Range request
for mode in reset truncate stall; do
    rig_fault "$mode" 1 '/blobs/sha256:'
    n0=$(wc -l < "$faultlog")
    "$rt" --stall-ms 1500 stream "$fault/app:v1" "$big" > got.bin && cmp -s got.bin "$(blob "$big")" &&
        ok || bad "stream with fault $mode: wrong bytes"
    if [ $mode != stall ]; then
        log_since "$faultlog" "$n0" | grep -qE "bytes=[1-9][0-9]*-" && ok ||
            bad "stream with fault $mode: not resumed with a Range: $(log_since "$faultlog" "$n0")"
    fi
done
rig_fault reset 1 '/blobs/sha256:'
rig_fault ignore-range 1 '/blobs/sha256:'
"$rt" stream "$fault/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok ||
    bad "stream: resumed transfer answered 200"
rig_fault corrupt 1 '/blobs/sha256:'
expect_fail 1 "^regtool: stream of $big: digest mismatch" "$rt" stream "$fault/app:v1" "$big"

# persistent faults: one clear line, exit 1, no bytes
declare -A why=(
    [reset]="(Recv failure|reset by peer)" [500]="500 rig fault: 500" [429]="429 rig fault: 429"
    [truncate]="transfer closed with [0-9]+ bytes remaining" [stall]="Operation too slow"
    [bad-range]="Content-Range \"bytes 100001-1148576/$bigsize\" does not answer bytes=100000-1148575"
)
for mode in reset 500 429 truncate bad-range stall; do
    rig_fault clear
    rig_fault "$mode" 100 '/blobs/sha256:'
    expect_fail 1 "^regtool: GET http://$fault/v2/app/blobs/$big: .*${why[$mode]}.* \(2 attempts\)\$" \
        "$rt" --retries 1 --stall-ms 1000 read "$fault/app:v1" "$big" $off $len
    [ ! -s expect.out ] && ok || bad "fault $mode: $(stat -c %s expect.out) bytes written on failure"
done
rig_fault clear
rig_fault reset 1 '/blobs/sha256:'
expect_fail 1 "^regtool: GET http://$fault/v2/app/blobs/$big: .*(Recv failure|reset by peer)[^(]*\$" \
    "$rt" --retries 0 read "$fault/app:v1" "$big" $off $len
rig_fault truncate 1 '/blobs/sha256:'
expect_fail 1 "^regtool: GET http://$fault/v2/app/blobs/$big: transfer closed" \
    "$rt" --retries 0 stream "$fault/app:v1" "$big"
rig_fault clear
rig_fault stall 100 '/blobs/sha256:'
t0=$SECONDS
expect_fail 1 "^regtool: GET http://$fault/v2/app/blobs/$big: .*[Tt]imed out" \
    "$rt" --timeout-ms 3000 --stall-ms 60000 read "$fault/app:v1" "$big" 0 10
[ $((SECONDS - t0)) -le 8 ] && ok || bad "deadline: took $((SECONDS - t0)) s for --timeout-ms 3000"
rig_fault clear

# ---- mirrors from a hosts directory ------------------------------------------------------------
rig_registry --name mirror
mirror=$RIG_REG
mirrorlog=$RIG_REG_LOG
mkdir -p "hosts/$reg" "hosts-down/$reg"
cat > "hosts/$reg/hosts.toml" <<EOF
server = "http://$reg"
[host."http://$mirror"]
  capabilities = ["pull", "resolve"]
EOF
cat > "hosts-down/$reg/hosts.toml" <<EOF
server = "http://$reg"
[host."http://127.0.0.1:$(rig_free_port)"]
  capabilities = ["pull", "resolve"]
EOF
"$rt" --hosts-dir hosts read "$reg/app:v1" "$big" "${ranges[@]}" > got.bin && cmp -s got.bin want-ranges.bin &&
    ok || bad "mirror answering 404: ranges"
"$rt" --hosts-dir hosts manifest "$reg/app:v1" 2>/dev/null | cmp -s - want.json && ok ||
    bad "mirror answering 404: manifest"
grep -qiE "/v2/app/(blobs|manifests)/[^ \"]*\?ns=127\.0\.0\.1(%3a|:)${reg#*:}" "$mirrorlog" && ok ||
    bad "mirror not asked with ?ns=: $(grep -c 'GET /v2/app' "$mirrorlog" || true) requests"
"$rt" --hosts-dir hosts-down stream "$reg/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok ||
    bad "mirror down: stream"

# ---- TLS: CA files, skip_verify, headers from hosts.toml; HTTP/2 --------------------------------
tlsdir=$RIG_TMP/tls
mkdir -p "$tlsdir/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tlsdir/key.pem" -out "$tlsdir/cert.pem" \
    -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
tport=$(rig_free_port)
tls=127.0.0.1:$tport
cat > "$tlsdir/nginx.conf" <<EOF
daemon off;
worker_processes 1;
user root;
pid $tlsdir/nginx.pid;
error_log $tlsdir/error.log;
events { worker_connections 64; }
http {
    client_body_temp_path $tlsdir/tmp/body;
    proxy_temp_path $tlsdir/tmp/proxy;
    fastcgi_temp_path $tlsdir/tmp/fastcgi;
    uwsgi_temp_path $tlsdir/tmp/uwsgi;
    scgi_temp_path $tlsdir/tmp/scgi;
    log_format t '\$server_protocol \$status "\$request" x=\$http_x_lazysnap_test';
    access_log $tlsdir/access.log t;
    client_max_body_size 0;
    proxy_buffering off;
    proxy_http_version 1.1;
    server {
        listen $tls ssl http2;
        ssl_certificate $tlsdir/cert.pem;
        ssl_certificate_key $tlsdir/key.pem;
        location / {
            proxy_pass http://$reg;
            proxy_set_header Host \$http_host;
        }
    }
}
EOF
rig_spawn "$tlsdir/nginx.out" nginx -p "$tlsdir" -c "$tlsdir/nginx.conf" -e "$tlsdir/error.log"
for _ in $(seq 100); do curl -sk -o /dev/null "https://$tls/v2/" && break; sleep 0.1; done
mkdir -p "hosts-tls/$tls" "hosts-tls-ca/$tls" "hosts-tls-skip/$tls"
echo "server = \"https://$tls\"" > "hosts-tls/$tls/hosts.toml"
printf 'server = "https://%s"\nca = "%s"\n[header]\n  X-Lazysnap-Test = "sent"\n' "$tls" \
    "$tlsdir/cert.pem" > "hosts-tls-ca/$tls/hosts.toml"
printf 'server = "https://%s"\nskip_verify = true\n' "$tls" > "hosts-tls-skip/$tls/hosts.toml"
expect_fail 1 "^regtool: GET https://$tls/v2/app/manifests/v1: .*(certificate|SSL)" \
    "$rt" --hosts-dir hosts-tls manifest "$tls/app:v1"
"$rt" --hosts-dir hosts-tls-ca read "$tls/app:v1" "$big" "${ranges[@]}" > got.bin &&
    cmp -s got.bin want-ranges.bin && ok || bad "TLS with the CA of hosts.toml"
"$rt" --hosts-dir hosts-tls-skip stream "$tls/app:v1" "$big" | cmp -s - "$(blob "$big")" && ok ||
    bad "TLS with skip_verify"
grep -q '^HTTP/2.0 206 .* x=sent$' "$tlsdir/access.log" && ok ||
    bad "TLS: no HTTP/2 range request with the header of hosts.toml: $(head -3 "$tlsdir/access.log")"

# ---- pushes, read back ---------------------------------------------------------------------------
for d in "$cfgdigest" "$big" "$small"; do
    [ "$("$rt" push-blob "$reg/copy:v1" "$(blob "$d")")" = "$d" ] && ok || bad "push-blob $d"
done
[ "$("$rt" put-manifest "$reg/copy:v1" application/vnd.oci.image.manifest.v1+json want.json)" = "$mdigest" ] &&
    ok || bad "put-manifest by tag"
rig_manifest "$reg/copy:v1" | cmp -s - want.json && ok || bad "pushed manifest as skopeo sees it"
"$rt" stream "$reg/copy:v1" "$big" | cmp -s - "$(blob "$big")" && ok || bad "pushed blob read back"
"$rt" --stats push-blob "$reg/copy:v1" "$(blob "$big")" > /dev/null 2> stats.json
[ "$(stat_of stats.json requests)" = 1 ] && ok || bad "existing blob uploaded again: $(cat stats.json)"
"$rt" put-manifest "$reg/copy@$mdigest" application/vnd.oci.image.manifest.v1+json want.json > /dev/null &&
    ok || bad "put-manifest by digest"
expect_fail 1 "digest mismatch" "$rt" put-manifest "$reg/copy@$missing" \
    application/vnd.oci.image.manifest.v1+json want.json
# uploads through the fault proxy: a 500 on the POST, a reset on the PUT
head -c 200000 /dev/urandom > up.bin
rig_fault 500 1 '/blobs/uploads/$'
rig_fault reset 1 '/blobs/uploads/.+digest='
"$rt" push-blob "$fault/faulty:v1" up.bin > /dev/null && ok || bad "push through faults"
"$rt" stream "$reg/faulty:v1" "sha256:$(sha256sum up.bin | cut -d' ' -f1)" | cmp -s - up.bin && ok ||
    bad "push through faults: read back"
rig_fault clear
# with credentials: Basic behind the redirecting front, and a token with the push scope
printf '{"auths":{"%s":{"auth":"%s"}}}' "$RIG_FRONT" "$(printf alice:pw | base64 -w0)" > front-tok/config.json
"$rt" --docker-config front-tok push-blob "$RIG_FRONT/pushed:v1" up.bin > /dev/null && ok ||
    bad "push through the front with a token"
grep -qE '^alice repository:pushed:(pull,push|push,pull)$' "$toklog" && ok ||
    bad "push token scope: $(tail -n 3 "$toklog")"
"$rt" --docker-config basic push-blob "$regb/pushed:v1" up.bin > /dev/null && ok || bad "push with Basic"
expect_fail 1 "^regtool: HEAD http://$regb/v2/pushed/blobs/sha256:[0-9a-f]+: 401 .*no credentials" \
    "$rt" --docker-config nocreds push-blob "$regb/pushed:v1" up.bin

check_done
