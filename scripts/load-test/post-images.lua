-- wrk script: POST image files to /v1/identify, one after another from a list, counting answers by
-- status class per thread (printed by done()).
--   wrk -s post-images.lua URL -- LIST     LIST: a file of image paths, one per line; a line
--   "kind path" sends path's bytes and counts them under kind (good, oversized, truncated, random).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

local bodies = {}
local index = 0

function init(args)
  local list = args[1]
  for line in io.lines(list) do
    local path = line:match("^%S+%s+(.+)$") or line
    local f = assert(io.open(path, "rb"))
    table.insert(bodies, f:read("*a"))
    f:close()
  end
  index = math.random(#bodies) - 1
  s2xx, s4xx, s503, s5xx, other = 0, 0, 0, 0, 0
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", "/v1/identify", { ["Content-Type"] = "application/octet-stream" }, bodies[index])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then s2xx = s2xx + 1
  elseif status == 503 then s503 = s503 + 1
  elseif status >= 500 then s5xx = s5xx + 1
  elseif status >= 400 then s4xx = s4xx + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local t = { s2xx = 0, s4xx = 0, s503 = 0, s5xx = 0, other = 0 }
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + (thread:get(k) or 0) end
  end
  io.write(string.format("STATUS 2xx=%d 4xx=%d 503=%d 5xx_other=%d other=%d\n", t.s2xx, t.s4xx, t.s503, t.s5xx, t.other))
  io.write(string.format("LATENCY p50_ms=%.1f p99_ms=%.1f\n", latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("RATE requests=%d seconds=%.1f errors_connect=%d errors_read=%d errors_write=%d errors_timeout=%d\n",
    summary.requests, summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout))
end
