# Pass/fail bookkeeping for integration scripts (sourced). Call check_done at the end: it prints
# the tally and exits 1 when anything failed.
pass=0
failures=0

ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check DESCRIPTION CMD...: one check, CMD's success (its stdout dropped)
check() {
    local what=$1
    shift
    if "$@" >/dev/null; then ok; else bad "$what"; fi
}

# expect_fail CODE PATTERN CMD...: exit status CODE, stderr one line matching PATTERN (ERE).
expect_fail() {
    local code=$1 pattern=$2
    shift 2
    local rc=0
    "$@" >expect.out 2>expect.err || rc=$?
    if [ "$rc" -ne "$code" ]; then bad "$*: exit $rc, wanted $code ($(cat expect.err))"; return 0; fi
    if [ "$(wc -l < expect.err)" -ne 1 ]; then bad "$*: stderr is not one line: $(cat expect.err)"; return 0; fi
    if ! grep -qE -- "$pattern" expect.err; then bad "$*: '$(cat expect.err)' lacks /$pattern/"; return 0; fi
    ok
}

check_done() {
    echo "$pass passed, $failures failed"
    [ "$failures" -eq 0 ]
}
