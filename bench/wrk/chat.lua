-- S1 with a standard tool: small non-streamed chat completions, closed loop.
--
--   wrk -t1 -c64 -d10s -s bench/wrk/chat.lua http://127.0.0.1:PORT/v1/chat/completions
--
-- Environment (all optional):
--   BENCH_KEY    the key sent as "Authorization: Bearer KEY" (default sk-bench,
--                the key bench/run configures; the mock ignores it)
--   BENCH_MODEL  the model asked for (default gpt-4o-mini)
--
-- Besides wrk's own report it prints one line "wrk-json {...}" with the
-- request rate, latency percentiles in microseconds and error counts, which
-- bench/run keeps next to the load generator's results. Responses other than
-- 2xx are counted by wrk as "Non-2xx or 3xx responses" and appear under
-- errors.status: a run with a wrong key or model measures error pages, so
-- check that it is zero.

local key = os.getenv("BENCH_KEY") or "sk-bench"
local model = os.getenv("BENCH_MODEL") or "gpt-4o-mini"

wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Hello"}]}'

function done(summary, latency, requests)
    local secs = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        'wrk-json {"requests":%d,"duration_s":%.3f,"rps":%.1f,' ..
        '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,' ..
        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50), latency:percentile(90), latency:percentile(99),
        latency:percentile(99.9), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
