-- wrk: POST /fhir/Patient/$match with a different query Patient each time, read from the file named
-- by the environment variable UCR_MATCH_QUERIES: one Parameters resource (or Patient) per line, e.g.
-- the corrupted copies of `ucr match generate --records copies`. Each thread starts at its own line.
wrk.method = "POST"
wrk.path = "/fhir/Patient/$match"
wrk.headers["Content-Type"] = "application/fhir+json"

local bodies = {}
local next_body = 1
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 7919)
end

function init(args)
  local path = os.getenv("UCR_MATCH_QUERIES")
  local f = assert(io.open(path, "r"), "cannot read " .. tostring(path))
  for line in f:lines() do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  f:close()
  assert(#bodies > 0, "no queries in " .. path)
  next_body = ((offset or 0) % #bodies) + 1
end

request = function()
  local body = bodies[next_body]
  next_body = next_body % #bodies + 1
  return wrk.format(nil, nil, nil, body)
end

response = function(status, headers, body)
  if status ~= 200 then
    io.stderr:write("match: status " .. status .. ": " .. body:sub(1, 200) .. "\n")
  end
end
