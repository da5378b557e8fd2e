#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a gateway that answers:
# installs what is missing, builds a release binary, starts the bundled mock
# provider on 127.0.0.1:9001 and Conduit on 127.0.0.1:8000 with the sample
# config (tools/conduit.sample.yaml): the key store is tools/conduit.db
# (SQLite), the admin API is on 127.0.0.1:8001, and this script prints the
# admin master key and a demo virtual key (a $1 monthly budget). No API key
# of any provider is needed. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target conduit conduit-mock conduitctl
export CONDUIT_DEMO_KEY="${CONDUIT_DEMO_KEY:-sk-conduit-demo}"
# The master key: kept in tools/.master-key (mode 0600) so that it survives a restart.
if [ -z "${CONDUIT_MASTER_KEY:-}" ]; then
    if [ ! -s tools/.master-key ]; then
        # head closes the pipe early: tr's SIGPIPE is expected, not a failure
        key=$(LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40 || true)
        (umask 077 && printf '%s' "$key" >tools/.master-key)
    fi
    CONDUIT_MASTER_KEY=$(cat tools/.master-key)
fi
export CONDUIT_MASTER_KEY
export CONDUIT_ADMIN_URL=http://127.0.0.1:8001
./build/conduit-mock --listen 127.0.0.1:9001 --quiet &
mock=$!
./build/conduit -c tools/conduit.sample.yaml &
gw=$!
trap 'kill $gw $mock 2>/dev/null || true; wait $gw 2>/dev/null || true' EXIT INT TERM
for _ in $(seq 100); do
    ./build/conduitctl keys list >/dev/null 2>&1 && break
    kill -0 $gw 2>/dev/null || { echo "conduit did not start" >&2; exit 1; }
    sleep 0.1
done
# A demo virtual key: created once, then given a fresh secret at each start
# (a secret is shown only when it is made).
id=$(./build/conduitctl --json keys list --all | grep -o '"id":"key_[A-Za-z0-9]*","object":"key","name":"demo-virtual"' |
    head -n 1 | sed 's/"id":"\(key_[A-Za-z0-9]*\)".*/\1/' || true)
if [ -n "$id" ]; then
    out=$(./build/conduitctl --json keys rotate "$id")
else
    out=$(./build/conduitctl --json keys create --name demo-virtual --budget 1 --period monthly)
fi
vkey=$(printf '%s' "$out" | grep -o '"key":"condt_[A-Za-z0-9]*"' | sed 's/"key":"\(.*\)"/\1/')
cat >&2 <<EOF

conduit is running on http://127.0.0.1:8000 (admin API on $CONDUIT_ADMIN_URL)
  admin master key:  $CONDUIT_MASTER_KEY   (export CONDUIT_MASTER_KEY=… for build/conduitctl)
  demo virtual key:  $vkey   (\$1 monthly budget)
  static demo key:   $CONDUIT_DEMO_KEY
try:
  curl -s localhost:8000/v1/chat/completions -H 'Authorization: Bearer $vkey' \\
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
  CONDUIT_MASTER_KEY=$CONDUIT_MASTER_KEY build/conduitctl usage --by key

EOF
wait $gw
