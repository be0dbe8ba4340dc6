# test_describe.sh - `nmn-worker describe`: parameter counts on its last
# line (science.md sections 3 and 7) and clear errors for bad input.
. "$(dirname "$0")/tap.sh"
W=$BUILD/nmn-worker

last() { "$W" describe "$@" 2>&1 | tail -n 1; }
check "b1 nmn" "actor_params=9592 critic_params=9541" "$(last --bench target1d --arch nmn)"
check "b1 rnn" "actor_params=9302 critic_params=9291" "$(last --bench 1 --arch rnn)"
check "b2 nmn" "actor_params=78547 critic_params=78446" "$(last --bench wind2d --arch nmn)"
check "b2 rnn" "actor_params=76057 critic_params=76046" "$(last --bench 2 --arch rnn)"
check "b3 nmn actor" "actor_params=79207" "$(last --bench twotargets --arch nmn | cut -d' ' -f1)"
check "b3 rnn actor" "actor_params=76657" "$(last --bench 3 --arch rnn | cut -d' ' -f1)"
check "b1 nmn per_layer" "actor_params=9352" \
    "$(last --bench 1 --arch nmn --set z_groups=per_layer | cut -d' ' -f1)"
check "b2 nmn per_layer" "actor_params=76027" \
    "$(last --bench 2 --arch nmn --set z_groups=per_layer | cut -d' ' -f1)"

# bad input: exit status 1 and a message naming what is wrong
err() { "$W" describe "$@" >/dev/null 2>&1; echo "$?:$("$W" describe "$@" 2>&1 >/dev/null | head -n 1)"; }
check "unknown benchmark" "1:nmn-worker describe: bench: 'mountaincar' is not one of target1d|wind2d|twotargets" \
    "$(err --bench mountaincar --arch nmn)"
check "unknown key" "1:nmn-worker describe: unknown config key 'zgroups' (nmn-worker train --help lists them)" \
    "$(err --bench 1 --arch nmn --set zgroups=shared)"
check "out of range" "1:nmn-worker describe: gamma: 1.5 is out of range [0, 1]" \
    "$(err --bench 1 --arch nmn --set gamma=1.5)"
check "malformed number" "1:nmn-worker describe: batch: '5x' is not an integer" \
    "$(err --bench 1 --arch nmn --set batch=5x)"
check "missing arch" "1:nmn-worker describe: --bench and --arch are required" "$(err --bench 1)"
check "missing value" "1:nmn-worker describe: missing value after '--arch'" "$(err --bench 1 --arch)"
done_testing
