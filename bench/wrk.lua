-- wrk script for bench/procs.py: POSTs the JSON bodies of a file (one per line) in turn, counts
-- non-200 answers and GraphQL errors as errors, and prints one JSON summary line at the end.
-- wrk -t T -c C -d Ds -s bench/wrk.lua URL -- BODIES_FILE AUTHORIZATION ACCEPT_ENCODING
-- (a compressed answer's body is not read for errors: only its status counts; the quick check reads them all)
local threads = {}
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  bodies = {}
  for line in io.lines(args[1]) do bodies[#bodies + 1] = line end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[2] and args[2] ~= "" then wrk.headers["Authorization"] = args[2] end
  if args[3] and args[3] ~= "" then wrk.headers["Accept-Encoding"] = args[3] end
  index = offset * 7919
  errors = 0
end

function request()
  index = index + 1
  return wrk.format(nil, nil, nil, bodies[(index % #bodies) + 1])
end

function response(status, headers, body)
  local encoded = headers["content-encoding"] or headers["Content-Encoding"]
  if status ~= 200 or (encoded == nil and string.find(body, '"errors":[{', 1, true)) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local failed = 0
  for _, thread in ipairs(threads) do failed = failed + thread:get("errors") end
  local e = summary.errors
  failed = failed + e.connect + e.read + e.write + e.timeout
  io.write(string.format(
    'WRK-SUMMARY {"requests": %d, "errors": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, failed, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99)))
end
