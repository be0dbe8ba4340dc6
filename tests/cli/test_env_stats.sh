# test_env_stats.sh - `nmn-worker env-stats`: its last line, results that do
# not depend on the batch size, seeds that matter, and clear errors.
. "$(dirname "$0")/tap.sh"
W=$BUILD/nmn-worker

last() { "$W" env-stats "$@" 2>&1 | tail -n 1; }
for b in target1d wind2d twotargets; do
    for p in zero gauss; do
        l=$(last --bench $b --policy $p --episodes 60 --seed 3)
        if echo "$l" | grep -Eq '^return_mean=-?[0-9]+\.[0-9]+ return_sem=[0-9]+\.[0-9]+ hits_mean=[0-9]+\.[0-9]+ bad_hits_mean=[0-9]+\.[0-9]+ episodes=60$'; then
            ok "$b $p: last line format"
        else
            not_ok "$b $p: last line format" "got: $l"
        fi
        check "$b $p: batch 7 gives the same episodes as batch 50" "$l" \
            "$(last --bench $b --policy $p --episodes 60 --seed 3 --batch 7)"
    done
done
a=$(last --bench 1 --policy gauss --episodes 20 --seed 1)
b=$(last --bench 1 --policy gauss --episodes 20 --seed 2)
[ "$a" != "$b" ] && ok "different seeds differ" || not_ok "different seeds differ" "both: $a"
# bad_hits only on twotargets; a random policy there hits both targets
case "$(last --bench 2 --policy gauss --episodes 20 --seed 1)" in
*bad_hits_mean=0.000000*) ok "wind2d has no bad hits" ;;
*) not_ok "wind2d has no bad hits" ;;
esac
case "$(last --bench 3 --policy gauss --episodes 20 --seed 1)" in
*bad_hits_mean=0.000000*) not_ok "twotargets counts bad hits" ;;
*) ok "twotargets counts bad hits" ;;
esac

err() { "$W" env-stats "$@" >/dev/null 2>&1; echo "$?:$("$W" env-stats "$@" 2>&1 >/dev/null | head -n 1)"; }
check "unknown benchmark" "1:nmn-worker env-stats: --bench: unknown benchmark 'cartpole' (target1d|wind2d|twotargets or 1|2|3)" \
    "$(err --bench cartpole --policy zero --episodes 5 --seed 1)"
check "unknown policy" "1:nmn-worker env-stats: --policy: 'random' is not zero|gauss" \
    "$(err --bench 1 --policy random --episodes 5 --seed 1)"
check "zero episodes" "1:nmn-worker env-stats: --episodes: 0 is out of range [1, 100000000]" \
    "$(err --bench 1 --policy zero --episodes 0 --seed 1)"
check "negative episodes" "1:nmn-worker env-stats: --episodes: -3 is out of range [1, 100000000]" \
    "$(err --bench 1 --policy zero --episodes -3 --seed 1)"
check "malformed number" "1:nmn-worker env-stats: --seed: '1e3' is not an integer" \
    "$(err --bench 1 --policy zero --episodes 5 --seed 1e3)"
check "missing flag" "1:nmn-worker env-stats: --bench, --policy, --episodes and --seed are required" \
    "$(err --bench 1 --policy zero --episodes 5)"
done_testing
