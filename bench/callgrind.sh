#!/usr/bin/env bash
# Instructions per proxied request in Conduit's user space, counted by
# callgrind: repeatable on a noisy machine, unlike times. One worker, the
# access log off, a small non-streamed chat completion from wrk; counters
# are zeroed after a warm-up so start-up does not count.
#
#   bench/callgrind.sh [BUILD_DIR]     (default build-bench; needs valgrind, wrk)
#
# Prints requests, total instructions and instructions per request, then the
# top functions by their own instructions.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build-bench}
[ -x "$B/conduit" ] && [ -x "$B/conduit-mock" ] || {
    cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$B" -j"$(nproc)" --target conduit conduit-mock
}
command -v valgrind >/dev/null && command -v wrk >/dev/null ||
    { echo "bench/callgrind.sh: needs valgrind and wrk" >&2; exit 1; }
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
MP=$(port); GP=$(port)
"$B/conduit-mock" --listen "127.0.0.1:$MP" --quiet >/dev/null &
cat >"$T/c.yaml" <<EOF
server: {listen: "127.0.0.1:$GP", workers: 1, access_log: false}
keys: [{name: b, key: "sk-bench"}]
providers: [{name: mock, type: openai, base_url: "http://127.0.0.1:$MP/v1"}]
models: [{name: gpt-4o-mini, provider: mock, model: mock-gpt-4o-mini}]
EOF
valgrind --tool=callgrind --callgrind-out-file="$T/cg.out" "$B/conduit" -c "$T/c.yaml" \
    >"$T/vg.log" 2>&1 &
VG=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$GP/healthz" >/dev/null && break; sleep 0.1; done
wrk -t1 -c16 -d3s -s bench/wrk/chat.lua "http://127.0.0.1:$GP/v1/chat/completions" >/dev/null
callgrind_control -z "$VG" >/dev/null
wrk -t1 -c16 -d10s -s bench/wrk/chat.lua "http://127.0.0.1:$GP/v1/chat/completions" >"$T/wrk.txt"
callgrind_control -d "$VG" >/dev/null
n=$(awk '/requests in/ {print $1}' "$T/wrk.txt")
f=$(ls -t "$T"/cg.out.* | head -1)
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
echo "requests $n  instructions $ir  per request $((ir / n))"
callgrind_annotate --threshold=100 "$f" 2>/dev/null | grep -E '^\s*[0-9,]+ \(' | sed -n '4,18p'
