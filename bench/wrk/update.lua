-- wrk: PUT /fhir/Patient/{id} with If-Match, on ids from UCR_IDS_FILE (all at version 1 at the start).
-- Each wrk thread owns a disjoint slice of the ids and cycles through it; the version of each id is
-- learnt from the response's Location header (.../_history/N), so If-Match is always the current version unless
-- an id comes round again before its previous update was answered (impossible while the slice is
-- larger than the number of connections). Non-2xx answers (412) are reported by wrk.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local ids, versions, next_i = {}, {}, 1

function init(args)
  local path = os.getenv("UCR_IDS_FILE")
  assert(path, "set UCR_IDS_FILE to a file of Patient ids")
  local nthreads = tonumber(os.getenv("UCR_WRK_THREADS") or "2")
  local n = 0
  for line in io.lines(path) do
    if #line > 0 then
      if n % nthreads == tid then
        ids[#ids + 1] = line
        versions[line] = 1
      end
      n = n + 1
    end
  end
  assert(#ids > 0, "no ids for thread " .. tostring(tid))
end

function request()
  local id = ids[next_i]
  next_i = next_i % #ids + 1
  local body = '{"resourceType":"Patient","id":"' .. id .. '","name":[{"family":"Updated","given":["Wrk"]}],'
    .. '"gender":"male","birthDate":"1980-01-01"}'
  local headers = { ["Content-Type"] = "application/fhir+json", ["Prefer"] = "return=minimal",
    ["If-Match"] = 'W/"' .. versions[id] .. '"' }
  for name, value in pairs(wrk.headers) do
    if headers[name] == nil then headers[name] = value end  -- e.g. Authorization from wrk -H
  end
  return wrk.format("PUT", "/fhir/Patient/" .. id, headers, body)
end

function response(status, headers, body)
  local loc = headers["Location"] or headers["location"]
  if loc then
    local id, v = loc:match("/Patient/([^/]+)/_history/(%d+)$")
    if id and versions[id] then versions[id] = tonumber(v) end
  end
end

function done(summary, latency, requests)
  io.write(string.format("update: %d non-2xx answers\n", summary.errors.status or 0))
end
