# test_nmnd.sh - the real nmnd, real sockets, real SQLite: jobs submitted
# over the socket give the same bits as `nmn-worker train`; kill -9 at random
# moments and SIGTERM lose and duplicate nothing; hostile requests get error
# replies and the daemon keeps serving.
. "$(dirname "$0")/../cli/tap.sh"
D=${NMND:-$BUILD/nmnd}
C=$BUILD/nmnctl
W=$BUILD/nmn-worker
T=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

start() { # start [extra flags]: nmnd in the background, wait for its socket
    "$D" --state-dir "$T/state" --workers 2 --checkpoint-every 2 "$@" >>"$T/nmnd.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        "$C" --state-dir "$T/state" call '{"method":"status"}' >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
done_jobs() { sql "SELECT count(*) FROM jobs WHERE state = 'done'"; }
wait_done() { # wait_done N: until N jobs are done (or 300 s)
    for _ in $(seq 3000); do
        [ "$(done_jobs)" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
sql() { sqlite3 "$T/state/nmn.db" "$1"; }
# the returns of a job, one per line, exact (18 significant digits; SQLite
# needs the ! flag for more than 16)
returns_db() { sql "SELECT printf('%!.17e', return) FROM episodes WHERE job_id = $1 ORDER BY episode" | awk '{ printf "%.17e\n", $1 }'; }
returns_csv() { tail -n +2 "$1" | cut -d, -f2 | awk '{ printf "%.17e\n", $1 }'; }

JOB1='"bench":"target1d","arch":"nmn","seed":3,"episodes":40,"batch":5,"policy_steps":2,"value_epochs":1,"value_minibatch":5'
JOB2='"bench":"target1d","arch":"rnn","seed":3,"episodes":40,"batch":5,"policy_steps":2,"value_epochs":1,"value_minibatch":5'
SMALL="--set batch=5 --set policy_steps=2 --set value_epochs=1 --set value_minibatch=5"
"$W" train --bench 1 --arch nmn --seed 3 --episodes 40 $SMALL --csv "$T/ref1.csv" >/dev/null 2>&1
"$W" train --bench 1 --arch rnn --seed 3 --episodes 40 $SMALL --csv "$T/ref2.csv" >/dev/null 2>&1

start && ok "nmnd starts and answers status" || not_ok "nmnd starts and answers status" "$(cat "$T/nmnd.log")"
check "socket mode 0660" 660 "$(stat -c %a "$T/state/nmnd.sock")"
"$D" --state-dir "$T/state" >/dev/null 2>"$T/second.err"
check "a second nmnd on the same state dir is refused" 1 $?
grep -q "another nmnd (pid $PID) is running on $T/state" "$T/second.err" && ok "... saying which pid holds it" ||
    not_ok "... saying which pid holds it" "$(cat "$T/second.err")"

reply=$("$C" --state-dir "$T/state" call "{\"method\":\"submit\",\"name\":\"basic\",\"jobs\":[{$JOB1},{$JOB2}]}")
check "submit reply" '{"ok":true,"sweep_id":1,"jobs":2,"new":2,"existing":0}' "$reply"
wait_done 2 && ok "both jobs done" || not_ok "both jobs done" "$("$C" --state-dir "$T/state" call '{"method":"status"}')"
check "every episode once" "1|40|40 2|40|40" "$(sql 'SELECT job_id, count(*), count(DISTINCT episode) FROM episodes GROUP BY job_id' | tr '\n' ' ' | sed 's/ $//')"
check "job 1 bit-identical to nmn-worker train" "$(returns_csv "$T/ref1.csv")" "$(returns_db 1)"
check "job 2 bit-identical to nmn-worker train" "$(returns_csv "$T/ref2.csv")" "$(returns_db 2)"
check "states and attempts" "done|1 done|1" "$(sql 'SELECT state, attempts FROM jobs ORDER BY id' | tr '\n' ' ' | sed 's/ $//')"
reply=$("$C" --state-dir "$T/state" call "{\"method\":\"submit\",\"name\":\"again\",\"jobs\":[{$JOB1}]}")
check "a known job is not run again" '{"ok":true,"sweep_id":2,"jobs":1,"new":0,"existing":1}' "$reply"

# --- kill -9 at random moments, then restart, five times --------------------
# longer jobs (about 6 s each), so that the kills land mid-run
LONG='"batch":10,"policy_steps":3,"value_epochs":2,"value_minibatch":5'
LONGSET="--set batch=10 --set policy_steps=3 --set value_epochs=2 --set value_minibatch=5"
JOB3="\"bench\":\"target1d\",\"arch\":\"nmn\",\"seed\":7,\"episodes\":200,$LONG"
JOB4="\"bench\":\"target1d\",\"arch\":\"rnn\",\"seed\":7,\"episodes\":200,$LONG"
"$W" train --bench 1 --arch nmn --seed 7 --episodes 200 $LONGSET --csv "$T/ref3.csv" >/dev/null 2>&1
"$W" train --bench 1 --arch rnn --seed 7 --episodes 200 $LONGSET --csv "$T/ref4.csv" >/dev/null 2>&1
"$C" --state-dir "$T/state" call "{\"method\":\"submit\",\"name\":\"crash\",\"jobs\":[{$JOB3},{$JOB4}]}" >/dev/null
kills=0
for i in 1 2 3 4 5; do
    sleep "0.$(( (i * 37 + $$) % 9 + 1 ))"
    [ "$(sql "SELECT count(*) FROM jobs WHERE state = 'running'")" -gt 0 ] || sleep 0.5
    kill -9 "$PID" 2>/dev/null && kills=$((kills + 1))
    wait "$PID" 2>/dev/null
    start || break
done
check "killed -9 five times mid-run" 5 "$kills"
wait_done 4 && ok "after the kills, every job completes" || not_ok "after the kills, every job completes" "$(tail -n 5 "$T/nmnd.log")"
check "no row missing or duplicated" "3|200|200|0|199 4|200|200|0|199" \
    "$(sql 'SELECT job_id, count(*), count(DISTINCT episode), min(episode), max(episode) FROM episodes WHERE job_id > 2 GROUP BY job_id' | tr '\n' ' ' | sed 's/ $//')"
check "job 3 bit-identical to an uninterrupted run" "$(returns_csv "$T/ref3.csv")" "$(returns_db 3)"
check "job 4 bit-identical to an uninterrupted run" "$(returns_csv "$T/ref4.csv")" "$(returns_db 4)"
lost=$(sql "SELECT count(*) FROM attempts WHERE outcome = 'lost'")
[ "$lost" -ge 1 ] && ok "crashed attempts recorded as lost ($lost)" || not_ok "crashed attempts recorded as lost" "got $lost"

# --- SIGTERM mid-run: exit 0 promptly, jobs requeued, identical results ------
JOB5="\"bench\":\"target1d\",\"arch\":\"nmn\",\"seed\":9,\"episodes\":200,$LONG"
"$W" train --bench 1 --arch nmn --seed 9 --episodes 200 $LONGSET --csv "$T/ref5.csv" >/dev/null 2>&1
"$C" --state-dir "$T/state" call "{\"method\":\"submit\",\"name\":\"term\",\"jobs\":[{$JOB5}]}" >/dev/null
sleep 1
kill -TERM "$PID"
t0=$(date +%s)
wait "$PID"
rc=$?
PID=
check "SIGTERM: exit status 0" 0 "$rc"
[ $(( $(date +%s) - t0 )) -le 20 ] && ok "SIGTERM: stopped within 20 s" || not_ok "SIGTERM: stopped within 20 s"
check "SIGTERM: the job is back in the queue with a checkpoint" "queued|1" \
    "$(sql 'SELECT state, checkpoint_path IS NOT NULL FROM jobs WHERE id = 5')"
start
wait_done 5 && ok "after the restart the job finishes" || not_ok "after the restart the job finishes"
check "job 5 bit-identical to an uninterrupted run" "$(returns_csv "$T/ref5.csv")" "$(returns_db 5)"

# --- hostile requests: each gets an error reply or a closed connection ------
bad=0
i=0
while [ $i -lt 300 ]; do
    case $((i % 10)) in
    0) req='{"method":' ;;
    1) req='[1,2,3]' ;;
    2) req='{"method":42}' ;;
    3) req="{\"method\":\"frobnicate$i\"}" ;;
    4) req='{"method":"submit","name":"x","jobs":"all"}' ;;
    5) req="{\"method\":\"submit\",\"name\":\"x\",\"jobs\":[{\"gamma\":$i}]}" ;;
    6) req='{"method":"cancel","job":"one"}' ;;
    7) req='{"method":"submit","name":"x","jobs":[{"bench":"cartpole"}]}' ;;
    8) req='{"method":"retry","job":999999}' ;;
    9) req='{"method":"submit","name":"x","jobs":[{"train_cut":333}]}' ;;
    esac
    out=$(printf '%s\n' "$req" | "$C" --state-dir "$T/state" raw)
    case "$out" in '{"ok":false,"error":'*) ;; *) bad=$((bad + 1)); echo "# $req -> $out" ;; esac
    i=$((i + 1))
