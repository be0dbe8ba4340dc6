#!/bin/sh
# bench-slurm.sh - `make bench`, the Slurm path (a real one-node cluster from
# local-slurm.sh, started and stopped here): how fast episodes stream over
# TCP into the store (a worker that trains infinitely fast, nmn-bench
# --wire-flood), and how long from submit to the first stored episode of a
# real benchmark-1 job (sbatch, scheduling, worker start, one iteration).
#   BUILD=build LOCAL_SLURM=.../local-slurm.sh tools/bench-slurm.sh
set -eu
BUILD=${BUILD:-build}
LS=${LOCAL_SLURM:-../shared/slurm/local-slurm.sh}
T=$(mktemp -d)
chmod 755 "$T" # munged wants every directory above its socket searchable
export LOCAL_SLURM_DIR="$T/slurm" LOCAL_SLURM_FRESH=1 SLURM_CONF="$T/slurm/etc/slurm.conf"
export LOCAL_SLURM_CTLD_PORT=$((27000 + $$ % 1000 * 2)) LOCAL_SLURM_SLURMD_PORT=$((27001 + $$ % 1000 * 2))
P=$((25000 + $$ % 5000))
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    bash "$LS" stop >/dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
now() { date +%s.%N; }
sql() { sqlite3 "$T/s/nmn.db" "$1"; }
start() {
    "$BUILD/nmnd" --state-dir "$T/s" --executor slurm --slurm-port "$P" --slurm-output "$T/w-%j.log" "$@" \
        >>"$T/nmnd.log" 2>&1 &
    PID=$!
    for _ in $(seq 100); do "$BUILD/nmnctl" --state-dir "$T/s" call '{"method":"status"}' >/dev/null 2>&1 && return; sleep 0.05; done
    echo "bench-slurm: nmnd did not start: $(cat "$T/nmnd.log")" >&2
    exit 1
}
stop() { "$BUILD/nmnctl" --state-dir "$T/s" call '{"method":"shutdown"}' >/dev/null; wait "$PID"; PID=; }
submit() { # submit NAME EPISODES
    printf 'name: %s\nbenchmarks: [target1d]\narchs: [nmn]\nseeds: 1\nepisodes: %s\n' "$1" "$2" >"$T/$1.yaml"
    "$BUILD/nmnctl" --state-dir "$T/s" submit "$T/$1.yaml" >/dev/null
}
# start is idempotent and can lose a race under load: up to 3 tries
for _ in 1 2 3; do bash "$LS" start >>"$T/slurm.log" 2>&1 && break; sleep 1; done
bash "$LS" status >/dev/null 2>&1 || { echo "bench-slurm: the local Slurm cluster did not start: $(tail -n 3 "$T/slurm.log")" >&2; exit 1; }

echo "The Slurm path (local one-node cluster, nmnd --executor slurm):"
start
t0=$(now)
submit first 50
until [ "$(sql 'SELECT count(*) FROM episodes')" -gt 0 ]; do sleep 0.02; done
t1=$(now)
iter=$(sql "SELECT update_ms + rollout_ms FROM iterations LIMIT 1")
awk -v a="$t0" -v b="$t1" -v i="$iter" 'BEGIN { printf "  submit to first stored episode, benchmark 1 nmn: %6.2f s (of which the first iteration: %.2f s)\n", b - a, i / 1000 }'
until [ "$(sql "SELECT state FROM jobs")" = done ]; do sleep 0.1; done
stop

# no allocations now (a partition that does not exist): the flood worker
# below is the only one to take the job
start --slurm-partition nmn-bench-none
N=200000
submit flood $N
t0=$(now)
NMN_TOKEN=$(cat "$T/s/slurm-token") "$BUILD/nmn-bench" --wire-flood "127.0.0.1:$P"
until [ "$(sql "SELECT state FROM jobs WHERE episodes = $N")" = done ]; do sleep 0.05; done
t1=$(now)
rows=$(sql "SELECT count(*) FROM episodes e JOIN jobs j ON j.id = e.job_id WHERE j.episodes = $N")
awk -v a="$t0" -v b="$t1" -v n="$rows" 'BEGIN { printf "  TCP stream into the store: %d episode rows (50 per frame) in %.2f s = %.0f episodes/s\n", n, b - a, n / (b - a) }'
stop
