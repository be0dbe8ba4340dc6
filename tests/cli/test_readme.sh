# test_readme.sh - the README documents what the code does: every config key
# of the table, the two setup commands, and describe's output format.
. "$(dirname "$0")/tap.sh"
W=$BUILD/nmn-worker

"$W" describe --help | sed -n '/config keys/,$p' | tail -n +2 >"${TMPDIR:-/tmp}/keys.$$"
missing=""
while IFS= read -r line; do
    grep -qxF -- "$line" README.md || missing="$missing $(echo "$line" | awk '{print $1}')"
done <"${TMPDIR:-/tmp}/keys.$$"
rm -f "${TMPDIR:-/tmp}/keys.$$"
check "README config table matches the code" "" "$missing"
grep -q '^    make demo' README.md && ok "README shows make demo" || not_ok "README shows make demo"
grep -q '^    make test' README.md && ok "README shows make test" || not_ok "README shows make test"
done_testing