done
check "300 malformed requests, 300 error replies" 0 "$bad"
for k in 1 2 3 4 5; do
    out=$(head -c 3000 /dev/urandom | "$C" --state-dir "$T/state" raw | tr -d '\0')
    case "$out" in '' | '{"ok":false,"error":'*) ;; *) bad=$((bad + 1)); echo "# junk -> $out" ;; esac
done
check "binary junk: error replies or a closed connection" 0 "$bad"
out=$(head -c 2200000 /dev/zero | tr '\0' 'x' | "$C" --state-dir "$T/state" raw)
case "$out" in *"longer than 1048576 bytes"*) ok "a 2 MB line is refused and the connection closed" ;;
*) not_ok "a 2 MB line is refused" "got: $(echo "$out" | head -c 200)" ;; esac
out=$(printf '{"method":"status"}\n{"method":"status"}' | "$C" --state-dir "$T/state" raw)
check "half-closed connection: the complete request is answered, the partial one dropped" 1 \
    "$(echo "$out" | grep -c '^{"ok":true')"
case "$("$C" --state-dir "$T/state" call '{"method":"status"}')" in '{"ok":true'*) ok "still serving status afterwards" ;;
*) not_ok "still serving status afterwards" ;; esac
kill -0 "$PID" && ok "nmnd survived it all" || not_ok "nmnd survived it all"
"$C" --state-dir "$T/state" call '{"method":"shutdown"}' >/dev/null
wait "$PID"
check "shutdown request: exit status 0" 0 $?
PID=
done_testing
