# test_eval.sh - `nmn-worker eval`, the Figure 3 recorder: one row per
# (episode, step) with k z-values for an nmn agent, rewards that add up to
# the printed returns, draws that do not depend on the batch split, and
# refusals that name the problem.
. "$(dirname "$0")/tap.sh"
W=$BUILD/nmn-worker
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SMALL="--bench 1 --seed 3 --episodes 10 --set batch=5 --set policy_steps=2 --set value_epochs=1 --set value_minibatch=5"
"$W" train $SMALL --arch nmn --checkpoint "$T/nmn.ckpt" >/dev/null 2>&1
check "train an nmn agent" 0 $?
"$W" train $SMALL --arch rnn --checkpoint "$T/rnn.ckpt" >/dev/null 2>&1
check "train an rnn agent" 0 $?
k=20 # science.md section 3: benchmark 1's z has width 20

"$W" eval --checkpoint "$T/nmn.ckpt" --episodes 3 --record-z --out "$T/z.csv" >"$T/out" 2>"$T/err"
check "eval exits 0" 0 $?
hdr="episode,t,alpha,reward"
for j in $(seq 0 $((k - 1))); do hdr="$hdr,z$j"; done
check "header: episode,t,alpha,reward,z0..z19" "$hdr" "$(head -n 1 "$T/z.csv")"
check "one row per (episode, step): 3 x 1400" 4200 "$(tail -n +2 "$T/z.csv" | wc -l)"
check "every row has 4 + k fields" "$((4 + k))" "$(tail -n +2 "$T/z.csv" | awk -F, '{print NF}' | sort -u)"
check "episodes 0..2, steps 0..1399 in order" "ok" "$(tail -n +2 "$T/z.csv" | awk -F, '
    $1 != int((NR - 1) / 1400) || $2 != (NR - 1) % 1400 { bad = 1 } END { print bad ? "bad at " NR : "ok" }')"
check "alpha constant per episode, in [-10, 10]" 3 "$(tail -n +2 "$T/z.csv" | awk -F, '$3 < -10 || $3 > 10 { print "out" }
    { print $1, $3 }' | sort -u | wc -l)"
check "z_t >= 0 (relu) and not all zero" "ok" "$(tail -n +2 "$T/z.csv" | awk -F, '
    { for (i = 5; i <= NF; i++) { if ($i < 0) neg = 1; if ($i > 0) pos = 1 } } END { print neg || !pos ? "bad" : "ok" }')"
mean=$(sed -n 's/^mean_return \([-0-9.]*\) .*/\1/p' "$T/out")
check "rewards sum to the printed mean return (to 0.1)" ok "$(tail -n +2 "$T/z.csv" | awk -F, -v m="$mean" '
    { s += $4 } END { d = s / 3 - m; print ((d < 0.1 && d > -0.1) ? "ok" : s / 3 " vs " m) }')"
grep -Eq '^r2 t=5 [-0-9.]+ \(linear fit of alpha on z_t, 3 episodes, k=20\)$' "$T/out" &&
    grep -Eq '^r2 t=1000 ' "$T/out" && ok "reports R^2 at t=5 and t=1000" || not_ok "reports R^2 at t=5 and t=1000" "$(cat "$T/out")"

# tasks and noise come from per-episode streams: a batch of 2 draws the same
# episodes (the rewards agree up to GEMM rounding)
"$W" eval --checkpoint "$T/nmn.ckpt" --episodes 3 --batch 2 --out "$T/b2.csv" >/dev/null 2>&1
check "batch 2: same tasks" "$(cut -d, -f1-3 "$T/z.csv")" "$(cut -d, -f1-3 "$T/b2.csv")"
check "batch 2: same rewards (to 1e-3)" 0 "$(paste -d, "$T/z.csv" "$T/b2.csv" | tail -n +2 | awk -F, -v n=$((4 + k)) '
    { d = $4 - $(n + 4); if (d > 1e-3 || d < -1e-3) bad++ } END { print bad + 0 }')"
"$W" eval --checkpoint "$T/rnn.ckpt" --episodes 2 --out "$T/rnn.csv" >/dev/null 2>&1
check "rnn agent without z: exits 0" 0 $?
check "rnn rows have 4 fields" 4 "$(tail -n +2 "$T/rnn.csv" | awk -F, '{print NF}' | sort -u)"

./tools/plot-fig3.sh "$T/z.csv" "$T/fig3.png" >/dev/null 2>&1
check "plot-fig3 writes a PNG" "PNG" "$(head -c 4 "$T/fig3.png" 2>/dev/null | tail -c 3)"
./tools/plot-fig3.sh "$T/rnn.csv" "$T/no.png" 2>"$T/e"
check "plot-fig3 refuses rows without z" "1 plot-fig3: $T/rnn.csv has no z columns (run nmn-worker eval with --record-z)" "$? $(cat "$T/e")"

refuse() { # name, expected stderr fragment, args...
    name=$1 want=$2
    shift 2
    "$W" eval "$@" >/dev/null 2>"$T/e"
    rc=$?
    if [ $rc -eq 1 ] && grep -qF -- "$want" "$T/e"; then ok "$name"; else not_ok "$name" "rc $rc: $(cat "$T/e")"; fi
}
refuse "z of an rnn is refused" "need an nmn agent" --checkpoint "$T/rnn.ckpt" --record-z
refuse "a step past the episode is refused" "--r2-at: '5,1400' must be" --checkpoint "$T/nmn.ckpt" --r2-at 5,1400
refuse "a bad policy is refused" "--policy: 'greedy' is not mean or sample" --checkpoint "$T/nmn.ckpt" --policy greedy
refuse "no checkpoint is refused" "--checkpoint is required" --episodes 3
head -c 1000 "$T/nmn.ckpt" >"$T/short.ckpt"
refuse "a truncated checkpoint is refused" "checkpoint is truncated" --checkpoint "$T/short.ckpt"
refuse "an unknown flag is refused" "unknown argument '--steps'" --checkpoint "$T/nmn.ckpt" --steps 3
done_testing
