#!/usr/bin/env bash
# Fails when a banned function is called (STYLE.md "Size and format"), curl's checksrc idea.
set -euo pipefail
cd "$(dirname "$0")/.."
banned='sprintf|vsprintf|strcpy|strcat|strtok|atoi|atol|atoll|gets|strerror|gmtime|localtime|ctime|asctime|readdir_r|tmpnam|mktemp'
# a call: the name not preceded by an identifier character or '.', '>' (a member), then '('
pattern="(^|[^A-Za-z0-9_.>])($banned)[[:space:]]*\\("
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    'lib/*.[ch]' 'cmd/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'lib/*.cc')
# drop // comments and string literals before matching, so prose does not trip it
hits=$(for f in "${files[@]}"; do
    sed -e 's#//.*##' -e 's/"\([^"\\]\|\\.\)*"/""/g' "$f" | grep -nE "$pattern" | sed "s#^#$f:#"
done || true)
if [ -n "$hits" ]; then
    echo "$hits" >&2
    echo "check-banned: banned functions used (see STYLE.md)" >&2
    exit 1
fi
echo "check-banned: none of the banned functions is used in ${#files[@]} files"
