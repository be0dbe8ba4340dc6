#!/bin/sh
# demo.sh - `make demo`: nmnd on ./var, the sweep configs/quick.yaml
# (benchmark 1, nmn and rnn, 2 seeds, 1000 episodes each) submitted with
# nmnctl, live progress, the learning curves from the store, and a clean
# stop, and the plots in var/plots/NAME.png and .svg. Run twice, it reuses
# the finished jobs. SWEEP=FILE runs another one.
set -eu
BUILD=${BUILD:-build}
STATE=${STATE:-var}
C="$BUILD/nmnctl --state-dir $STATE"
SWEEP=${SWEEP:-configs/quick.yaml}

mkdir -p "$STATE"
"$BUILD/nmnd" --state-dir "$STATE" --workers 2 --log "$STATE/nmnd.log" &
PID=$!
trap 'kill "$PID" 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 100); do $C call '{"method":"status"}' >/dev/null 2>&1 && break; sleep 0.1; done

reply=$($C submit "$SWEEP") || exit 1
echo "$reply"
sweep=$(echo "$reply" | sed -n 's/^sweep \([0-9]*\):.*/\1/p')
njobs=$(echo "$reply" | sed -n 's/^sweep [0-9]*: \([0-9]*\) jobs.*/\1/p')
case "$reply" in
*", 0 new,"*) echo "demo: every job was trained before (same config hashes): reusing their results" ;;
*) echo "demo: training on 2 workers (log: $STATE/nmnd.log)" ;;
esac
total=$(sqlite3 "$STATE/nmn.db" "SELECT sum(j.episodes) FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep")
EPISODES=$(sqlite3 "$STATE/nmn.db" "SELECT max(j.episodes) FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep")
while :; do
    row=$(sqlite3 "$STATE/nmn.db" "SELECT coalesce(sum(j.episodes_done), 0), sum(j.state = 'done'), sum(j.state = 'failed')
        FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep")
    done_eps=${row%%|*}; rest=${row#*|}; done_jobs=${rest%%|*}; failed=${rest#*|}
    # redraw in place on a terminal, plain lines otherwise
    if [ -t 1 ]; then cr='\r'; nl=''; else cr=''; nl='\n'; fi
    printf "${cr}demo: %5d / %d episodes, %d of %d jobs done$nl" "$done_eps" "$total" "$done_jobs" "$njobs"
    [ "$done_jobs" -ge "$njobs" ] && break
    [ "$failed" -gt 0 ] && { echo; echo "demo: a job failed:"; sqlite3 "$STATE/nmn.db" "SELECT id, error FROM jobs WHERE state = 'failed'"; exit 1; }
    sleep 5
done
[ -t 1 ] && echo
echo
echo "Mean return per episode (running mean over up to 1000 episodes), mean +- std over seeds:"
sqlite3 -header -column "$STATE/nmn.db" "
    SELECT episode + 1 AS episodes,
           printf('%8.0f +- %5.0f', max(CASE WHEN arch = 'nmn' THEN mean END), max(CASE WHEN arch = 'nmn' THEN std END)) AS nmn,
           printf('%8.0f +- %5.0f', max(CASE WHEN arch = 'rnn' THEN mean END), max(CASE WHEN arch = 'rnn' THEN std END)) AS rnn
    FROM curves WHERE sweep_id = $sweep AND (episode + 1) % $(( EPISODES >= 10 ? EPISODES / 10 : 1 )) = 0 GROUP BY episode ORDER BY episode"
echo
echo "Per job (last 100 episodes):"
sqlite3 -header -column "$STATE/nmn.db" "
    SELECT j.arch, j.seed, printf('%.0f', avg(e.return)) AS mean_return_last_100
    FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id JOIN episodes e ON e.job_id = j.id
    WHERE s.sweep_id = $sweep AND e.episode >= j.episodes - 100 GROUP BY j.id ORDER BY j.arch, j.seed"
mkdir -p "$STATE/plots"
name=$(sed -n 's/^name: *//p' "$SWEEP" | head -n 1)
$C plot "$sweep" -o "$STATE/plots/$name.png" && $C plot "$sweep" -o "$STATE/plots/$name.svg"
$C call '{"method":"shutdown"}' >/dev/null
wait "$PID" || true
trap - EXIT INT TERM
echo
echo "demo: done. The results stay in $STATE/nmn.db (plain SQL: sqlite3 $STATE/nmn.db); run it again to reuse them."
