#!/usr/bin/env bash
# Fails when a C source or header is not formatted as .clang-format says.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    'lib/*.[ch]' 'cmd/*.[ch]' 'tests/*.[ch]' 'bench/*.[ch]' 'lib/*.cc')
[ ${#files[@]} -gt 0 ] || { echo "check-format: no sources found" >&2; exit 1; }
clang-format --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
