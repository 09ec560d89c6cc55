-- wrk script: replay "<path> <cookie>" lines from $BENCH_REQUESTS, in order, cycling
-- (each connection takes the next line), and print exact percentiles at the end.
-- Bounded by wrk's -d duration (wrk.thread:stop() would not shorten wrk's own sleep).
local reqs, n, i = {}, 0, 0

for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  local path, cookie = line:match("^(%S+)%s+(%S+)$")
  if path then
    n = n + 1
    reqs[n] = wrk.format("GET", path, {["Cookie"] = "carnet=" .. cookie})
  end
end

request = function()
  i = i + 1
  return reqs[((i - 1) % n) + 1]
end

done = function(summary, latency, requests)
  io.write(string.format("PCTL p50=%d p95=%d p99=%d max=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
