# test_nmnctl.sh - `nmnctl submit`: the dry-run job table, errors with
# file:line:column that submit nothing, and exit status 2 without a daemon.
. "$(dirname "$0")/tap.sh"
N=$BUILD/nmnctl
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
out=$("$N" --state-dir "$T" submit configs/quick.yaml --dry-run)
check "dry run exits 0" 0 $?
check "dry run: one row per job, then the summary" "sweep 'quick': 4 jobs (dry run: nothing submitted)" "$(echo "$out" | tail -n 1)"
check "dry run: benchmarks x archs x seeds in order" "target1d nmn 1,target1d nmn 2,target1d rnn 1,target1d rnn 2" \
    "$(echo "$out" | sed -n '2,5p' | awk '{ printf "%s%s %s %s", (NR > 1 ? "," : ""), $2, $3, $4 }')"
printf 'name: bad\nbenchmarks: [1]\narchs: [nmn]\nseeds: 1\nset:\n  value_lr: lots\n' >"$T/bad.yaml"
"$N" --state-dir "$T" submit "$T/bad.yaml" >"$T/out" 2>"$T/err"
check "a bad file: exit 1" 1 $?
check "... naming file, line and column" "nmnctl: $T/bad.yaml:6:13: value_lr: 'lots' is not a number" "$(head -n 1 "$T/err")"
check "... and submitting nothing" "(nothing was submitted)" "$(tail -n 1 "$T/err")"
"$N" --state-dir "$T" submit configs/quick.yaml >/dev/null 2>"$T/err"
check "no daemon: exit 2" 2 $?
grep -q "cannot reach nmnd at $T/nmnd.sock" "$T/err" && ok "... saying where it looked" || not_ok "... saying where it looked" "$(cat "$T/err")"
"$N" --state-dir "$T" submit configs/quick.yaml --dry-runn >/dev/null 2>"$T/err"
check "unknown option: exit 1" 1 $?
done_testing
