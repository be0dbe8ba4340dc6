# tap.sh - sourced by the shell tests: TAP output helpers.
# BUILD is the build directory (set by tests/run.sh).
BUILD=${BUILD:-build}
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: $2" "got:      $3"; fi; }
done_testing() { echo "1..$n"; [ "$failed" -eq 0 ]; }
