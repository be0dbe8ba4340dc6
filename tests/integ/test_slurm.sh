# test_slurm.sh - the Slurm executor on a real one-node Slurm cluster
# (../shared/slurm/local-slurm.sh, started here and stopped in the trap):
# a sweep gives the same bits as nmn-worker train; scancel, kill -9 of a
# worker and kill -9 of nmnd each end with every episode stored once and
# bit-identical; cancel runs scancel; bad tokens and bad frames are refused
# while the daemon goes on; a cluster that says no is retried, not fatal.
. "$(dirname "$0")/../cli/tap.sh"
D=${NMND:-$BUILD/nmnd}
C=$BUILD/nmnctl
W=$BUILD/nmn-worker
TCP=$BUILD/tests/tcp-send
LS=${LOCAL_SLURM:-../shared/slurm/local-slurm.sh}
T=$(mktemp -d)
chmod 755 "$T" # munged wants every directory above its socket searchable
PID=
export LOCAL_SLURM_DIR="$T/slurm" LOCAL_SLURM_FRESH=1
export LOCAL_SLURM_CTLD_PORT=$((26000 + $$ % 1000 * 2)) LOCAL_SLURM_SLURMD_PORT=$((26001 + $$ % 1000 * 2))
export SLURM_CONF="$T/slurm/etc/slurm.conf"
P=$((20000 + $$ % 5000))
cleanup() {
    [ -n "$KEEP_LOG" ] && cp "$T/s.log" "$KEEP_LOG"
    [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
    bash "$LS" stop >/dev/null 2>&1
    rm -rf "$T"
}
trap cleanup EXIT

sql() { sqlite3 "$T/s/nmn.db" "$1"; }
returns_db() { sql "SELECT printf('%!.17e', return) FROM episodes WHERE job_id = $1 ORDER BY episode" | awk '{ printf "%.17e\n", $1 }'; }
returns_csv() { tail -n +2 "$1" | cut -d, -f2 | awk '{ printf "%.17e\n", $1 }'; }
SMALL="--set batch=10 --set policy_steps=2 --set value_epochs=1 --set value_minibatch=5"
ref() { # ref ARCH SEED EPISODES: nmn-worker train's returns
    "$W" train --bench 1 --arch "$1" --seed "$2" --episodes "$3" $SMALL --csv "$T/ref-$1-$2.csv" >/dev/null 2>&1
    returns_csv "$T/ref-$1-$2.csv"
}
sweep() { # sweep NAME ARCH SEEDS EPISODES: a sweep file
    printf 'name: %s\nbenchmarks: [target1d]\narchs: [%s]\nseeds: %s\nepisodes: %s\nset:\n  batch: 10\n  policy_steps: 2\n  value_epochs: 1\n  value_minibatch: 5\n' \
        "$1" "$2" "$3" "$4" >"$T/$1.yaml"
    "$C" --state-dir "$T/s" submit "$T/$1.yaml" >/dev/null
}
job_of() { sql "SELECT id FROM jobs WHERE arch = '$1' AND seed = $2 AND episodes = $3"; }
wait_sql() { # wait_sql QUERY VALUE [SECONDS]: until QUERY prints VALUE
    for _ in $(seq $((${3:-120} * 10))); do
        [ "$(sql "$1" 2>/dev/null)" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
wait_episodes() { wait_sql "SELECT episodes_done >= $2 FROM jobs WHERE id = $1" 1 "${3:-120}"; }
once() { # once JOB EPISODES: every episode stored exactly once
    check "job $1: episodes 0..$(($2 - 1)) each stored once" "$2|$2|0|$(($2 - 1))" \
        "$(sql "SELECT count(*), count(DISTINCT episode), min(episode), max(episode) FROM episodes WHERE job_id = $1")"
}
be32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
frame() { be32 ${#1}; be32 "${2:-0}"; printf '%s' "$1"; } # frame JSON [BLOB_BYTES]

# start can lose a race under load (it may look for munged before nohup has
# exec'd it, and give up at once): it is idempotent, so try up to 3 times
started=1
for _ in 1 2 3; do bash "$LS" start >>"$T/slurm-start.log" 2>&1 && started=0 && break; sleep 1; done
if [ "$started" -ne 0 ]; then
    not_ok "the local Slurm cluster starts ($LS)" "$(tail -n 5 "$T/slurm-start.log")"
    done_testing
    exit 1
fi
ok "the local Slurm cluster starts"
cat >"$T/nmnd.yaml" <<EOF
# the Slurm settings of these tests, from a config file as in production
executor: slurm
checkpoint_every: 2
slurm:
  port: $P
  max_allocations: 1
  jobs_per_allocation: 2
  heartbeat_secs: 1
  grace_secs: 3
  reconnect_secs: 60
  output: $T/w-%j.log
  sbatch_options: [--time=10]
EOF
start() {
    "$D" --config "$T/nmnd.yaml" --state-dir "$T/s" >>"$T/s.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do
        "$C" --state-dir "$T/s" call '{"method":"status"}' >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
if ! start; then
    not_ok "nmnd --executor slurm starts from its config file" "$(cat "$T/s.log")"
    done_testing
    exit 1
fi
ok "nmnd --executor slurm starts from its config file"
check "the token file is private" 600 "$(stat -c %a "$T/s/slurm-token")"

# --- a sweep on Slurm: the same bits as nmn-worker train ------------------
sweep a "nmn, rnn" 1 300
J1=$(job_of nmn 1 300) J2=$(job_of rnn 1 300)
wait_sql "SELECT count(*) FROM jobs WHERE state = 'running' AND id IN ($J1, $J2)" 1 30
jobs_out=$("$C" --state-dir "$T/s" status 1 --jobs)
echo "$jobs_out" | grep -E "running .* slurm +[0-9]+ +$(hostname -s)" >/dev/null &&
    ok "status --jobs shows the Slurm job id and node of a running job" ||
    not_ok "status --jobs shows the Slurm job id and node of a running job" "$jobs_out"
"$C" --state-dir "$T/s" status | grep -q '^slurm: [0-9]* allocations pending, [0-9]* running, [0-9]* workers connected' &&
    ok "status shows the allocations" || not_ok "status shows the allocations" "$("$C" --state-dir "$T/s" status)"
wait_sql "SELECT count(*) FROM jobs WHERE state = 'done' AND id IN ($J1, $J2)" 2 &&
    ok "the sweep completes on Slurm" || not_ok "the sweep completes on Slurm" "$(tail -n 20 "$T/s.log")"
once "$J1" 300
once "$J2" 300
check "nmn job bit-identical to nmn-worker train" "$(ref nmn 1 300)" "$(returns_db "$J1")"
check "rnn job bit-identical to nmn-worker train" "$(ref rnn 1 300)" "$(returns_db "$J2")"
check "attempts ran on Slurm allocations" "2" \
    "$(sql "SELECT count(*) FROM attempts WHERE executor = 'slurm' AND allocation_id IS NOT NULL AND job_id IN ($J1, $J2)")"
check "max_allocations 1: one allocation ran both jobs in turn (jobs_per_allocation 2)" "1" \
    "$(sql "SELECT count(DISTINCT allocation_id) FROM attempts WHERE job_id IN ($J1, $J2)")"
check "the workers sent checkpoints and the trained agents stay" "2" \
    "$(sql "SELECT count(*) FROM jobs WHERE id IN ($J1, $J2) AND checkpoint_episode = 300")"

# --- hostile connections: refused, and the daemon goes on ------------------
NMN_TOKEN=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef "$W" serve \
    --connect "127.0.0.1:$P" --reconnect-secs 0 >/dev/null 2>&1
check "a worker with a wrong token is turned away (exit 1)" 1 $?
frame '{"type":"hello","alloc":"x"}' | "$TCP" 127.0.0.1 "$P" >"$T/r1"
frame '{"type":"next"}' | "$TCP" 127.0.0.1 "$P" >"$T/r2"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' | "$TCP" 127.0.0.1 "$P" >"$T/r3"
frame '{"type":"hello","token":"x"}' 5 | "$TCP" 127.0.0.1 "$P" >"$T/r4"
frame '{not json' | "$TCP" 127.0.0.1 "$P" >"$T/r5"
{ frame "{\"type\":\"hello\",\"token\":\"$(cat "$T/s/slurm-token")\"}"; frame '{"type":"batch","job_id":1,"attempt_id":1,"episodes":[]}'; } |
    "$TCP" 127.0.0.1 "$P" >"$T/r6"
check "each bad connection is closed" "closed closed closed closed closed closed" \
    "$(cat "$T/r1" "$T/r2" "$T/r3" "$T/r4" "$T/r5" "$T/r6" | cut -d' ' -f2 | tr '\n' ' ' | sed 's/ $//')"
check "... with nothing sent before authentication" "0 0 0 0 0" "$(cat "$T/r1" "$T/r2" "$T/r3" "$T/r4" "$T/r5" | cut -d' ' -f1 | tr '\n' ' ' | sed 's/ $//')"
for why in "wrong token" "no token" "the first frame must be hello" "bad frame header" "bad frame"; do
    grep -q "rejected connection 127.0.0.1:[0-9]*: $why" "$T/s.log" && ok "logged: $why" || not_ok "logged: $why" "$(grep rejected "$T/s.log")"
done
grep -q "closed: malformed or unexpected 'batch' frame" "$T/s.log" && ok "a bad frame after hello closes that connection" ||
    not_ok "a bad frame after hello closes that connection" "$(tail -n 5 "$T/s.log")"
kill -0 "$PID" && "$C" --state-dir "$T/s" call '{"method":"status"}' >/dev/null && ok "nmnd goes on" || not_ok "nmnd goes on"

# --- scancel of a running allocation: requeued, resumed, exact -------------
sweep b nmn 2 600
J=$(job_of nmn 2 600)
wait_episodes "$J" 200
alloc=$(sql "SELECT al.slurm_id FROM jobs j JOIN attempts a ON a.id = j.current_attempt JOIN allocations al ON al.id = a.allocation_id WHERE j.id = $J")
scancel "$alloc"
wait_sql "SELECT state FROM jobs WHERE id = $J" done && ok "after scancel the job is requeued and completes" ||
    not_ok "after scancel the job is requeued and completes" "$(tail -n 20 "$T/s.log")"
check "... in two attempts or more" 1 "$(sql "SELECT attempts >= 2 FROM jobs WHERE id = $J")"
once "$J" 600
check "... bit-identical to nmn-worker train" "$(ref nmn 2 600)" "$(returns_db "$J")"

# --- the time limit's signal (--signal=B:USR1@T), sent now: checkpoint,
# hand back, resume elsewhere ------------------------------------------------
sweep f nmn 4 600
J=$(job_of nmn 4 600)
wait_episodes "$J" 200
alloc=$(sql "SELECT al.slurm_id FROM jobs j JOIN attempts a ON a.id = j.current_attempt JOIN allocations al ON al.id = a.allocation_id WHERE j.id = $J")
scancel --batch --signal=USR1 "$alloc"
wait_sql "SELECT state FROM jobs WHERE id = $J" done && ok "after USR1 the job is handed back and completes" ||
    not_ok "after USR1 the job is handed back and completes" "$(tail -n 20 "$T/s.log")"
check "... its first attempt was requeued by the worker, with a checkpoint" "requeued" \
    "$(sql "SELECT outcome FROM attempts WHERE job_id = $J ORDER BY id LIMIT 1")"
once "$J" 600
check "... bit-identical to nmn-worker train" "$(ref nmn 4 600)" "$(returns_db "$J")"

# --- kill -9 of a worker: the grace period ends, requeued, exact ----------
sweep c rnn 2 600
J=$(job_of rnn 2 600)
wait_episodes "$J" 200
pkill -9 -f "serve --connect 127.0.0.1:$P"
wait_sql "SELECT state FROM jobs WHERE id = $J" done && ok "after kill -9 of its worker the job completes" ||
    not_ok "after kill -9 of its worker the job completes" "$(tail -n 20 "$T/s.log")"
check "... its first attempt ended as lost" "lost" "$(sql "SELECT outcome FROM attempts WHERE job_id = $J ORDER BY id LIMIT 1")"
once "$J" 600
check "... bit-identical to nmn-worker train" "$(ref rnn 2 600)" "$(returns_db "$J")"

# --- kill -9 of nmnd while Slurm jobs run, then restart --------------------
sweep d nmn 3 600
J=$(job_of nmn 3 600)
wait_episodes "$J" 150
kill -9 "$PID"
wait "$PID" 2>/dev/null
sleep 1
start && ok "nmnd restarts" || not_ok "nmnd restarts"
wait_sql "SELECT state FROM jobs WHERE id = $J" done && ok "after kill -9 of nmnd the job completes" ||
    not_ok "after kill -9 of nmnd the job completes" "$(tail -n 20 "$T/s.log")"
grep -q "job $J: worker .* reconnected; resuming attempt" "$T/s.log" && ok "... its worker reconnected and resumed" ||
    not_ok "... its worker reconnected and resumed" "$(tail -n 20 "$T/s.log")"
once "$J" 600
check "... bit-identical to nmn-worker train" "$(ref nmn 3 600)" "$(returns_db "$J")"

# --- nmnctl cancel runs scancel ---------------------------------------------
sweep e rnn 3 3000
J=$(job_of rnn 3 3000)
wait_episodes "$J" 50
"$C" --state-dir "$T/s" cancel --job "$J" >/dev/null
check "cancel: the job is cancelled" cancelled "$(sql "SELECT state FROM jobs WHERE id = $J")"
grep -q "job $J: cancelled; scancel [0-9]" "$T/s.log" && ok "cancel ran scancel" || not_ok "cancel ran scancel" "$(tail -n 5 "$T/s.log")"
for _ in $(seq 100); do [ -z "$(squeue -h --name="nmnd-$(cat "$T/s/slurm-name")")" ] && break; sleep 0.1; done
check "... and the allocation left the queue" "" "$(squeue -h --name="nmnd-$(cat "$T/s/slurm-name")")"
"$C" --state-dir "$T/s" call '{"method":"shutdown"}' >/dev/null
wait "$PID"
check "nmnd stops cleanly" 0 $?
PID=

# --- a cluster that says no: retried and shown, the sweep does not fail ----
"$D" --state-dir "$T/bad" --executor slurm --slurm-port $((P + 1)) --slurm-partition nosuch >"$T/bad.log" 2>&1 &
PID=$!
for _ in $(seq 100); do "$C" --state-dir "$T/bad" call '{"method":"status"}' >/dev/null 2>&1 && break; sleep 0.05; done
cp "$T/a.yaml" "$T/bad.yaml"
"$C" --state-dir "$T/bad" submit "$T/bad.yaml" >/dev/null
for _ in $(seq 50); do "$C" --state-dir "$T/bad" status | grep -q "the cluster said no" && break; sleep 0.1; done
"$C" --state-dir "$T/bad" status | grep -q "the cluster said no: sbatch refused (exit 1): .*; retrying in 5 s" &&
    ok "status shows sbatch's refusal and the retry" || not_ok "status shows sbatch's refusal and the retry" "$("$C" --state-dir "$T/bad" status)"
check "... and the jobs stay queued" "queued queued" "$(sqlite3 "$T/bad/nmn.db" "SELECT state FROM jobs" | tr '\n' ' ' | sed 's/ $//')"
"$C" --state-dir "$T/bad" call '{"method":"shutdown"}' >/dev/null
wait "$PID"
PID=
printf 'slurm:\n  port: 0\n' >"$T/badconf.yaml"
"$D" --config "$T/badconf.yaml" --state-dir "$T/bad" 2>"$T/e"
check "a bad config file value is refused, naming file:line:col" "1 nmnd: $T/badconf.yaml:2:9: slurm-port: '0' is not an integer in [1, 65535]" "$? $(cat "$T/e")"
done_testing
