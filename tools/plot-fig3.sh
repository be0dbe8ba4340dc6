#!/bin/sh
# plot-fig3.sh - the paper's Figure 3 from `nmn-worker eval --record-z --out
# EVAL.csv`: z_t over an episode for the three z units that vary most
# across episodes late in the episode, one line per episode coloured by the
# task (alpha), and the mean reward per step over all episodes.
#   tools/plot-fig3.sh EVAL.csv OUT.png|OUT.svg [EPISODES_SHOWN]
set -eu
[ $# -ge 2 ] || { echo "usage: $0 EVAL.csv OUT.png|OUT.svg [EPISODES_SHOWN (default 60)]" >&2; exit 1; }
csv=$1 out=$2 shown=${3:-60}
case "$out" in
*.png) term="pngcairo size 1000,720" ;;
*.svg) term="svg size 1000,720 dynamic" ;;
*) echo "plot-fig3: $out: the output must end in .png or .svg" >&2; exit 1 ;;
esac
case "$shown" in '' | *[!0-9]* | 0) echo "plot-fig3: EPISODES_SHOWN '$shown' is not a positive integer" >&2; exit 1 ;; esac
[ -r "$csv" ] || { echo "plot-fig3: cannot read $csv" >&2; exit 1; }
head -n 1 "$csv" | grep -q '^episode,t,[a-z_]*,reward,z0' ||
    { echo "plot-fig3: $csv has no z columns (run nmn-worker eval with --record-z)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "plot-fig3: gnuplot is not installed (make deps)" >&2; exit 2; }
task=$(head -n 1 "$csv" | cut -d, -f3)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# episodes and steps; the three z units with the largest variance over the
# last tenth of the steps
awk -F, 'NR > 1 { if ($2 + 0 > T) T = $2 + 0; if ($1 + 0 > E) E = $1 + 0 } END { print E + 1, T + 1 }' "$csv" >"$tmp/size"
read -r N T <"$tmp/size"
awk -F, -v T="$T" 'NR > 1 && $2 >= 0.9 * T { n++; for (i = 5; i <= NF; i++) { s[i] += $i; q[i] += $i * $i } }
    END { for (i in s) printf "%d %.12g\n", i, q[i] / n - (s[i] / n) ^ 2 }' "$csv" | sort -k2 -g -r | head -n 3 |
    cut -d' ' -f1 >"$tmp/cols"
set -- $(cat "$tmp/cols")
stride=$(( N > shown ? N / shown : 1 ))
awk -F, -v s="$stride" -v a="$1" -v b="$2" -v c="$3" 'NR > 1 && $1 % s == 0 {
    if ($1 != last && NR > 2) print ""; last = $1; print $2, $3, $a, $b, $c }' "$csv" >"$tmp/z"
awk -F, 'NR > 1 { r[$2] += $4; n[$2]++ } END { for (t in r) print t, r[t] / n[t] }' "$csv" | sort -n >"$tmp/r"

gnuplot <<GP
set terminal $term
set output '$out'
set multiplot layout 2,2 title "Figure 3: a trained agent, $N evaluation episodes ($(( (N + stride - 1) / stride )) drawn)"
set palette defined (0 '#2c7bb6', 0.5 '#ffffbf', 1 '#d7191c')
set cblabel '$task'
set xlabel 't'
set grid
unset key
set title 'z unit $(($1 - 5))'
plot '$tmp/z' using 1:3:2 with lines lc palette lw 0.8
set title 'z unit $(($2 - 5))'
plot '$tmp/z' using 1:4:2 with lines lc palette lw 0.8
set title 'z unit $(($3 - 5))'
plot '$tmp/z' using 1:5:2 with lines lc palette lw 0.8
set title 'mean reward per step'
unset colorbox
plot '$tmp/r' using 1:2 with lines lw 1.5 lc rgb '#333333'
unset multiplot
GP
echo "wrote $out"
