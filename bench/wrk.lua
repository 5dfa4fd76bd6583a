-- wrk script used by bench/run.ts for every load. One wrk process per measure.
--
-- Script arguments (after `--`), key=value:
--   mode=get      GET path with `Authorization: Bearer <token>`, tokens read from file=, round-robin
--   mode=post     POST path with bodies read from file= (one JSON body per line), round-robin
--   mode=signup   POST path with a fresh email each request: <prefix>-<thread>-<n>@bench.test,
--                 password=..., extra= is appended inside the JSON object (e.g. ,"name":"x")
--   mode=refresh  POST path {"refresh_token": ...}; refresh tokens from file= form a queue per
--                 thread, each 200 answer's refresh_token goes back into the queue, so every
--                 request presents a fresh (never used) token. Needs >= connections tokens.
--   mode=plain    the request given on the wrk command line (e.g. GET /healthz)
--   path=/x       request path (default: the URL's path)
--   threads=N     wrk -t value (tokens/bodies are split between threads)
--   count=1       count answers per HTTP status (costs client CPU: parses every response)
--   json=1        send Content-Type: application/json
--
-- done() prints one line `BENCHJSON {...}` that run.ts parses.
-- A paced variant (bench/out/wrk-paced.lua) is this file plus `function delay() return N end`.

local threads = {}
local nsetup = 0

function setup(thread)
  thread:set("tid", nsetup)
  nsetup = nsetup + 1
  table.insert(threads, thread)
end

statuses = {}
lost = 0
starved = 0

local gen = nil

local function parse_args(args)
  local o = {}
  for _, a in ipairs(args) do
    local k, v = a:match("^([%w_]+)=(.*)$")
    if k then o[k] = v end
  end
  return o
end

local function read_lines(path, my, n)
  local t, i = {}, 0
  for line in io.lines(path) do
    if line ~= "" then
      if i % n == my then t[#t + 1] = line end
      i = i + 1
    end
  end
  return t
end

local function count_response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local queue, qhead, qtail = {}, 1, 0

local function refresh_response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local rt = nil
  if status == 200 and body then rt = body:match('"refresh_token"%s*:%s*"([^"]+)"') end
  if rt then
    qtail = qtail + 1
    queue[qtail] = rt
  else
    lost = lost + 1
  end
end

function init(args)
  local o = parse_args(args)
  local n = tonumber(o.threads or "1")
  local my = tid or 0
  local path = o.path or wrk.path
  local mode = o.mode or "plain"
  if o.json == "1" then wrk.headers["Content-Type"] = "application/json" end
  response = nil
  if o.count == "1" then response = count_response end

  if mode == "get" or mode == "post" then
    local lines = read_lines(o.file, my, n)
    if #lines == 0 then error("no lines for thread " .. my .. " in " .. tostring(o.file)) end
    local reqs = {}
    for i, line in ipairs(lines) do
      if mode == "get" then
        reqs[i] = wrk.format("GET", path, { ["Authorization"] = "Bearer " .. line })
      else
        reqs[i] = wrk.format("POST", path, nil, line)
      end
    end
    local k, total = 0, #reqs
    gen = function()
      k = k % total + 1
      return reqs[k]
    end
  elseif mode == "signup" then
    local k = 0
    local prefix, password, extra = o.prefix or "s", o.password or "bench-password-1", o.extra or ""
    gen = function()
      k = k + 1
      return wrk.format("POST", path, nil,
        string.format('{"email":"%s-%d-%d@bench.test","password":"%s"%s}', prefix, my, k, password, extra))
    end
  elseif mode == "refresh" then
    for _, line in ipairs(read_lines(o.file, my, n)) do
      qtail = qtail + 1
      queue[qtail] = line
    end
    response = refresh_response
    gen = function()
      local tok
      if qhead <= qtail then
        tok = queue[qhead]
        queue[qhead] = nil
        qhead = qhead + 1
      else
        tok = "rt_starved"
        starved = starved + 1
      end
      return wrk.format("POST", path, nil, '{"refresh_token":"' .. tok .. '"}')
    end
  else
    local req = wrk.format(nil, path)
    gen = function() return req end
  end
end

function request()
  return gen()
end

function done(summary, latency, requests)
  local st, lost_total, starved_total = {}, 0, 0
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do st[k] = (st[k] or 0) + v end
    end
    lost_total = lost_total + (t:get("lost") or 0)
    starved_total = starved_total + (t:get("starved") or 0)
  end
  local parts = {}
  for k, v in pairs(st) do parts[#parts + 1] = string.format('"%s":%d', tostring(k), v) end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"mean":%.1f},' ..
    '"statuses":{%s},"lost":%d,"starved":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ","), lost_total, starved_total))
end
