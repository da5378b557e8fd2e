#!/usr/bin/env bash
# Installs what Conduit needs to build and test on Debian 12, and nothing when
# it is all there already (no apt-get update on a machine that is ready).
#   tools/install-deps.sh          build + run
#   tools/install-deps.sh test     + test tools (Criterion, clang for fuzzing)
#   tools/install-deps.sh bench    + benchmark peers (nginx, wrk)
set -euo pipefail
pkgs=(build-essential cmake pkg-config liburing-dev libbearssl-dev libyaml-dev libsqlite3-dev libpq-dev
    curl ca-certificates)
case "${1:-}" in
test)
    pkgs+=(libcriterion-dev clang libclang-rt-14-dev openssl postgresql sqlite3)
    # the openai SDK tests need Node and npm; keep a newer Node if one is there
    command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
    ;;
bench) pkgs+=(nginx-light wrk python3 sqlite3) ;;
esac
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
