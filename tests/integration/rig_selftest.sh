#!/usr/bin/env bash
# Self-test of the integration test rig (lib/rig.sh and tests/tools/*.py), with curl and skopeo
# only (no lazysnap code): registries (anonymous, htpasswd, token), the redirecting nginx front,
# every fault of the fault proxy, image building and pushing, and that the EXIT trap leaves no
# process or temp dir behind (in child invocations of this script).
# Usage: rig_selftest.sh
# shellcheck disable=SC2154  # RIG_*_NAME variables are set by rig.sh with printf -v
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib/rig.sh
. "$here/lib/rig.sh"

# --- child mode: start everything, record it, then end as told (see "cleanup" below) ---------
if [ "${1:-}" = --child ]; then
    record=$2 how=$3
    rig_init
    rig_on_exit touch "$record.cleaned"                 # several words: one quoted command
    # shellcheck disable=SC2016  # one word: shell code, expanded when eval'd at exit
    rig_on_exit 'echo "$RIG_TMP" >>"$record.order"'
    rig_registry --token --htpasswd u:p
    rig_registry --storage "$RIG_REG_DIR"
    rig_redirect_front "$RIG_REG"
    rig_fault_proxy "$RIG_REG"
    rig_fault stall 1 /v2/
    rig_spawn "$RIG_TMP/stalled-curl.out" curl -s "http://$RIG_FAULT/v2/"  # held by the proxy
    rig_wait_http "http://$RIG_FAULT/__fault"
    sleep 0.3
    # nginx workers are the front's children: record them too
    workers=$(ps -o pid= --ppid "$RIG_FRONT_PID" | tr '\n' ' ')
    echo "$RIG_TMP ${RIG_PIDS[*]} $workers" >"$record"
    case $how in
    exit3) exit 3 ;;
    fail) false ;;                 # set -e ends the script with status 1
    signal) kill -TERM $$; sleep 5 ;;
    esac
    exit 0
fi

# shellcheck source=lib/check.sh
. "$here/lib/check.sh"
# status URL [CURL ARGS...]: prints the final HTTP status (body to $w/body, headers to $w/hdr)
status() {
    local url=$1
    shift
    rm -f "$w/body" "$w/hdr"  # curl creates them only when something arrives
    curl -s -o "$w/body" -D "$w/hdr" -w '%{http_code}' "$@" "$url" || true
}
# curl_rc URL [CURL ARGS...]: prints curl's exit code (body to $w/body, headers to $w/hdr)
curl_rc() {
    local url=$1 rc=0
    shift
    rm -f "$w/body" "$w/hdr"
    curl -s -o "$w/body" -D "$w/hdr" "$@" "$url" || rc=$?
    echo $rc
}
# bytes FILE OFFSET LENGTH: a slice of FILE
bytes() { tail -c +"$(($2 + 1))" "$1" | head -c "$3"; }

start=$SECONDS
rig_init
w="$RIG_TMP/work"
mkdir -p "$w/d1/sub" "$w/d2"
head -c 2000000 /dev/urandom >"$w/d1/big.bin"      # incompressible: the blob stays ~2 MB
seq 1 20000 >"$w/d2/seq.txt"
echo hello >"$w/d1/sub/hello"

# --- images -----------------------------------------------------------------------------------
rig_image_build "$w/img:v1" "$w/d1" "$w/d2"
mdig=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "v1") | .digest' "$w/img/index.json")
manifest="$w/img/blobs/sha256/${mdig#sha256:}"
check "two gzip layers" test "$(jq -r '[.layers[].mediaType] | join(" ")' "$manifest")" = \
    "application/vnd.oci.image.layer.v1.tar+gzip application/vnd.oci.image.layer.v1.tar+gzip"
