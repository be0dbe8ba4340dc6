# test_demo.sh - `make demo`'s script end to end on a tiny sweep: the daemon
# trains 4 jobs (50 episodes: one batch each), the curve table and per-job results print, the daemon stops,
# and a second run reuses the stored jobs instead of training again.
. "$(dirname "$0")/tap.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf 'name: tiny\nbenchmarks: [target1d]\narchs: [nmn, rnn]\nseeds: 1..2\nepisodes: 50\n' >"$T/tiny.yaml"
SWEEP="$T/tiny.yaml" STATE="$T/var" BUILD="$BUILD" ./tools/demo.sh >"$T/out1" 2>&1
check "demo exits 0" 0 $?
grep -q '^sweep 1: 4 jobs, 4 new, 0 already existed' "$T/out1" && ok "submits 4 new jobs" || not_ok "submits 4 new jobs" "$(head -n 5 "$T/out1")"
check "ten curve rows, nmn and rnn side by side" 10 "$(grep -cE '^[0-9]+ +-[0-9]+ \+- +[0-9]+ +-[0-9]+ \+- +[0-9]+$' "$T/out1")"
check "a result per job" 4 "$(grep -cE '^(nmn|rnn) +[12] +-[0-9]+' "$T/out1")"
check "every episode stored once" "200|200" "$(sqlite3 "$T/var/nmn.db" "SELECT count(*), count(DISTINCT job_id * 1000 + episode) FROM episodes")"
[ -e "$T/var/nmnd.sock" ] && not_ok "the daemon stopped" || ok "the daemon stopped"
check "plots written" "PNG|svg" "$(head -c 4 "$T/var/plots/tiny.png" | tail -c 3)|$(grep -o -m1 'svg' "$T/var/plots/tiny.svg")"
SWEEP="$T/tiny.yaml" STATE="$T/var" BUILD="$BUILD" ./tools/demo.sh >"$T/out2" 2>&1
check "second run exits 0" 0 $?
grep -q 'every job was trained before (same config hashes): reusing their results' "$T/out2" &&
    ok "the second run reuses the results" || not_ok "the second run reuses the results" "$(head -n 3 "$T/out2")"
check "and trains nothing more" 200 "$(sqlite3 "$T/var/nmn.db" "SELECT count(*) FROM episodes")"
done_testing
