#!/bin/sh
# plot-compare.sh - running-mean curves (1000 episodes, mean +- std over
# seeds) of several (sweep, arch) pairs of one store in one panel, e.g. the
# two versions of the reference side by side:
#   tools/plot-compare.sh OUT.png|OUT.svg STATE_DIR SWEEP:ARCH:LABEL...
set -eu
[ $# -ge 3 ] || { echo "usage: $0 OUT.png|OUT.svg STATE_DIR SWEEP:ARCH:LABEL..." >&2; exit 1; }
out=$1 state=$2
shift 2
case "$out" in
*.png) term="pngcairo size 720,460" ;;
*.svg) term="svg size 720,460 dynamic" ;;
*) echo "plot-compare: $out: the output must end in .png or .svg" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
plot="" i=0
colors="#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e"
for spec in "$@"; do
    sweep=${spec%%:*} rest=${spec#*:}
    arch=${rest%%:*} label=${rest#*:}
    i=$((i + 1))
    "${BUILD:-build}/nmnctl" --state-dir "$state" curves "$sweep" --csv "$tmp/all.csv" >/dev/null
    awk -F, -v a="$arch" 'NR > 1 && $2 == a { print $3, $4, $5 }' "$tmp/all.csv" >"$tmp/$i"
    [ -s "$tmp/$i" ] || { echo "plot-compare: sweep $sweep has no $arch curve" >&2; exit 1; }
    c=$(echo "$colors" | cut -d' ' -f$(((i - 1) % 5 + 1)))
    plot="$plot${plot:+, }'$tmp/$i' using 1:(\$2-\$3):(\$2+\$3) with filledcurves lc rgb '$c' notitle, '$tmp/$i' using 1:2 with lines lw 2 lc rgb '$c' title '$label'"
done
gnuplot <<GP
set terminal $term
set output '$out'
set title 'running mean return (1000 episodes), mean +- std over seeds'
set xlabel 'episode'
set ylabel 'return'
set key bottom right
set grid
set rmargin 5
set style fill transparent solid 0.2 noborder
plot $plot
GP
echo "wrote $out"
