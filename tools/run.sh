#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a gateway that answers:
# installs what is missing, builds a release binary, starts the bundled mock
# provider on 127.0.0.1:9001 and Conduit on 127.0.0.1:8000 with the sample
# config (tools/conduit.sample.yaml). No API key of any provider is needed.
# Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target conduit conduit-mock
export CONDUIT_DEMO_KEY="${CONDUIT_DEMO_KEY:-sk-conduit-demo}"
./build/conduit-mock --listen 127.0.0.1:9001 --quiet &
mock=$!
trap 'kill $mock 2>/dev/null || true' EXIT
echo "conduit: try  curl -s localhost:8000/v1/chat/completions -H 'Authorization: Bearer $CONDUIT_DEMO_KEY' -d '{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'" >&2
./build/conduit -c tools/conduit.sample.yaml
