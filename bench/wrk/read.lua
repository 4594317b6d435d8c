-- wrk: GET /fhir/Patient/{id} for random ids from the file named by UCR_IDS_FILE (one id a line).
local ids = {}

local function load_ids()
  local path = os.getenv("UCR_IDS_FILE")
  assert(path, "set UCR_IDS_FILE to a file of Patient ids")
  for line in io.lines(path) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  assert(#ids > 0, "no ids in " .. path)
end

function init(args)
  load_ids()
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  return wrk.format("GET", "/fhir/Patient/" .. ids[math.random(#ids)])
end
