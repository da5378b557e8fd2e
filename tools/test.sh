#!/usr/bin/env bash
# Every test, from a fresh Debian 12 machine: installs what is missing, then
#  1. release build with gcc, -Werror: unit + integration tests (ctest)
#  2. clang build, -Werror (warning-free under both compilers)
#  3. ASan + UBSan build (pool pass-through): unit + integration tests again
#  4. libFuzzer build: a short smoke run of every fuzz target on its corpus
#  5. the official openai SDK (Node) against the gateway and the mock
# Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh test
jobs=$(nproc)
# Each fuzz target runs this long, one after another (17 targets today: about 5 minutes).
FUZZ_SECONDS=${FUZZ_SECONDS:-18}

echo "== gcc release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGW_WERROR=ON >/dev/null
cmake --build build -j"$jobs"
echo "== clang build (warnings are errors)"
CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGW_WERROR=ON >/dev/null
cmake --build build-clang -j"$jobs"
echo "== ASan + UBSan build"
cmake -S . -B build-debug -DCMAKE_BUILD_TYPE=Debug -DGW_SANITIZE=ON -DGW_WERROR=ON >/dev/null
cmake --build build-debug -j"$jobs"
echo "== fuzz build"
CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DGW_FUZZ=ON -DGW_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"

echo "== fuzz smoke runs (${FUZZ_SECONDS}s each)"
mkdir -p build-fuzz/work
for f in build-fuzz/fuzz_*; do
    name=$(basename "$f"); name=${name#fuzz_}
    corpus=tests/fuzz/corpus/$name
    dict=tests/fuzz/$name.dict
    args=(-max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -artifact_prefix=build-fuzz/work/"$name"-)
    [ -f "$dict" ] && args+=(-dict="$dict")
    work=build-fuzz/work/$name; rm -rf "$work"; mkdir -p "$work"
    echo "-- fuzz_$name"
    "$f" "${args[@]}" "$work" "$corpus" 2>&1 | tail -n 3
done

echo "== ASan + UBSan tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-debug --output-on-failure -j1
echo "== openai SDK tests"
(cd tests/sdk && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/sdk && node --test)
echo "== release tests"
ctest --test-dir build --output-on-failure -j1