blob=$(jq -r '.layers[0].digest' "$manifest")
blobfile="$w/img/blobs/sha256/${blob#sha256:}"
size=$(stat -c %s "$blobfile")
check "layer 1 holds d1" bash -c "tar -tzf '$blobfile' | grep -qx './sub/hello'"
config="$w/img/blobs/sha256/$(jq -r '.config.digest' "$manifest" | cut -d: -f2)"
check "config Cmd" test "$(jq -c .config.Cmd "$config")" = '["/bin/sh"]'
# a ready-made tar as a layer, byte for byte
tar -C "$w/d2" -cf "$w/raw.tar" .
rig_image_build_tar "$w/img:raw" "$w/raw.tar"
rawcfg=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == "raw") | .digest' "$w/img/index.json")
rawcfg="$w/img/blobs/sha256/$(jq -r '.config.digest' "$w/img/blobs/sha256/${rawcfg#sha256:}" | cut -d: -f2)"
check "build_tar keeps the tar bytes" test "$(jq -r '.rootfs.diff_ids[0]' "$rawcfg")" = "sha256:$(sha256sum <"$w/raw.tar" | cut -d' ' -f1)"

# --- anonymous registry -------------------------------------------------------------------------
rig_registry --name anon
reg=$RIG_REG
rig_image_push "$w/img:v1" "$reg/rig/app:v1"
check "pushed manifest is the layout's" test "$(rig_manifest "$reg/rig/app:v1" | sha256sum | cut -d' ' -f1)" = "${mdig#sha256:}"
url="http://$reg/v2/rig/app/blobs/$blob"
check "range GET answers 206" test "$(status "$url" -r 1000-1999)" = 206
check "range GET has the right bytes" cmp -s "$w/body" <(bytes "$blobfile" 1000 1000)
check "range GET Content-Range" grep -qi "^content-range: bytes 1000-1999/$size" "$w/hdr"
check "range past the end answers 416" test "$(status "$url" -r "$size-")" = 416
rm -rf "$w/pulled"
skopeo copy --quiet --src-tls-verify=false "docker://$reg/rig/app:v1" "oci:$w/pulled:v1"
check "skopeo pull gets the same blob" cmp -s "$blobfile" "$w/pulled/blobs/sha256/${blob#sha256:}"
rig_image_push "$w/img:v1" "$reg/rig/app:zstd" --zstd
check "zstd push" test "$(rig_layers "$reg/rig/app:zstd" | awk '{print $3}' | sort -u)" = "application/vnd.oci.image.layer.v1.tar+zstd"
check "registry log" grep -q 'GET /v2/rig/app/blobs/' "$RIG_REG_LOG"

# --- htpasswd registry --------------------------------------------------------------------------
rig_registry --htpasswd alice:s3cret --name auth
check "htpasswd: 401 without credentials" test "$(status "http://$RIG_REG/v2/")" = 401
check "htpasswd: Basic challenge" grep -qi '^www-authenticate: basic' "$w/hdr"
check "htpasswd: 401 with a bad password" test "$(status "http://$RIG_REG/v2/" -u alice:wrong)" = 401
check "htpasswd: 200 with credentials" test "$(status "http://$RIG_REG/v2/" -u alice:s3cret)" = 200
rig_image_push "$w/img:v1" "$RIG_REG/rig/app:v1" --creds alice:s3cret
if rig_manifest "$RIG_REG/rig/app:v1" >/dev/null 2>&1; then bad "htpasswd: anonymous inspect worked"; else ok; fi
check "htpasswd: inspect with --creds" rig_manifest "$RIG_REG/rig/app:v1" --creds alice:s3cret
rig_docker_config "$RIG_REG" alice s3cret
check "htpasswd: inspect with rig_docker_config" rig_manifest "$RIG_REG/rig/app:v1"
check "docker config.json" test "$(jq -r --arg h "$RIG_REG" '.auths[$h].auth' "$DOCKER_CONFIG/config.json" | base64 -d)" = alice:s3cret
unset DOCKER_CONFIG

# --- token registry (issuer requires Basic credentials) -------------------------------------------
rig_registry --token --htpasswd bob:pw --name tok
check "token: variables suffixed" test "$RIG_REG_tok" = "$RIG_REG" -a "$RIG_TOKEN_URL_tok" = "$RIG_TOKEN_URL"
rig_image_push "$w/img:v1" "$RIG_REG/rig/app:v1" --creds bob:pw
rm -rf "$w/pulled"
skopeo copy --quiet --src-tls-verify=false --src-creds bob:pw "docker://$RIG_REG/rig/app:v1" "oci:$w/pulled:v1"
check "token: skopeo pull" cmp -s "$blobfile" "$w/pulled/blobs/sha256/${blob#sha256:}"
check "token: push logged" grep -qx 'bob repository:rig/app:pull,push' "$RIG_TOKEN_LOG"
# the protocol by hand: challenge, token, request
murl="http://$RIG_REG/v2/rig/app/manifests/v1"
accept='application/vnd.oci.image.manifest.v1+json'
check "token: 401 without a token" test "$(status "$murl" -H "Accept: $accept")" = 401
chal=$(grep -i '^www-authenticate:' "$w/hdr" | tr -d '\r')
check "token: Bearer challenge" test "$chal" = "Www-Authenticate: Bearer realm=\"$RIG_TOKEN_URL\",service=\"rig-registry\",scope=\"repository:rig/app:pull\""
lines=$(wc -l <"$RIG_TOKEN_LOG")
check "token: issuer wants credentials" test "$(status "$RIG_TOKEN_URL?service=rig-registry&scope=repository:rig/app:pull")" = 401
check "token: issuer rejects a bad password" test "$(status "$RIG_TOKEN_URL?service=rig-registry" -u bob:bad)" = 401
check "token: issued" test "$(status "$RIG_TOKEN_URL" -G -u bob:pw --data-urlencode service=rig-registry --data-urlencode scope=repository:rig/app:pull)" = 200
check "token: JSON fields" jq -e '(.token | length > 0) and .access_token == .token and .expires_in == 300 and (.issued_at | test("Z$"))' "$w/body"
tok=$(jq -r .token "$w/body")
check "token: header alg and x5c" bash -c "cut -d. -f1 <<<'$tok' | tr '_-' '/+' | base64 -d 2>/dev/null | jq -e '.alg == \"ES256\" and (.x5c | length == 1)' >/dev/null"
check "token: accepted by the registry" test "$(status "$murl" -H "Accept: $accept" -H "Authorization: Bearer $tok")" = 200
check "token: second request logged" test "$(($(wc -l <"$RIG_TOKEN_LOG") - lines))" = 1
check "token: log line" test "$(tail -n 1 "$RIG_TOKEN_LOG")" = 'bob repository:rig/app:pull'
check "token: pull-only token cannot push" test "$(status "http://$RIG_REG/v2/rig/app/blobs/uploads/" -X POST -H "Authorization: Bearer $tok")" = 401
curl -s -o "$w/t2" -u bob:pw "$RIG_TOKEN_URL?service=rig-registry&scope=repository:other:pull"
check "token: a token for another repository is refused" test "$(status "$murl" -H "Authorization: Bearer $(jq -r .token "$w/t2")")" = 401
curl -s -o "$w/t3" -u bob:pw -d grant_type=password -d service=rig-registry -d scope=repository:rig/app:pull "$RIG_TOKEN_URL"
check "token: OAuth2 POST form" test "$(status "$murl" -H "Accept: $accept" -H "Authorization: Bearer $(jq -r .access_token "$w/t3")")" = 200

# anonymous issuer with a 2 s lifetime: the registry stops accepting the token after 2-3 s
rig_registry --token --token-ttl 2
curl -s -o "$w/t4" "$RIG_TOKEN_URL?service=rig-registry"
tok=$(jq -r .token "$w/t4")
check "token ttl: expires_in" test "$(jq .expires_in "$w/t4")" = 2
check "token ttl: anonymous token accepted" test "$(status "http://$RIG_REG/v2/" -H "Authorization: Bearer $tok")" = 200
check "token ttl: anonymous logged" grep -qx 'anonymous -' "$RIG_TOKEN_LOG"
sleep 3.1
check "token ttl: refused after expiry" test "$(status "http://$RIG_REG/v2/" -H "Authorization: Bearer $tok")" = 401

# --- redirect front ----------------------------------------------------------------------------------
rig_redirect_front "$reg"
furl="http://$RIG_FRONT/v2/rig/app/blobs/$blob"
check "front: blob GET is a 307" test "$(status "$furl")" = 307
check "front: Location to storage" grep -qi "^location: http://$RIG_FRONT_STORAGE/storage/v2/rig/app/blobs/$blob?X-Expires=" "$w/hdr"
check "front: curl -L gets the blob" test "$(status "$furl" -L)" = 200
check "front: the right bytes" cmp -s "$w/body" "$blobfile"
check "front: range through the redirect" test "$(status "$furl" -L -r 5-9)" = 206
check "front: range bytes" cmp -s "$w/body" <(bytes "$blobfile" 5 5)
check "front: curl drops Authorization on the port change" test "$(status "$furl" -L -H 'Authorization: Bearer xyz')" = 200
check "front: forwarded Authorization is refused by storage" test "$(status "$furl" --location-trusted -H 'Authorization: Bearer xyz')" = 400
check "front: unsigned storage URL refused" test "$(status "http://$RIG_FRONT_STORAGE/storage/v2/rig/app/blobs/$blob")" = 403
check "front: manifests are proxied" test "$(status "http://$RIG_FRONT/v2/rig/app/manifests/v1" -H "Accept: $accept")" = 200
check "front: log has both servers" grep -q "^storage 400 \"GET /storage/v2/rig/app/blobs/$blob?X-Expires=600 HTTP/1.1\" auth=yes" "$RIG_FRONT_LOG"
check "front: log has the 307" grep -q "^front 307 \"GET /v2/rig/app/blobs/$blob HTTP/1.1\" auth=-" "$RIG_FRONT_LOG"
rm -rf "$w/pulled"
skopeo copy --quiet --src-tls-verify=false "docker://$RIG_FRONT/rig/app:v1" "oci:$w/pulled:v1"
check "front: skopeo pull follows the redirect" cmp -s "$blobfile" "$w/pulled/blobs/sha256/${blob#sha256:}"
# a push through the front: uploads are streamed, Locations point back at the front
head -c 3000000 /dev/urandom >"$w/d2/more.bin"
rig_image_build "$w/img:v2" "$w/d2"
rig_image_push "$w/img:v2" "$RIG_FRONT/rig/app:v2"
check "front: push through the front" grep -q "^front 201 \"PUT /v2/rig/app/blobs/uploads/" "$RIG_FRONT_LOG"
check "front: pushed image readable" rig_manifest "$reg/rig/app:v2"
# an authenticated registry behind the front: storage serves its files (the default) or reads
# through an anonymous twin registry on the same storage root
rig_registry --storage "$RIG_REG_DIR_auth" --name twin
for storage in files twin; do
    if [ $storage = files ]; then rig_redirect_front "$RIG_REG_auth"; else rig_redirect_front "$RIG_REG_auth" "$RIG_REG_twin"; fi
    furl="http://$RIG_FRONT/v2/rig/app/blobs/$blob"
    check "front+auth ($storage): 401 without credentials" test "$(status "$furl" -L)" = 401
    check "front+auth ($storage): the registry's challenge" grep -qi '^www-authenticate: basic' "$w/hdr"
    check "front+auth ($storage): 404 for an unknown blob" test "$(status "http://$RIG_FRONT/v2/rig/app/blobs/sha256:$(printf %064d 0)" -u alice:s3cret)" = 404
    check "front+auth ($storage): blob with credentials" test "$(status "$furl" -L -u alice:s3cret)" = 200
    check "front+auth ($storage): the right bytes" cmp -s "$w/body" "$blobfile"
    check "front+auth ($storage): HEAD" test "$(status "$furl" -L -I -u alice:s3cret)" = 200
    check "front+auth ($storage): HEAD length" grep -qi "^content-length: $size" "$w/hdr"
    check "front+auth ($storage): range" test "$(status "$furl" -L -u alice:s3cret -r 7-)" = 206
    check "front+auth ($storage): range bytes" cmp -s "$w/body" <(tail -c +8 "$blobfile")
    check "front+auth ($storage): leaked Basic refused" test "$(status "$furl" --location-trusted -u alice:s3cret)" = 400
    rm -rf "$w/pulled"
    skopeo copy --quiet --src-tls-verify=false --src-creds alice:s3cret "docker://$RIG_FRONT/rig/app:v1" "oci:$w/pulled:v1"
    check "front+auth ($storage): skopeo pull" cmp -s "$blobfile" "$w/pulled/blobs/sha256/${blob#sha256:}"
done
rig_redirect_front "$RIG_REG_tok"
rm -rf "$w/pulled"
skopeo copy --quiet --src-tls-verify=false --src-creds bob:pw "docker://$RIG_FRONT/rig/app:v1" "oci:$w/pulled:v1"
check "front+token: skopeo pull" cmp -s "$blobfile" "$w/pulled/blobs/sha256/${blob#sha256:}"
check "front+token: redirected with a token, storage without" bash -c "grep -q '^front 307 .* auth=yes' '$RIG_FRONT_LOG' && grep -q '^storage 200 .* auth=-' '$RIG_FRONT_LOG'"

# --- fault proxy -------------------------------------------------------------------------------------
rig_fault_proxy "$reg"
purl="http://$RIG_FAULT/v2/rig/app/blobs/$blob"
check "fault: plain forward" test "$(status "$purl")" = 200
check "fault: plain bytes" cmp -s "$w/body" "$blobfile"
check "fault: keep-alive" bash -c "curl -sv -o /dev/null -o /dev/null '$purl' '$purl' 2>&1 | grep -q 'Re-using existing connection'"
check "fault: upload Location points at the proxy" bash -c "curl -s -D - -o /dev/null -X POST 'http://$RIG_FAULT/v2/rig/app/blobs/uploads/' | grep -qi '^location: http://$RIG_FAULT/'"
rig_fault 500
check "fault 500: status" test "$(status "$purl")" = 500
check "fault 500: errors body" jq -e '.errors[0].code == "UNKNOWN"' "$w/body"
check "fault 500: only once" test "$(status "$purl")" = 200
rig_fault 429 2
check "fault 429: first" test "$(status "$purl")" = 429
check "fault 429: Retry-After" grep -qi '^retry-after: 1' "$w/hdr"
check "fault 429: second" test "$(status "$purl")" = 429
check "fault 429: then fine" test "$(status "$purl")" = 200
rig_fault 500 1 '/manifests/'
check "fault regex: blob not matched" test "$(status "$purl")" = 200
check "fault regex: manifest matched" test "$(status "http://$RIG_FAULT/v2/rig/app/manifests/v1")" = 500
rig_fault reset
check "fault reset: curl sees a reset (56)" test "$(curl_rc "$purl")" = 56
check "fault reset: part of the body came" test "$(stat -c %s "$w/body")" -lt "$size"
rig_fault truncate
check "fault truncate: curl sees a partial body (18)" test "$(curl_rc "$purl")" = 18
check "fault truncate: half the body" test "$(stat -c %s "$w/body")" = $((size / 2))
check "fault truncate: full Content-Length" grep -qi "^content-length: $size" "$w/hdr"
rig_fault ignore-range
check "fault ignore-range: 200" test "$(status "$purl" -r 0-99)" = 200
check "fault ignore-range: whole blob" cmp -s "$w/body" "$blobfile"
rig_fault bad-range
check "fault bad-range: 206" test "$(status "$purl" -r 100-199)" = 206
check "fault bad-range: Content-Range shifted" grep -qi "^content-range: bytes 101-200/$size" "$w/hdr"
check "fault bad-range: body shifted" cmp -s "$w/body" <(bytes "$blobfile" 101 100)
rig_fault corrupt
check "fault corrupt: 200" test "$(status "$purl")" = 200
check "fault corrupt: one byte differs" test "$(cmp -l "$w/body" "$blobfile" | wc -l)" = 1
rig_fault stall
t0=$SECONDS
check "fault stall: curl times out (28)" test "$(curl_rc "$purl" --max-time 2)" = 28
check "fault stall: headers came" grep -q '^HTTP/1.1 200' "$w/hdr"
check "fault stall: no body" test ! -s "$w/body"
check "fault stall: held" test $((SECONDS - t0)) -ge 1
rig_fault delay
t0=$(date +%s%N)
check "fault delay: 200" test "$(status "$purl")" = 200
check "fault delay: took 1 s" test $(($(date +%s%N) - t0)) -ge 1000000000
rig_fault 500 5
rig_fault clear
check "fault clear" test "$(status "$purl")" = 200
check "fault count" test "$(rig_fault_count)" = 11
check "fault log line" grep -qx "GET /v2/rig/app/blobs/$blob bytes=100-199 206 100 bad-range" "$RIG_FAULT_LOG"
check "fault log reset" grep -q "^GET /v2/rig/app/blobs/$blob - 200 $((size / 2)) reset$" "$RIG_FAULT_LOG"
# a push through the proxy (chunked PATCH uploads), and credentials passed through
rig_image_push "$w/img:v2" "$RIG_FAULT/rig/viaproxy:v2"
check "fault: push through the proxy" grep -q '^PUT /v2/rig/viaproxy/manifests/v2 - 201' "$RIG_FAULT_LOG"
rig_fault_proxy "$RIG_REG_auth"
check "fault+auth: 401 passed through" test "$(status "http://$RIG_FAULT/v2/rig/app/manifests/v1")" = 401
check "fault+auth: credentials passed through" test "$(status "http://$RIG_FAULT/v2/rig/app/manifests/v1" -u alice:s3cret -H "Accept: $accept")" = 200
check "fault+auth: rig_fault talks to the latest proxy" test "$(rig_fault_count)" = 0

# --- cleanup: children end in three ways; nothing they started may survive --------------------------
for how in exit3 fail signal; do
    rc=0
    RIG_KEEP='' bash "$0" --child "$w/record-$how" "$how" >"$w/child-$how.out" 2>&1 || rc=$?
    case $how in exit3) want=3 ;; fail) want=1 ;; signal) want=143 ;; esac
    check "cleanup $how: exit status $rc kept (want $want)" test $rc = "$want"
    if [ ! -s "$w/record-$how" ]; then bad "cleanup $how: no record ($(tail -n 5 "$w/child-$how.out"))"; continue; fi
    read -r ctmp pids <"$w/record-$how"
    check "cleanup $how: RIG_TMP removed" test ! -e "$ctmp"
    check "cleanup $how: rig_on_exit commands ran" test -e "$w/record-$how.cleaned" -a "$(cat "$w/record-$how.order")" = "$ctmp"
    alive=""
    for p in $pids; do if kill -0 "$p" 2>/dev/null; then alive="$alive $p"; fi; done
    check "cleanup $how: processes gone ($pids; alive:$alive)" test -z "$alive"
    # nothing else mentions the child's temp dir either
    left=$(grep -l -s -F "$ctmp" /proc/[0-9]*/cmdline || true)
    check "cleanup $how: no process refers to $ctmp ($left)" test -z "$left"
done

echo "rig-selftest: $pass passed, $failures failed ($((SECONDS - start)) s)"
[ $failures -eq 0 ]
