# test_nmnd_ops.sh - nmnd's operations: sd_notify READY/STATUS on a fake
# NOTIFY_SOCKET, SIGHUP reopening the log, pause/resume, cancel (running and
# queued), retry, and a job that keeps failing stopping at --max-attempts.
. "$(dirname "$0")/../cli/tap.sh"
D=${NMND:-$BUILD/nmnd}
C=$BUILD/nmnctl
T=$(mktemp -d)
PID=
LPID=
cleanup() { [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null; [ -n "$LPID" ] && kill "$LPID" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
call() { "$C" --state-dir "$T/state" call "$1"; }
sql() { sqlite3 "$T/state/nmn.db" "$1"; }
until_sql() { # until_sql SQL VALUE: poll up to 120 s
    for _ in $(seq 1200); do
        [ "$(sql "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    return 1
}
start() {
    "$D" --state-dir "$T/state" --workers 1 --checkpoint-every 1 --log "$T/nmnd.log" "$@" &
    PID=$!
    for _ in $(seq 100); do
        call '{"method":"status"}' >/dev/null 2>&1 && return 0
        sleep 0.05
    done
    return 1
}
JOB='"bench":"target1d","episodes":200,"batch":10,"policy_steps":3,"value_epochs":2,"value_minibatch":5'

"$BUILD/tests/notify-listen" "$T/notify.sock" 60 >"$T/notify.out" &
LPID=$!
sleep 0.2
NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=2000000 start --log-level debug && ok "nmnd starts with a log file" ||
    not_ok "nmnd starts with a log file"
sleep 1.5
grep -qx 'READY=1' "$T/notify.out" && ok "sd_notify: READY=1" || not_ok "sd_notify: READY=1" "$(cat "$T/notify.out")"
grep -qx 'STATUS=running 0, queued 0, done 0, failed 0' "$T/notify.out" && ok "sd_notify: STATUS= summary" ||
    not_ok "sd_notify: STATUS= summary" "$(cat "$T/notify.out")"

grep -qx 'WATCHDOG=1' "$T/notify.out" && ok "sd_notify: WATCHDOG=1 when WatchdogSec is set" ||
    not_ok "sd_notify: WATCHDOG=1 when WatchdogSec is set" "$(cat "$T/notify.out")"
"$D" --state-dir "$T/other" --log-level loud 2>"$T/lvl.err"
check "a bad --log-level is refused" "1:nmnd: --log-level: 'loud' is not error|warn|info|debug" "$?:$(cat "$T/lvl.err")"
mv "$T/nmnd.log" "$T/nmnd.log.1"
kill -HUP "$PID"
sleep 0.5
grep -q 'SIGHUP: log reopened' "$T/nmnd.log" 2>/dev/null && ok "SIGHUP reopens the log file" ||
    not_ok "SIGHUP reopens the log file" "$(ls "$T")"

check "pause" '{"ok":true}' "$(call '{"method":"pause"}')"
call "{\"method\":\"submit\",\"name\":\"ops\",\"jobs\":[{$JOB,\"seed\":1},{$JOB,\"seed\":2}]}" >/dev/null
sleep 1.5
check "paused: nothing starts" "queued|2" "$(sql "SELECT state, count(*) FROM jobs GROUP BY state")"
grep -q 'STATUS=running 0, queued 2, done 0, failed 0 (paused)' "$T/notify.out" && ok "STATUS says paused" ||
    not_ok "STATUS says paused" "$(tail -n 3 "$T/notify.out")"
check "resume" '{"ok":true}' "$(call '{"method":"resume"}')"
until_sql "SELECT state FROM jobs WHERE id = 1" running && ok "resumed: job 1 runs" || not_ok "resumed: job 1 runs"
check "one worker: job 2 waits" queued "$(sql "SELECT state FROM jobs WHERE id = 2")"
check "cancel a running job" '{"ok":true,"jobs":1,"changed":1}' "$(call '{"method":"cancel","job":1}')"
until_sql "SELECT state FROM jobs WHERE id = 1" cancelled && ok "... it stops at its iteration boundary" ||
    not_ok "... it stops at its iteration boundary"
check "cancel the sweep: the queued one too" cancelled "$(call '{"method":"cancel","sweep":1}' >/dev/null; sleep 1; sql "SELECT state FROM jobs WHERE id = 2")"
check "retry job 1" '{"ok":true,"jobs":1,"changed":1}' "$(call '{"method":"retry","job":1}')"
until_sql "SELECT state FROM jobs WHERE id = 1" done && ok "the retried job finishes" || not_ok "the retried job finishes"
check "... with every episode once" "200|200" "$(sql "SELECT count(*), count(DISTINCT episode) FROM episodes WHERE job_id = 1")"
grep -q 'debug: job 1: iteration 19, 10 new episode rows' "$T/nmnd.log" && ok "--log-level debug logs every iteration" ||
    not_ok "--log-level debug logs every iteration"

# a job whose checkpoint is corrupted fails on every attempt: after
# --max-attempts it stays failed, with the reason; the daemon goes on
call '{"method":"retry","job":2}' >/dev/null
until_sql "SELECT checkpoint_path IS NOT NULL FROM jobs WHERE id = 2" 1
kill -TERM "$PID"
wait "$PID"
PID=
ck=$(sql "SELECT checkpoint_path FROM jobs WHERE id = 2")
printf 'garbage' | dd of="$ck" bs=1 seek=100 conv=notrunc 2>/dev/null
start --max-attempts 3
until_sql "SELECT state FROM jobs WHERE id = 2" failed && ok "the corrupted job ends failed" || not_ok "the corrupted job ends failed"
check "after 3 attempts" 3 "$(sql "SELECT attempts FROM jobs WHERE id = 2")"
sql "SELECT error FROM jobs WHERE id = 2" | grep -q 'checkpoint is corrupted (checksum mismatch)' &&
    ok "its error names the cause" || not_ok "its error names the cause" "$(sql "SELECT error FROM jobs WHERE id = 2")"
case "$(call '{"method":"status"}')" in *'"failed":1'*) ok "the daemon goes on" ;; *) not_ok "the daemon goes on" ;; esac
call '{"method":"shutdown"}' >/dev/null
wait "$PID"
check "clean exit" 0 $?
PID=
done_testing
