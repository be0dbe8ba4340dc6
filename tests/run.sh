#!/bin/sh
# run.sh - run every test program (each speaks TAP: cmocka with
# CMOCKA_MESSAGE_OUTPUT=TAP, or the shell tests in tests/cli), with a
# timeout each, and end with one line "N passed, N failed".
#
# A program that dies before reporting all it planned counts its missing
# tests as failed. Logs go to $BUILD/test-logs/.
BUILD=${BUILD:-build}
TIMEOUT=${TEST_TIMEOUT:-900}
LOGS=$BUILD/test-logs
mkdir -p "$LOGS"
export CMOCKA_MESSAGE_OUTPUT=TAP BUILD

pass=0
fail=0
run_one() { # run_one LABEL CMD...
    label=$1
    shift
    log="$LOGS/$label.log"
    mkdir -p "$(dirname "$log")"
    timeout "$TIMEOUT" "$@" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^ok ' "$log" 2>/dev/null) || p=0
    f=$(grep -c '^not ok ' "$log" 2>/dev/null) || f=0
    plan=$(sed -n 's/^1\.\.\([0-9][0-9]*\).*/\1/p' "$log" | head -n 1)
    missing=0
    [ -n "$plan" ] && missing=$((plan - p - f))
    [ "$missing" -lt 0 ] && missing=0
    [ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && [ "$missing" -eq 0 ] && missing=1
    f=$((f + missing))
    if [ "$f" -eq 0 ]; then
        printf '%-28s %3d ok\n' "$label" "$p"
    else
        printf '%-28s %3d ok, %d FAILED (exit %d); log: %s\n' "$label" "$p" "$f" "$rc" "$log"
        grep -E '^not ok|^# |ERROR|error|Assert|FAIL' "$log" | head -n 40 | sed 's/^/    /'
    fi
    pass=$((pass + p))
    fail=$((fail + f))
}

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] && run_one "unit/$(basename "$t")" "$t"
done
for t in build/asan/tests/test_*; do
    [ -x "$t" ] && ASAN_OPTIONS=detect_leaks=1 run_one "asan/$(basename "$t")" "$t"
done
for t in tests/cli/test_*.sh; do
    [ -f "$t" ] && run_one "cli/$(basename "$t" .sh)" sh "$t"
done
for t in tests/integ/test_*.sh; do
    [ -f "$t" ] && run_one "integ/$(basename "$t" .sh)" sh "$t"
done
# the daemon again under ASan+UBSan: LeakSanitizer fails its clean exits
if [ -x build/asan/nmnd ]; then
    for t in tests/integ/test_*.sh; do
        [ -f "$t" ] && NMND=build/asan/nmnd ASAN_OPTIONS=detect_leaks=1 \
            run_one "integ-asan/$(basename "$t" .sh)" sh "$t"
    done
fi

if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then
    echo "no test ran: is the build complete?" >&2
    fail=1
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
