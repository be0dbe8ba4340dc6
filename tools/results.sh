#!/bin/sh
# results.sh - the tables of docs/results.md, straight from a store: per
# sweep, benchmark and arch, the 1000-episode running mean of the return at a
# quarter, half and all of the training (mean +- std over seeds), the
# episodes trained and the wall time per job.
#   tools/results.sh STATE_DIR SWEEP...   (a sweep id, or a name: its latest sweep)
set -eu
[ $# -ge 2 ] || { echo "usage: $0 STATE_DIR SWEEP..." >&2; exit 1; }
db=$1/nmn.db
shift
[ -r "$db" ] || { echo "results: no store at $db" >&2; exit 1; }
q() { sqlite3 -readonly -separator ' | ' "$db" "$@"; }
for name in "$@"; do
    case "$name" in
    *[!0-9]* | '') sweep=$(q "SELECT id FROM sweeps WHERE name = '$(echo "$name" | sed "s/'/''/g")' ORDER BY id DESC LIMIT 1") ;;
    *) sweep=$(q "SELECT id FROM sweeps WHERE id = $name") ;;
    esac
    [ -n "$sweep" ] || { echo "results: no sweep named '$name' in $db" >&2; exit 1; }
    eps=$(q "SELECT max(j.episodes) FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep")
    echo "Sweep \`$(q "SELECT name FROM sweeps WHERE id = $sweep")\` (store sweep $sweep): running mean of the return over the last 1000 episodes (all of them before episode 1000), and the mean of each job's last 100 episodes; mean +- std over seeds."
    echo
    echo "| benchmark | arch | seeds done | episodes (max) | at $((eps / 4)) | at $((eps / 2)) | at $eps | last 100 | wall time per job |"
    echo "|---|---|---|---|---|---|---|---|---|"
    q "WITH per_job AS (
           SELECT j.id, j.benchmark AS b, j.arch AS a, j.episodes_done AS done, j.state,
                  (SELECT running_mean FROM running_mean m WHERE m.job_id = j.id AND m.episode = $eps / 4 - 1) AS q1,
                  (SELECT running_mean FROM running_mean m WHERE m.job_id = j.id AND m.episode = $eps / 2 - 1) AS q2,
                  (SELECT running_mean FROM running_mean m WHERE m.job_id = j.id AND m.episode = $eps - 1) AS q4,
                  (SELECT avg(return) FROM episodes e WHERE e.job_id = j.id AND j.episodes_done = $eps
                     AND e.episode >= $eps - 100) AS l100,
                  (SELECT sum(julianday(ended_at) - julianday(started_at)) * 86400 FROM attempts t
                    WHERE t.job_id = j.id AND ended_at IS NOT NULL) AS secs
           FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep AND j.episodes_done > 0)
       SELECT '', b, a, sum(state = 'done') || ' of ' || count(*), max(done),
              CASE WHEN count(q1) THEN printf('%.0f +- %.0f', avg(q1), sqrt(max(avg(q1 * q1) - avg(q1) * avg(q1), 0))) ELSE '-' END,
              CASE WHEN count(q2) THEN printf('%.0f +- %.0f', avg(q2), sqrt(max(avg(q2 * q2) - avg(q2) * avg(q2), 0))) ELSE '-' END,
              CASE WHEN count(q4) THEN printf('%.0f +- %.0f', avg(q4), sqrt(max(avg(q4 * q4) - avg(q4) * avg(q4), 0))) ELSE '-' END,
              CASE WHEN count(l100) THEN printf('%.0f +- %.0f', avg(l100), sqrt(max(avg(l100 * l100) - avg(l100) * avg(l100), 0))) ELSE '-' END,
              CASE WHEN count(secs) THEN printf('%.1f min', avg(secs) / 60) ELSE '-' END, ''
       FROM per_job GROUP BY b, a ORDER BY b, a" | sed 's/^ //; s/ $//'
    echo
    echo "Per seed, at the last episode stored:"
    echo
    echo "| benchmark | arch | seed | episodes | running mean | mean of the last 100 episodes |"
    echo "|---|---|---|---|---|---|"
    q "SELECT '', j.benchmark, j.arch, j.seed, j.episodes_done,
              printf('%.0f', (SELECT running_mean FROM running_mean m WHERE m.job_id = j.id AND m.episode = j.episodes_done - 1)),
              printf('%.0f', (SELECT avg(return) FROM episodes e WHERE e.job_id = j.id AND e.episode >= j.episodes_done - 100)), ''
       FROM jobs j JOIN sweep_jobs s ON s.job_id = j.id WHERE s.sweep_id = $sweep
        AND j.episodes_done > 0 ORDER BY j.benchmark, j.arch, j.seed" | sed 's/^ //; s/ $//'
    echo
done
