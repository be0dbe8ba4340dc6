# test_train.sh - `nmn-worker train`: the resolved config and its hash,
# one CSV row per episode, resume that neither loses nor repeats a row, and
# refusals (bad flags, bad config, corrupt checkpoints) that train nothing.
. "$(dirname "$0")/tap.sh"
W=$BUILD/nmn-worker
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
SMALL="--bench 1 --arch rnn --seed 4 --set batch=5 --set policy_steps=2 --set value_epochs=1 --set value_minibatch=5"

"$W" train $SMALL --episodes 20 --csv "$T/straight.csv" >"$T/straight.out" 2>"$T/straight.err"
check "straight run exits 0" 0 $?
grep -q '^config {"bench":"target1d","arch":"rnn","seed":4,"episodes":20,"batch":5,' "$T/straight.out" &&
    ok "prints the resolved config" || not_ok "prints the resolved config" "$(head -n 1 "$T/straight.out")"
grep -Eq '^config_hash [0-9a-f]{16}$' "$T/straight.out" && ok "prints the config hash" || not_ok "prints the config hash"
check "CSV header" "episode,return,hits,bad_hits" "$(head -n 1 "$T/straight.csv")"
check "one CSV row per episode, in order" "$(seq 0 19 | tr '\n' ' ')" \
    "$(tail -n +2 "$T/straight.csv" | cut -d, -f1 | tr '\n' ' ')"
check "a progress line per iteration on stderr" 4 "$(grep -c '^iter ' "$T/straight.err")"
grep -q 'episodes 20/20  mean return' "$T/straight.err" && ok "progress shows episodes done/total" ||
    not_ok "progress shows episodes done/total" "$(tail -n 1 "$T/straight.err")"

# 10 episodes, checkpoint; a stale row past the checkpoint (as after a crash
# between a CSV write and the next checkpoint) must be replaced, not kept
"$W" train $SMALL --episodes 10 --csv "$T/resumed.csv" --checkpoint "$T/job.ckpt" >/dev/null 2>&1
check "first half exits 0" 0 $?
echo "10,123.0,0,0" >>"$T/resumed.csv"
"$W" train $SMALL --episodes 20 --csv "$T/resumed.csv" --resume "$T/job.ckpt" >"$T/resumed.out" 2>"$T/resumed.err"
check "resumed run exits 0" 0 $?
grep -q 'resumed from .* at episode 10 (iteration 2)' "$T/resumed.err" && ok "says where it resumed" ||
    not_ok "says where it resumed" "$(head -n 2 "$T/resumed.err")"
cmp -s "$T/straight.csv" "$T/resumed.csv" && ok "resumed CSV is byte-identical to the straight one" ||
    not_ok "resumed CSV is byte-identical to the straight one" "$(diff "$T/straight.csv" "$T/resumed.csv" | head -n 4)"
check "same final state hash" "$(grep state_hash "$T/straight.out")" "$(grep state_hash "$T/resumed.out")"

# corrupt checkpoints: refused, exit 1, nothing trained
cp "$T/job.ckpt" "$T/bad.ckpt"
printf 'X' | dd of="$T/bad.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$W" train $SMALL --episodes 20 --resume "$T/bad.ckpt" --csv "$T/bad.csv" >"$T/bad.out" 2>"$T/bad.err"
check "corrupt checkpoint: exit 1" 1 $?
grep -q 'checkpoint is corrupted (checksum mismatch)' "$T/bad.err" && ok "corrupt checkpoint: says so" ||
    not_ok "corrupt checkpoint: says so" "$(cat "$T/bad.err")"
grep -q '^iter' "$T/bad.err" && not_ok "corrupt checkpoint: trains nothing" || ok "corrupt checkpoint: trains nothing"
head -c 3000 "$T/job.ckpt" >"$T/short.ckpt"
"$W" train $SMALL --episodes 20 --resume "$T/short.ckpt" >/dev/null 2>"$T/short.err"
check "truncated checkpoint: exit 1" 1 $?
grep -q 'checkpoint is truncated' "$T/short.err" && ok "truncated checkpoint: says so" ||
    not_ok "truncated checkpoint: says so" "$(cat "$T/short.err")"
"$W" train --bench 1 --arch rnn --seed 5 --set batch=5 --episodes 20 --resume "$T/job.ckpt" >/dev/null 2>"$T/other.err"
check "another job's checkpoint: exit 1" 1 $?
grep -q 'belongs to a different job configuration' "$T/other.err" && ok "another job's checkpoint: says so" ||
    not_ok "another job's checkpoint: says so" "$(cat "$T/other.err")"

# bad flags and config values
err() { "$W" train "$@" >/dev/null 2>&1; echo "$?:$("$W" train "$@" 2>&1 >/dev/null | head -n 1)"; }
check "unknown key" "1:nmn-worker train: unknown config key 'policy_l' (nmn-worker train --help lists them)" \
    "$(err --bench 1 --arch nmn --seed 1 --episodes 5 --set policy_l=1)"
check "out of range" "1:nmn-worker train: kl_targ: 0 is out of range [1e-09, 10]" \
    "$(err --bench 1 --arch nmn --seed 1 --episodes 5 --set kl_targ=0)"
check "inconsistent cut" "1:nmn-worker train: train_cut 300 must be at most the episode length 1400 and a multiple of chunk 200" \
    "$(err --bench 1 --arch nmn --seed 1 --episodes 5 --set train_cut=300)"
check "missing seed" "1:nmn-worker train: --seed is required" "$(err --bench 1 --arch nmn --episodes 5)"
echo '{"policy_lr": "fast"}' >"$T/bad.json"
check "bad --config file" "1:nmn-worker train: $T/bad.json: policy_lr: 'fast' is not a number" \
    "$(err --bench 1 --arch nmn --seed 1 --episodes 5 --config "$T/bad.json")"
echo '{"batch": 5, "policy_steps": 2, "value_epochs": 1, "value_minibatch": 5, "arch": "rnn", "seed": 4}' >"$T/ok.json"
"$W" train --bench 1 --episodes 5 --config "$T/ok.json" >"$T/json.out" 2>/dev/null
check "--config file applies" 0 $?
grep -q '"arch":"rnn","seed":4,"episodes":5,"batch":5,"gamma":0.998,"lambda":0.98,"train_cut":0,"chunk":200,"policy_steps":2' "$T/json.out" &&
    ok "--config values in the resolved config" || not_ok "--config values in the resolved config" "$(head -n 1 "$T/json.out")"
done_testing
