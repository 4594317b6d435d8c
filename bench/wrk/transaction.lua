-- wrk: POST /fhir with a 20-resource transaction Bundle: one Patient and 19 Observations that
-- reference it by urn:uuid (resolved by the server). Throughput in resources/s is req/s x 20.
-- The Patient is a different (fictional) person each time, as a feed from a hospital would send:
-- every Patient is matched against the stored ones (record linkage), so one identical Patient in
-- every Bundle would measure a growing pile of duplicates rather than a stream of arrivals.
wrk.method = "POST"
wrk.path = "/fhir"
wrk.headers["Content-Type"] = "application/fhir+json"
wrk.headers["Prefer"] = "return=minimal"

local pid = "urn:uuid:9d6f1c52-1111-4c1e-9e0a-000000000000"
local observations = {}
for i = 1, 19 do
  observations[#observations + 1] = string.format('{"fullUrl":"urn:uuid:9d6f1c52-2222-4c1e-9e0a-%012d","resource":'
    .. '{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",'
    .. '"code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"%s"},'
    .. '"effectiveDateTime":"2024-01-01T10:%02d:00Z","valueQuantity":{"value":%d,"unit":"beats/minute",'
    .. '"system":"http://unitsofmeasure.org","code":"/min"}},"request":{"method":"POST","url":"Observation"}}',
    i, pid, i, 60 + i)
end
local tail = table.concat(observations, ",") .. ']}'

local syllables = {"ab", "bel", "car", "dun", "el", "far", "gor", "ham", "ing", "jar", "kel", "lin", "mor", "nor",
                   "os", "per", "ran", "sel", "ton", "wick"}
local givens = {"Alice", "Ben", "Chloe", "Daniel", "Emma", "Finley", "Grace", "Harvey", "Isla", "Jacob", "Kiran",
                "Lily", "Mohammed", "Niamh", "Oscar", "Poppy", "Reuben", "Sofia", "Toby", "Zara"}
local counter = 0
-- Seeded from the clock and an address, so that runs one after another against the same store send
-- different people (an unseeded generator repeats the last run's people, which are then duplicates).
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)

function setup(thread)
  thread:set("base", math.random(1, 1000000000))
end

-- A pseudo-random person from n: 8,000 family names, 20 given names, birth dates over 90 years.
request = function()
  counter = counter + 1
  local n = (base or 0) + counter
  local h = (n * 48271) % 2147483647
  local function pick(m)
    local v = h % m
    h = math.floor(h / m)
    return v
  end
  local family = syllables[pick(20) + 1] .. syllables[pick(20) + 1] .. syllables[pick(20) + 1]
  local given = givens[pick(20) + 1]
  local patient = string.format(
    '{"fullUrl":"%s","resource":{"resourceType":"Patient","name":[{"family":"%s","given":["%s"]}],'
    .. '"gender":"%s","birthDate":"%04d-%02d-%02d"},"request":{"method":"POST","url":"Patient"}}',
    pid, family:sub(1, 1):upper() .. family:sub(2), given, (pick(2) == 0) and "female" or "male",
    1930 + pick(90), pick(12) + 1, (n * 13) % 28 + 1)
  return wrk.format(nil, nil, nil, '{"resourceType":"Bundle","type":"transaction","entry":[' .. patient .. ','
    .. tail)
end
