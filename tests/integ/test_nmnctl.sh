# test_nmnctl.sh - nmnctl against a real nmnd: submit a tiny sweep twice,
# wait, results and curves checked against the episodes table, a read-only
# sql, and the queue commands.
. "$(dirname "$0")/../cli/tap.sh"
D=${NMND:-$BUILD/nmnd}
N="$BUILD/nmnctl --state-dir"
T=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"' EXIT
"$D" --state-dir "$T/s" --workers 2 2>"$T/log" &
PID=$!
for _ in $(seq 100); do $N "$T/s" call '{"method":"status"}' >/dev/null 2>&1 && break; sleep 0.05; done
printf 'name: tiny\nbenchmarks: [target1d]\narchs: [nmn, rnn]\nseeds: 1..2\nepisodes: 50\nset:\n  policy_steps: 2\n  value_epochs: 1\n' >"$T/tiny.yaml"
sql() { sqlite3 "$T/s/nmn.db" "$1"; }

check "submit" "sweep 1: 4 jobs, 4 new, 0 already existed (same config hash)" "$($N "$T/s" submit "$T/tiny.yaml")"
check "wait: exit 0 when every job is done" "sweep 1: 4 of 4 jobs done|0" "$($N "$T/s" wait 1)|$?"
check "status after the end" "sweep 1 tiny             [##############################] 200/200 episodes (100%)  done 4, running 0, queued 0 (4 jobs)" \
    "$($N "$T/s" status)"
check "status --watch returns once nothing is active" "$($N "$T/s" status 1)" "$(timeout 10 $N "$T/s" status 1 --watch)"
$N "$T/s" status 9 >/dev/null 2>"$T/err"
check "status of an unknown sweep: exit 1" "1:nmnctl: no sweep 9" "$?:$(cat "$T/err")"
check "the same sweep again: 0 new" "sweep 1: 4 jobs, 0 new, 4 already existed (same config hash)" "$($N "$T/s" submit "$T/tiny.yaml")"

out=$($N "$T/s" results 1)
check "results: a header and 4 rows" 5 "$(echo "$out" | wc -l)"
# with 50 episodes the 1000-episode running mean at the end is the plain mean
want=$(sql "SELECT printf('%.6g', avg(return)) FROM episodes WHERE job_id = 1")
got=$(echo "$out" | awk '$1 == 1 { print $6 }')
check "results: job 1's final running mean = its mean return" "$want" "$got"
check "results: state" "done" "$(echo "$out" | awk '$1 == 1 { print $8 }')"

$N "$T/s" curves 1 --csv "$T/c.csv"
check "curves --csv: exit 0" 0 $?
check "curves --csv: header" "benchmark,arch,episode,mean,std,seeds" "$(head -n 1 "$T/c.csv")"
check "curves --csv: 2 archs x 50 episodes" 101 "$(wc -l <"$T/c.csv")"
want=$(sql "SELECT printf('%.10g', avg(m)) FROM (SELECT avg(return) AS m FROM episodes e JOIN jobs j ON j.id = e.job_id WHERE j.arch = 'nmn' GROUP BY e.job_id)")
check "curves: nmn mean at episode 49 = mean over seeds of their means" "$want" \
    "$(awk -F, '$2 == "nmn" && $3 == 49 { printf "%.10g", $4 }' "$T/c.csv")"
want=$(sql "SELECT printf('%.10g', avg(m)) FROM (SELECT avg(return) AS m FROM episodes e JOIN jobs j ON j.id = e.job_id WHERE j.arch = 'rnn' AND e.episode BETWEEN 40 AND 49 GROUP BY e.job_id)")
$N "$T/s" curves 1 --window 10 --csv "$T/c10.csv"
check "curves --window 10: the last 10 episodes" "$want" "$(awk -F, '$2 == "rnn" && $3 == 49 { printf "%.10g", $4 }' "$T/c10.csv")"
check "curves: seeds counted" 2 "$(awk -F, '$3 == 49 { print $6; exit }' "$T/c.csv")"

$N "$T/s" plot 1 -o "$T/fig.png" >/dev/null
check "plot: exit 0" 0 $?
check "plot: a PNG file" "89504e470d0a1a0a" "$(head -c 8 "$T/fig.png" | od -An -tx1 | tr -d ' \n')"
[ "$(wc -c <"$T/fig.png")" -gt 5000 ] && ok "plot: not empty" || not_ok "plot: not empty"
$N "$T/s" plot 1 -o "$T/fig.svg" >/dev/null && grep -q '<svg' "$T/fig.svg" && ok "plot: SVG" || not_ok "plot: SVG"
$N "$T/s" plot 1 -o "$T/fig.jpg" >/dev/null 2>&1
check "plot: another extension is refused" 1 $?
check "status --jobs: a row per job, all done" 4 "$($N "$T/s" status 1 --jobs | grep -c ' done ')"
check "COMMAND --help: the usage, exit 0" "0:1" "$($N "$T/s" results --help >"$T/help"; echo "$?:$(grep -c '^  results SWEEP' "$T/help")")"
check "sql --json" '[{"n":200}]' "$($N "$T/s" --json sql 'SELECT count(*) AS n FROM episodes')"
check "results --json: 4 job objects" 4 "$($N "$T/s" results 1 --json | grep -o '"job":' | wc -l)"
check "status --json" '{"sweep":1,"name":"tiny","jobs":4,"done":4,"running":0,"queued":0,"failed":0,"cancelled":0,"episodes_done":200,"episodes":200,"env_steps_per_s":0.0}' \
    "$($N "$T/s" status --json)"
check "NMN_STATE_DIR locates the store" "$($N "$T/s" results 1)" "$(NMN_STATE_DIR="$T/s" "$BUILD/nmnctl" results 1)"
check "sql: a query" "200" "$($N "$T/s" sql 'SELECT count(*) AS n FROM episodes' | tail -n 1 | tr -d ' ')"
for q in "DELETE FROM episodes" "INSERT INTO sweeps (name, yaml) VALUES ('x', 'y')" "DROP TABLE jobs"; do
    $N "$T/s" sql "$q" >/dev/null 2>"$T/err"
    rc=$?
    check "sql refuses '$q' (SQLite's read-only error)" "1:nmnctl: attempt to write a readonly database" "$rc:$(cat "$T/err")"
done
check "nothing was written" 200 "$(sql 'SELECT count(*) FROM episodes')"

check "pause" "pause: ok" "$($N "$T/s" pause)"
check "resume" "resume: ok" "$($N "$T/s" resume)"
check "cancel a finished sweep changes nothing" "cancel: 0 of 4 jobs changed" "$($N "$T/s" cancel 1)"
$N "$T/s" retry --job 99 >/dev/null 2>"$T/err"
check "retry of an unknown job: exit 1" "1:nmnctl retry: retry: no job 99" "$?:$(cat "$T/err")"
$N "$T/s" results 7 >/dev/null 2>"$T/err"
check "results of an unknown sweep: exit 1" "1:nmnctl: no sweep 7" "$?:$(cat "$T/err")"
$N "$T/s" call '{"method":"shutdown"}' >/dev/null
wait "$PID"
PID=
done_testing
