-- wrk script: print latency percentiles wrk's --latency table lacks (p95),
-- in microseconds, on one parseable line. Requests are wrk's default GET.
done = function(summary, latency, requests)
  io.write(string.format("PCTL p50=%d p95=%d p99=%d max=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
