# test_install.sh - `make install PREFIX=... DESTDIR=...` puts the binaries,
# the schema and a filled-in systemd unit where they belong.
. "$(dirname "$0")/tap.sh"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
make -s install PREFIX=/usr DESTDIR="$T" BUILD="$BUILD" >"$T/log" 2>&1
check "make install exits 0" 0 $?
for f in usr/bin/nmnd usr/bin/nmnctl usr/bin/nmn-worker; do
    [ -x "$T/$f" ] && ok "$f installed" || not_ok "$f installed" "$(cat "$T/log")"
done
[ -f "$T/usr/share/nmnfarm/schema/0001_init.sql" ] && ok "schema installed" || not_ok "schema installed"
U="$T/usr/lib/systemd/system/nmnd.service"
check "unit: ExecStart points at the installed nmnd" 'ExecStart=/usr/bin/nmnd --state-dir ${STATE_DIRECTORY}' \
    "$(grep '^ExecStart=' "$U")"
check "unit: Type=notify" "Type=notify" "$(grep '^Type=' "$U")"
grep -q '^StateDirectory=nmnfarm' "$U" && grep -q '^RuntimeDirectory=nmnfarm' "$U" &&
    ok "unit: state and runtime directories" || not_ok "unit: state and runtime directories"
grep -q '@' "$U" && not_ok "unit: no placeholder left" || ok "unit: no placeholder left"
done_testing
