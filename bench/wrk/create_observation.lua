-- wrk: POST /fhir/Observation (create): a heart rate of a random preloaded Patient (ids from the file
-- named by UCR_IDS_FILE). Observations are not matched against anything, so this is the cost of a
-- create with its index rows (code, category, status, subject, patient, date, value, composites,
-- compartment) and nothing else.
wrk.method = "POST"
wrk.path = "/fhir/Observation"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"

local ids = {}
local counter = 0

function init(args)
  local path = os.getenv("UCR_IDS_FILE")
  assert(path, "set UCR_IDS_FILE to a file of Patient ids")
  for line in io.lines(path) do
    if #line > 0 then ids[#ids + 1] = line end
  end
  assert(#ids > 0, "no ids in " .. path)
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

request = function()
  counter = counter + 1
  local body = string.format('{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":'
    .. '"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":'
    .. '[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":'
    .. '"Patient/%s"},"effectiveDateTime":"2024-%02d-%02dT10:%02d:00Z","valueQuantity":{"value":%d,"unit":'
    .. '"beats/minute","system":"http://unitsofmeasure.org","code":"/min"}}',
    ids[math.random(#ids)], 1 + counter % 12, 1 + counter % 28, counter % 60, 50 + counter % 70)
  return wrk.format(nil, nil, nil, body)
end
