-- wrk: POST /fhir with a 20-resource transaction Bundle: one Patient and 19 Observations that
-- reference it by urn:uuid (resolved by the server). Throughput in resources/s is req/s x 20.
wrk.method = "POST"
wrk.path = "/fhir"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"

local entries = {}
local pid = "urn:uuid:9d6f1c52-1111-4c1e-9e0a-000000000000"
entries[1] = '{"fullUrl":"' .. pid .. '","resource":{"resourceType":"Patient","name":[{"family":"Tx","given":["Bundle"]}],'
  .. '"gender":"female","birthDate":"1970-02-03"},"request":{"method":"POST","url":"Patient"}}'
for i = 1, 19 do
  entries[#entries + 1] = string.format('{"fullUrl":"urn:uuid:9d6f1c52-2222-4c1e-9e0a-%012d","resource":'
    .. '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",'
    .. '"code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"%s"},'
    .. '"effectiveDateTime":"2024-01-01T10:%02d:00Z","valueQuantity":{"value":%d,"unit":"beats/minute",'
    .. '"system":"http://unitsofmeasure.org","code":"/min"}},"request":{"method":"POST","url":"Observation"}}',
    i, pid, i, 60 + i)
end
wrk.body = '{"resourceType":"Bundle","type":"transaction","entry":[' .. table.concat(entries, ",") .. ']}'
