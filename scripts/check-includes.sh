#!/usr/bin/env bash
# Fails when a third-party header is included outside the module that owns it, or a module includes
# a module it may not use (STYLE.md: dependencies point one way). Usage: check-includes.sh [ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# header prefix -> the only folders allowed to include it (gRPC: the snapshots server and the CRI
# client, each wrapping it behind its own header)
declare -A owner=(
    ['<curl/']=lib/registry ['<fuse']=lib/fusefs ['<grpc/']="lib/rpc lib/cri"
    ['<protobuf-c/']="lib/rpc lib/cri" ['<k8s/']=lib/cri
    ['<archive.h>']=lib/archive ['<archive_entry.h>']=lib/archive
    ['<zlib.h>']=lib/zseek ['<zstd.h>']=lib/zseek ['<zdict.h>']=lib/zseek
    ['<sqlite3.h>']=lib/snapshot ['<json-c/']=lib/oci ['<openssl/']=lib/base
    ['<toml++/']=lib/config ['<microhttpd.h>']=tests
    ['<containerd/']=lib/rpc ['<google/protobuf/']=lib/rpc  # C generated from proto/
)
# module -> the project modules it may include (besides itself)
declare -A uses=(
    [base]="" [config]="base" [oci]="base" [registry]="base config oci"
    [blob]="base registry" [zseek]="base blob" [index]="base" [archive]="base index"
    [cache]="base" [layer]="base config oci registry blob zseek index archive cache"
    [image]="base config oci registry blob zseek index archive cache layer"
    [fusefs]="base index layer" [stream]="base index layer fusefs"
    [mount]="base config oci registry blob zseek index archive cache layer image fusefs stream"
    [snapshot]="base oci" [rpc]="base snapshot" [cri]="base"
    [remote]="base config oci registry blob zseek index archive cache layer image fusefs stream mount snapshot"
)

bad=0
while IFS= read -r -d '' f; do
    while IFS=: read -r line text; do
        for prefix in "${!owner[@]}"; do
            [[ "$text" == *"#include $prefix"* ]] || continue
            ok=0
            for dir in ${owner[$prefix]}; do
                if [[ "$f" == "$dir"/* ]]; then ok=1; fi
            done
            if [ $ok -eq 0 ]; then
                echo "$f:$line: $prefix... may only be included in ${owner[$prefix]// //, }/" >&2
                bad=1
            fi
        done
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f" || true)

    [[ "$f" == lib/* ]] || continue
    mod=${f#lib/}; mod=${mod%%/*}
    while IFS=: read -r line dep; do
        [[ -z "$dep" || "$dep" == "$mod" ]] && continue
        if [[ " ${uses[$mod]-} " != *" $dep "* ]]; then
            echo "$f:$line: module '$mod' may not use module '$dep'" >&2
            bad=1
        fi
    done < <(grep -n -o '#include "[a-z]*/' "$f" | sed 's/#include "\(.*\)\//\1/' || true)
done < <(find lib cmd bench -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print0 2>/dev/null)

[ $bad -eq 0 ] && echo "check-includes: every include is in its owner's module"
exit $bad
