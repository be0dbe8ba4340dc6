#!/bin/sh
# deps.sh - install the Debian packages nmnfarm needs, only those missing.
# Quiet when nothing is missing; uses apt-get as root (or through sudo).
set -eu

PKGS="build-essential pkg-config libuv1-dev libsqlite3-dev sqlite3 libyaml-dev
libopenblas-pthread-dev libsystemd-dev libjansson-dev libcmocka-dev gnuplot-nox
valgrind clang libclang-rt-dev slurmctld slurmd slurm-client munge procps"

missing=""
for p in $PKGS; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
        *"install ok installed"*) ;;
        *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing packages:$missing; run as root: apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
